"""Operations-centre feed: webhooks, the event outbox and deliveries, site emergency mode.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29

Events are stored (`feed_events`) with one `webhook_deliveries` row per webhook before
anything is sent, so delivery is at-least-once and survives a restart; a delivery that
failed its last try stays as a dead letter. `site_emergencies` keeps a site in emergency
mode across restarts and remembers which missions it took off their robots.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON(none_as_null=False).with_variant(
        postgresql.JSONB(none_as_null=False), "postgresql"
    )


def _time(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    referred = target.split(".")[0]
    return sa.ForeignKeyConstraint(
        [column], [target], name=op.f(f"fk_{table}_{column}_{referred}"), ondelete="CASCADE"
    )


def upgrade() -> None:
    """Create the four tables."""
    op.create_table(
        "webhooks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("secret", sa.String(128), nullable=False),
        sa.Column("event_types", _json(), nullable=False),
        sa.Column("site_id", sa.String(64), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=True),
        _time("created_at"),
        _time("updated_at"),
        _time("last_success_at", nullable=True),
        _time("last_failure_at", nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        _fk("webhooks", "site_id", "sites.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhooks")),
        sa.UniqueConstraint("name", name=op.f("uq_webhooks_name")),
    )
    op.create_table(
        "feed_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("site_id", sa.String(64), nullable=True),
        _time("occurred_at"),
        sa.Column("data", _json(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_events")),
    )
    op.create_index("ix_feed_events_occurred_at", "feed_events", ["occurred_at"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("webhook_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _time("next_attempt_at"),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        _time("created_at"),
        _time("finished_at", nullable=True),
        sa.CheckConstraint(
            "state IN ('pending', 'delivered', 'dead')", name=op.f("ck_webhook_deliveries_state")
        ),
        _fk("webhook_deliveries", "webhook_id", "webhooks.id"),
        _fk("webhook_deliveries", "event_id", "feed_events.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
    )
    op.create_index(op.f("ix_webhook_deliveries_event_id"), "webhook_deliveries", ["event_id"])
    op.create_index(
        "ix_webhook_deliveries_state_next_attempt_at",
        "webhook_deliveries",
        ["state", "next_attempt_at"],
    )
    op.create_index(
        "ix_webhook_deliveries_webhook_id_state", "webhook_deliveries", ["webhook_id", "state"]
    )
    op.create_table(
        "site_emergencies",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        _time("started_at"),
        sa.Column("started_by", sa.String(100), nullable=False),
        _time("cleared_at", nullable=True),
        sa.Column("cleared_by", sa.String(100), nullable=True),
        sa.Column("suspended_missions", _json(), nullable=False),
        _fk("site_emergencies", "site_id", "sites.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site_emergencies")),
    )
    op.create_index(
        "ix_site_emergencies_site_id_cleared_at", "site_emergencies", ["site_id", "cleared_at"]
    )


def downgrade() -> None:
    """Drop them again."""
    op.drop_index("ix_site_emergencies_site_id_cleared_at", table_name="site_emergencies")
    op.drop_table("site_emergencies")
    for name in (
        "ix_webhook_deliveries_webhook_id_state",
        "ix_webhook_deliveries_state_next_attempt_at",
        op.f("ix_webhook_deliveries_event_id"),
    ):
        op.drop_index(name, table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_index("ix_feed_events_occurred_at", table_name="feed_events")
    op.drop_table("feed_events")
    op.drop_table("webhooks")

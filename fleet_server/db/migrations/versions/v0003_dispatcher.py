"""Dispatcher: site time zone, charging, preemption and plan state.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29

Each part of the dispatcher adds its schema in a pair of functions below, called in order
by `upgrade` and in reverse by `downgrade`. Types are spelled out here so this script
keeps describing the schema as it was.

Schedules: a site's wall-clock time zone and its quiet hours per zone; per schedule, the
instant up to which its occurrences have been dealt with; and one row per occurrence
dealt with (the mission made for it, or why none was), unique per schedule and instant.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OCCURRENCE_STATUSES = ("materialised", "missed", "refused")


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON(none_as_null=False).with_variant(
        postgresql.JSONB(none_as_null=False), "postgresql"
    )


def _drop_column(table: str, column: str) -> None:
    # Plain ALTER TABLE … DROP COLUMN (SQLite ≥ 3.35 and PostgreSQL): batch mode would
    # rebuild the SQLite table from reflection and lose its CHECK constraints.
    op.execute(sa.text(f"ALTER TABLE {table} DROP COLUMN {column}"))


# -- schedules -------------------------------------------------------------------------------


def _upgrade_schedules() -> None:
    op.add_column(
        "sites",
        sa.Column("timezone", sa.String(64), nullable=False, server_default="Asia/Shanghai"),
    )
    op.add_column(
        "sites", sa.Column("quiet_hours", _json(), nullable=False, server_default=sa.text("'[]'"))
    )
    op.add_column(
        "schedules", sa.Column("materialised_until", sa.DateTime(timezone=True), nullable=True)
    )
    statuses = ", ".join(f"'{s}'" for s in OCCURRENCE_STATUSES)
    op.create_table(
        "schedule_occurrences",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("schedule_id", sa.Integer(), nullable=False),
        sa.Column("occurs_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("mission_id", sa.Uuid(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(f"status IN ({statuses})", name=op.f("ck_schedule_occurrences_status")),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["schedules.id"],
            name=op.f("fk_schedule_occurrences_schedule_id_schedules"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["mission_id"],
            ["missions.id"],
            name=op.f("fk_schedule_occurrences_mission_id_missions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule_occurrences")),
        sa.UniqueConstraint(
            "schedule_id",
            "occurs_at",
            name=op.f("uq_schedule_occurrences_schedule_id_occurs_at"),
        ),
    )
    op.create_index(
        op.f("ix_schedule_occurrences_mission_id"), "schedule_occurrences", ["mission_id"]
    )


def _downgrade_schedules() -> None:
    op.drop_index(op.f("ix_schedule_occurrences_mission_id"), table_name="schedule_occurrences")
    op.drop_table("schedule_occurrences")
    _drop_column("schedules", "materialised_until")
    _drop_column("sites", "quiet_hours")
    _drop_column("sites", "timezone")


# -- the revision ----------------------------------------------------------------------------


def upgrade() -> None:
    """Add each part's schema."""
    _upgrade_schedules()


def downgrade() -> None:
    """Remove it again, last part first."""
    _downgrade_schedules()

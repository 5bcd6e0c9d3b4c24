"""What a restarted server needs to reconcile robots' orders.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29

`mission_orders` keeps, per mission, the last order sent to its robot and the compiler
inputs that rebuild its plan, written before the order goes out. Types are spelled out
here so this script keeps describing the schema as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON(none_as_null=False).with_variant(
        postgresql.JSONB(none_as_null=False), "postgresql"
    )


def upgrade() -> None:
    """Create the table of orders in flight."""
    op.create_table(
        "mission_orders",
        sa.Column("mission_id", sa.Uuid(), nullable=False),
        sa.Column("manufacturer", sa.String(100), nullable=False),
        sa.Column("serial_number", sa.String(100), nullable=False),
        sa.Column("order_id", sa.String(200), nullable=False),
        sa.Column("order_update_id", sa.Integer(), nullable=False),
        sa.Column("releases", _json(), nullable=False),
        sa.Column("spec", _json(), nullable=False),
        sa.Column("start", _json(), nullable=False),
        sa.Column("profile", _json(), nullable=False),
        sa.Column("plan_digest", sa.String(64), nullable=False),
        sa.Column("rounds_done", sa.Integer(), nullable=False),
        sa.Column("guide_released", sa.Boolean(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["mission_id"],
            ["missions.id"],
            name=op.f("fk_mission_orders_mission_id_missions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("mission_id", name=op.f("pk_mission_orders")),
    )
    op.create_index(op.f("ix_mission_orders_serial_number"), "mission_orders", ["serial_number"])


def downgrade() -> None:
    """Drop it again."""
    op.drop_index(op.f("ix_mission_orders_serial_number"), table_name="mission_orders")
    op.drop_table("mission_orders")

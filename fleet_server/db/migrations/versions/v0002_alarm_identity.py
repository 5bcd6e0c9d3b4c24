"""Alarms name the robot by its VDA 5050 identity and carry a de-duplication key.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02

An alarm about a robot that is not registered has no robot row to point at, so the
identity is stored on the alarm; `dedup_key` names the condition (a robot's error type,
an unregistered identity, …) so a restarted server does not raise it a second time.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW_COLUMNS = (
    ("manufacturer", 100),
    ("serial_number", 100),
    ("dedup_key", 300),
)
INDEXED = ("serial_number", "dedup_key")


def upgrade() -> None:
    """Add the identity and key columns with their indexes."""
    for name, length in NEW_COLUMNS:
        op.add_column("alarms", sa.Column(name, sa.String(length), nullable=True))
    for name in INDEXED:
        op.create_index(op.f(f"ix_alarms_{name}"), "alarms", [name])


def downgrade() -> None:
    """Drop them again."""
    for name in INDEXED:
        op.drop_index(op.f(f"ix_alarms_{name}"), table_name="alarms")
    # Plain ALTER TABLE … DROP COLUMN (SQLite ≥ 3.35 and PostgreSQL): batch mode would
    # rebuild the SQLite table from reflection and lose its CHECK constraints.
    for name, _length in reversed(NEW_COLUMNS):
        op.execute(sa.text(f"ALTER TABLE alarms DROP COLUMN {name}"))

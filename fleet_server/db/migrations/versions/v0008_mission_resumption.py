"""What a mission that stopped part-way had done survives a server restart.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03

`missions.resumption` keeps what is left of a preempted, suspended or reassigned mission
and what its earlier parts did (part number, rounds done, the points, action outcomes and
room dose plans its disinfection report needs), written with the transition that stopped
it. A restarted server resumes such a mission from there instead of from its beginning.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True), "postgresql"
    )


def upgrade() -> None:
    """Add the nullable JSON column."""
    op.add_column("missions", sa.Column("resumption", _json(), nullable=True))


def downgrade() -> None:
    """Drop it (plain DROP COLUMN, as in 0002: batch mode would rebuild the SQLite table)."""
    op.execute(sa.text("ALTER TABLE missions DROP COLUMN resumption"))

"""Operations-centre feed: webhooks, dead letters, site emergency mode.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29

Reserved in the revision chain so that work on separate issues can add its tables
without racing for revision numbers; it changes nothing until that work fills it in.
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

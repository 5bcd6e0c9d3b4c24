"""Robots' MQTT credentials in the broker's own format.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29

Mosquitto checks passwords against PBKDF2-SHA512 hashes (`$7$…`), which cannot be derived
from the argon2 hash kept since 0001. Robots registered before this revision have none;
rotating their credentials (API `POST /api/v1/robots/{m}/{s}/credentials`) creates it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the column for the broker's hash."""
    op.add_column("robots", sa.Column("broker_password_hash", sa.String(255), nullable=True))


def downgrade() -> None:
    """Drop it (plain DROP COLUMN, as in 0002: batch mode would rebuild the SQLite table)."""
    op.execute(sa.text("ALTER TABLE robots DROP COLUMN broker_password_hash"))

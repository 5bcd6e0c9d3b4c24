"""Health-platform appointments: per-site routing, the destination table, appointment links.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29

A FHIR Appointment posted for a site becomes a guidance mission from the site's entrance
to the waypoint its Location or coded service maps to; `appointments` remembers which
mission each appointment id became, so a re-post updates it and a cancellation cancels it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON(none_as_null=False).with_variant(
        postgresql.JSONB(none_as_null=False), "postgresql"
    )


def _time(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _site_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["site_id"], ["sites.id"], name=op.f(f"fk_{table}_site_id_sites"), ondelete="CASCADE"
    )


def upgrade() -> None:
    """Create the three tables."""
    op.create_table(
        "appointment_routing",
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("entrance", sa.String(200), nullable=False),
        sa.Column("lead_time_s", sa.Double(), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("wait_for_person_timeout_s", sa.Double(), nullable=False),
        sa.Column("max_speed_m_s", sa.Double(), nullable=False),
        _time("updated_at"),
        _site_fk("appointment_routing"),
        sa.PrimaryKeyConstraint("site_id", name=op.f("pk_appointment_routing")),
    )
    op.create_table(
        "appointment_destinations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("match", sa.String(300), nullable=False),
        sa.Column("waypoint", sa.String(200), nullable=False),
        _site_fk("appointment_destinations"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointment_destinations")),
        sa.UniqueConstraint(
            "site_id", "match", name=op.f("uq_appointment_destinations_site_id_match")
        ),
    )
    op.create_table(
        "appointments",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("fhir_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        _time("start", nullable=True),
        sa.Column("destination", sa.String(200), nullable=True),
        sa.Column("mission_id", sa.Uuid(), nullable=True),
        sa.Column("resource", _json(), nullable=False),
        _time("created_at"),
        _time("updated_at"),
        _site_fk("appointments"),
        sa.ForeignKeyConstraint(
            ["mission_id"],
            ["missions.id"],
            name=op.f("fk_appointments_mission_id_missions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointments")),
        sa.UniqueConstraint("site_id", "fhir_id", name=op.f("uq_appointments_site_id_fhir_id")),
    )
    op.create_index("ix_appointments_mission_id", "appointments", ["mission_id"])


def downgrade() -> None:
    """Drop them (their indexes go with them)."""
    op.drop_table("appointments")
    op.drop_table("appointment_destinations")
    op.drop_table("appointment_routing")

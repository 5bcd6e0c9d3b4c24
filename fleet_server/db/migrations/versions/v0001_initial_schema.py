"""Initial schema: accounts and audit, sites and robots, missions, schedules, alarms, telemetry.

Revision ID: 0001
Revises:
Create Date: 2026-11-28

Types are spelled out here rather than imported from the models, so this script keeps
describing the schema as it was when the models change later.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLES = ("admin", "site_manager", "dispatcher", "viewer")
MISSION_STATES = (
    "pending",
    "assigned",
    "dispatched",
    "active",
    "paused",
    "completed",
    "failed",
    "cancelled",
)


def _json(*, nullable: bool = False) -> sa.types.TypeEngine[Any]:
    return sa.JSON(none_as_null=nullable).with_variant(
        postgresql.JSONB(none_as_null=nullable), "postgresql"
    )


def _time(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _big_id() -> sa.Column[object]:
    return sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False)


def _enum(name: str, values: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=16)


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    referred = target.split(".")[0]
    return sa.ForeignKeyConstraint(
        [column], [target], name=op.f(f"fk_{table}_{column}_{referred}"), ondelete=ondelete
    )


def _accounts() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        _time("locked_until", nullable=True),
        sa.Column("auth_epoch", sa.Integer(), nullable=False),
        _time("created_at"),
        _time("password_changed_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "role_grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", _enum("role", ROLES), nullable=False),
        sa.Column("site_id", sa.String(64), nullable=True),
        _fk("role_grants", "site_id", "sites.id", "CASCADE"),
        _fk("role_grants", "user_id", "users.id", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_role_grants")),
    )
    op.create_index(op.f("ix_role_grants_site_id"), "role_grants", ["site_id"])
    op.create_index(op.f("ix_role_grants_user_id"), "role_grants", ["user_id"])
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("secret_hash", sa.String(128), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("grants", _json(nullable=True), nullable=True),
        _time("created_at"),
        _time("expires_at", nullable=True),
        _time("revoked_at", nullable=True),
        _time("last_used_at", nullable=True),
        _fk("api_tokens", "owner_id", "users.id", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_tokens_prefix")),
    )
    op.create_index(op.f("ix_api_tokens_owner_id"), "api_tokens", ["owner_id"])
    op.create_table(
        "audit_log",
        _big_id(),
        _time("at"),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(200), nullable=True),
        sa.Column("site_id", sa.String(64), nullable=True),
        sa.Column("detail", _json(), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_action"), "audit_log", ["action"])
    op.create_index("ix_audit_log_actor_at", "audit_log", ["actor", "at"])
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"])
    op.create_index(op.f("ix_audit_log_site_id"), "audit_log", ["site_id"])


def _sites_and_robots() -> None:
    op.create_table(
        "sites",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("site_map", _json(), nullable=False),
        sa.Column("geo_lon", sa.Double(), nullable=True),
        sa.Column("geo_lat", sa.Double(), nullable=True),
        _time("created_at"),
        _time("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sites")),
        sa.UniqueConstraint("name", name=op.f("uq_sites_name")),
    )
    op.create_table(
        "robots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("manufacturer", sa.String(100), nullable=False),
        sa.Column("serial_number", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("capabilities", _json(), nullable=False),
        sa.Column("site_id", sa.String(64), nullable=True),
        sa.Column("credentials_hash", sa.String(255), nullable=True),
        sa.Column("decommissioned", sa.Boolean(), nullable=False),
        _time("created_at"),
        _fk("robots", "site_id", "sites.id", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_robots")),
        sa.UniqueConstraint(
            "manufacturer", "serial_number", name=op.f("uq_robots_manufacturer_serial_number")
        ),
    )
    op.create_index(op.f("ix_robots_site_id"), "robots", ["site_id"])
    op.create_table(
        "telemetry_samples",
        _big_id(),
        sa.Column("robot_id", sa.Integer(), nullable=False),
        _time("at"),
        sa.Column("x", sa.Double(), nullable=False),
        sa.Column("y", sa.Double(), nullable=False),
        sa.Column("theta", sa.Double(), nullable=False),
        sa.Column("map_id", sa.String(100), nullable=False),
        sa.Column("battery", sa.Double(), nullable=True),
        _fk("telemetry_samples", "robot_id", "robots.id", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_telemetry_samples")),
    )
    op.create_index("ix_telemetry_samples_robot_at", "telemetry_samples", ["robot_id", "at"])


def _missions() -> None:
    op.create_table(
        "schedules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("rrule", sa.Text(), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("mission_template", _json(), nullable=False),
        sa.Column("exdates", _json(), nullable=False),
        _time("until", nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        _time("created_at"),
        _time("updated_at"),
        _fk("schedules", "site_id", "sites.id", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedules")),
    )
    op.create_index("uq_schedules_site_id_name", "schedules", ["site_id", "name"], unique=True)
    op.create_table(
        "missions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("state", _enum("state", MISSION_STATES), nullable=False),
        sa.Column("spec", _json(), nullable=False),
        sa.Column("robot_id", sa.Integer(), nullable=True),
        sa.Column("schedule_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(100), nullable=True),
        _time("created_at"),
        _time("updated_at"),
        _time("assigned_at", nullable=True),
        _time("started_at", nullable=True),
        _time("finished_at", nullable=True),
        sa.Column("report", _json(nullable=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "priority IN ('emergency', 'high', 'normal', 'low')", name=op.f("ck_missions_priority")
        ),
        _fk("missions", "robot_id", "robots.id", "SET NULL"),
        _fk("missions", "schedule_id", "schedules.id", "SET NULL"),
        _fk("missions", "site_id", "sites.id", "RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_missions")),
    )
    op.create_index(op.f("ix_missions_robot_id"), "missions", ["robot_id"])
    op.create_index(op.f("ix_missions_schedule_id"), "missions", ["schedule_id"])
    op.create_index("ix_missions_site_id_state", "missions", ["site_id", "state"])
    op.create_table(
        "mission_events",
        _big_id(),
        sa.Column("mission_id", sa.Uuid(), nullable=False),
        _time("at"),
        sa.Column("from_state", _enum("from_state", MISSION_STATES), nullable=True),
        sa.Column("to_state", _enum("to_state", MISSION_STATES), nullable=False),
        sa.Column("cause", sa.String(200), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        _fk("mission_events", "mission_id", "missions.id", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mission_events")),
    )
    op.create_index("ix_mission_events_mission_id_at", "mission_events", ["mission_id", "at"])
    op.create_table(
        "alarms",
        _big_id(),
        sa.Column("site_id", sa.String(64), nullable=True),
        sa.Column("robot_id", sa.Integer(), nullable=True),
        sa.Column("mission_id", sa.Uuid(), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        _time("raised_at"),
        _time("cleared_at", nullable=True),
        sa.Column("acknowledged_by", sa.String(100), nullable=True),
        _time("acknowledged_at", nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "severity IN ('info', 'warning', 'error', 'critical')", name=op.f("ck_alarms_severity")
        ),
        sa.CheckConstraint(
            "source IN ('robot', 'mission', 'system')", name=op.f("ck_alarms_source")
        ),
        _fk("alarms", "mission_id", "missions.id", "SET NULL"),
        _fk("alarms", "robot_id", "robots.id", "SET NULL"),
        _fk("alarms", "site_id", "sites.id", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarms")),
    )
    op.create_index("ix_alarms_site_id_raised_at", "alarms", ["site_id", "raised_at"])


def upgrade() -> None:
    """Create every table of the first release."""
    _sites_and_robots()
    _accounts()
    _missions()


TABLES_NEWEST_FIRST = (
    "alarms",
    "mission_events",
    "missions",
    "schedules",
    "audit_log",
    "api_tokens",
    "role_grants",
    "users",
    "telemetry_samples",
    "robots",
    "sites",
)


def downgrade() -> None:
    """Drop every table (their indexes go with them), dependants first."""
    for table in TABLES_NEWEST_FIRST:
        op.drop_table(table)

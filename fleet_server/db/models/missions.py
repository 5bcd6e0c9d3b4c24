"""Missions and their lifecycle events, recurring schedules, and alarms."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from fleet_server.db.base import Base, BigId, json_document, utcnow
from fleet_server.missions.states import MissionState

MISSION_PRIORITIES = ("emergency", "high", "normal", "low")
ALARM_SOURCES = ("robot", "mission", "system")
ALARM_SEVERITIES = ("info", "warning", "error", "critical")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _mission_state_type(column: str) -> Enum:
    # One type per column: each becomes a CHECK constraint, and its name must be unique.
    return Enum(
        MissionState,
        name=column,
        native_enum=False,
        create_constraint=True,
        length=16,
        values_callable=lambda states: [s.value for s in states],
        validate_strings=True,
    )


class Mission(Base):
    """A unit of work for one robot at one site; `state` changes only through the state machine."""

    __tablename__ = "missions"
    __table_args__ = (
        CheckConstraint(_one_of("priority", MISSION_PRIORITIES), name="priority"),
        Index("ix_missions_site_id_state", "site_id", "state"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    site_id: Mapped[str] = mapped_column(String(64), ForeignKey("sites.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(String(32))
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    state: Mapped[MissionState] = mapped_column(
        _mission_state_type("state"), default=MissionState.PENDING
    )
    spec: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """The mission's parameters as the missions package defines them."""
    robot_id: Mapped[int | None] = mapped_column(
        ForeignKey("robots.id", ondelete="SET NULL"), index=True
    )
    schedule_id: Mapped[int | None] = mapped_column(
        ForeignKey("schedules.id", ondelete="SET NULL"), index=True
    )
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    assigned_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    report: Mapped[dict[str, Any] | None] = mapped_column(json_document(nullable=True))
    resumption: Mapped[dict[str, Any] | None] = mapped_column(json_document(nullable=True))
    """What is left of a mission that stopped part-way and what its earlier parts did
    (`fleet_server.missions.resume_store`); NULL: it runs, or runs again, from the start."""
    version: Mapped[int] = mapped_column(default=1)

    # Optimistic locking: an update from a stale copy (another worker moved the mission on)
    # fails with StaleDataError instead of silently overwriting the newer state.
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - read by SQLAlchemy


class MissionEvent(Base):
    """One lifecycle transition: when, from which state to which, why and on whose behalf."""

    __tablename__ = "mission_events"
    __table_args__ = (Index("ix_mission_events_mission_id_at", "mission_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    mission_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("missions.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    from_state: Mapped[MissionState | None] = mapped_column(_mission_state_type("from_state"))
    """NULL for the event that creates the mission."""
    to_state: Mapped[MissionState] = mapped_column(_mission_state_type("to_state"))
    cause: Mapped[str] = mapped_column(String(200))
    actor: Mapped[str] = mapped_column(String(100))


class Schedule(Base):
    """A recurring mission (RFC 5545 RRULE in a time zone) at one site."""

    __tablename__ = "schedules"
    __table_args__ = (Index("uq_schedules_site_id_name", "site_id", "name", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[str] = mapped_column(String(64), ForeignKey("sites.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    rrule: Mapped[str] = mapped_column(Text)
    timezone: Mapped[str] = mapped_column(String(64))
    mission_template: Mapped[dict[str, Any]] = mapped_column(default=dict)
    exdates: Mapped[list[Any]] = mapped_column(default=list)
    until: Mapped[datetime | None]
    enabled: Mapped[bool] = mapped_column(default=True)
    materialised_until: Mapped[datetime | None]
    """Every occurrence up to this instant has been dealt with (a mission made for it, or
    recorded as missed); NULL: none yet."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Alarm(Base):
    """Something a person must see and acknowledge: a robot, mission or system fault."""

    __tablename__ = "alarms"
    __table_args__ = (
        CheckConstraint(_one_of("source", ALARM_SOURCES), name="source"),
        CheckConstraint(_one_of("severity", ALARM_SEVERITIES), name="severity"),
        Index("ix_alarms_site_id_raised_at", "site_id", "raised_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    site_id: Mapped[str | None] = mapped_column(
        String(64), ForeignKey("sites.id", ondelete="CASCADE")
    )
    """NULL for alarms that belong to no site (e.g. an unregistered robot)."""
    robot_id: Mapped[int | None] = mapped_column(ForeignKey("robots.id", ondelete="SET NULL"))
    mission_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("missions.id", ondelete="SET NULL")
    )
    manufacturer: Mapped[str | None] = mapped_column(String(100))
    serial_number: Mapped[str | None] = mapped_column(String(100), index=True)
    """The robot's VDA 5050 identity, also for robots that are not registered."""
    dedup_key: Mapped[str | None] = mapped_column(String(300), index=True)
    """Names the condition an alarm stands for; one uncleared alarm per key at a time."""
    source: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    raised_at: Mapped[datetime] = mapped_column(default=utcnow)
    cleared_at: Mapped[datetime | None]
    """When the condition went away (an alarm stays listed until acknowledged)."""
    acknowledged_by: Mapped[str | None] = mapped_column(String(100))
    acknowledged_at: Mapped[datetime | None]
    comment: Mapped[str | None] = mapped_column(Text)

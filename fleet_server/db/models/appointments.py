"""Health-platform appointments: how a site routes them, and which mission each one became."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fleet_server.db.base import Base, BigId, utcnow


class AppointmentRouting(Base):
    """Where a site's visitors are met, how early, and in which language they are greeted."""

    __tablename__ = "appointment_routing"

    site_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True
    )
    entrance: Mapped[str] = mapped_column(String(200))
    """The waypoint (id or name) where the guide robot meets the visitor."""
    lead_time_s: Mapped[float]
    """The guidance mission may start this long before the appointment."""
    language: Mapped[str] = mapped_column(String(8))
    wait_for_person_timeout_s: Mapped[float]
    max_speed_m_s: Mapped[float]
    """How fast the guide walks (visitors may be frail)."""
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AppointmentDestination(Base):
    """One row of a site's mapping table: a FHIR Location or coded service -> a waypoint."""

    __tablename__ = "appointment_destinations"
    __table_args__ = (UniqueConstraint("site_id", "match"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[str] = mapped_column(String(64), ForeignKey("sites.id", ondelete="CASCADE"))
    match: Mapped[str] = mapped_column(String(300))
    """`Location/<id>`, or `<system>|<code>` of a serviceType/specialty coding."""
    waypoint: Mapped[str] = mapped_column(String(200))


class Appointment(Base):
    """A FHIR Appointment received for a site and the guidance mission it gave rise to."""

    __tablename__ = "appointments"
    __table_args__ = (
        UniqueConstraint("site_id", "fhir_id"),
        Index("ix_appointments_mission_id", "mission_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    site_id: Mapped[str] = mapped_column(String(64), ForeignKey("sites.id", ondelete="CASCADE"))
    fhir_id: Mapped[str] = mapped_column(String(64))
    """Appointment.id as the health platform gave it (FHIR ids are at most 64 characters)."""
    status: Mapped[str] = mapped_column(String(32))
    start: Mapped[datetime | None]
    destination: Mapped[str | None] = mapped_column(String(200))
    """The waypoint the appointment mapped to (None while no mission is wanted)."""
    mission_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("missions.id", ondelete="SET NULL")
    )
    resource: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """The resource as last received."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

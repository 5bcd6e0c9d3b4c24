"""What the health-platform API reads and writes (the FHIR resources themselves aside)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from fleet_server.city.appointments import DestinationRule, Routing
from missions.types import MAX_GUIDANCE_SPEED_M_S, Language


class DestinationRow(BaseModel):
    """A mapping-table row: `Location/<id>` or `<system>|<code>` -> waypoint id or name."""

    match: str = Field(min_length=1, max_length=300)
    waypoint: str = Field(min_length=1, max_length=200)


class RoutingBody(BaseModel):
    """How appointments at a site become guidance missions."""

    entrance: str = Field(min_length=1, max_length=200)
    """Where the guide meets the visitor (waypoint id or name)."""
    lead_time_s: float = Field(default=600.0, ge=0, le=86_400)
    """The mission may start this long before the appointment."""
    language: Language = Language.ZH_CN
    wait_for_person_timeout_s: float = Field(default=300.0, gt=0, le=3600)
    max_speed_m_s: float = Field(default=0.5, gt=0, le=MAX_GUIDANCE_SPEED_M_S)
    """How fast the guide walks."""
    destinations: list[DestinationRow] = Field(default_factory=list, max_length=2000)

    def routing(self) -> Routing:
        """The routing this body describes."""
        return Routing(
            entrance=self.entrance,
            lead_time_s=self.lead_time_s,
            language=self.language,
            wait_for_person_timeout_s=self.wait_for_person_timeout_s,
            max_speed_m_s=self.max_speed_m_s,
            destinations=tuple(DestinationRule(d.match, d.waypoint) for d in self.destinations),
        )

    @classmethod
    def of(cls, routing: Routing) -> RoutingBody:
        """The body of a stored routing."""
        return cls(
            entrance=routing.entrance,
            lead_time_s=routing.lead_time_s,
            language=routing.language,
            wait_for_person_timeout_s=routing.wait_for_person_timeout_s,
            max_speed_m_s=routing.max_speed_m_s,
            destinations=[
                DestinationRow(match=r.match, waypoint=r.waypoint) for r in routing.destinations
            ],
        )


class AppointmentPublic(BaseModel):
    """A received appointment and its guidance mission."""

    id: str
    """Appointment.id at the health platform."""
    site_id: str
    status: str
    start: datetime | None
    destination: str | None
    mission_id: uuid.UUID | None
    mission_state: str | None
    action: str | None = None
    """What this request did: created, replaced, unchanged, cancelled or recorded."""
    updated_at: datetime | None

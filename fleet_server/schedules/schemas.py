"""Schedules as the API takes and shows them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from fleet_server.missions.states import MissionState

# No control characters: names end up in logs and PostgreSQL text refuses NUL.
PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=PRINTABLE)]
SiteId = Annotated[str, Field(min_length=1, max_length=64, pattern=PRINTABLE)]
RuleText = Annotated[
    str,
    Field(
        min_length=1,
        max_length=2000,
        description="RFC 5545 RRULE value (a DTSTART line before it is accepted too)",
        examples=["FREQ=DAILY;BYHOUR=22;BYMINUTE=0"],
    ),
]
Start = Annotated[
    datetime,
    Field(
        description="local wall time the rule starts from (default: midnight of the day created)"
    ),
]
TimeZoneName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        examples=["Asia/Shanghai"],
        description="IANA time zone (default: the site's)",
    ),
]
Exdates = Annotated[list[datetime], Field(max_length=1000)]


class ScheduleCreate(BaseModel):
    """A recurring mission. `exdates` are local times (or instants) that are skipped."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    site_id: SiteId
    rrule: RuleText
    dtstart: Start | None = None
    timezone: TimeZoneName | None = None
    mission_template: dict[str, Any]
    exdates: Exdates = Field(default_factory=list)
    until: AwareDatetime | None = None
    enabled: bool = True


class ScheduleUpdate(BaseModel):
    """Changes to a schedule; fields left out stay as they are (`until: null` removes it)."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    site_id: SiteId | None = None
    rrule: RuleText | None = None
    dtstart: Start | None = None
    timezone: TimeZoneName | None = None
    mission_template: dict[str, Any] | None = None
    exdates: Exdates | None = None
    until: AwareDatetime | None = None
    enabled: bool | None = None


class SchedulePublic(BaseModel):
    """A stored schedule; `rrule` is shown normalised (its parts in a fixed order)."""

    id: int
    name: str
    site_id: str
    rrule: str
    dtstart: str
    """Local wall time the rule starts from, ISO 8601 without offset."""
    timezone: str
    mission_template: dict[str, Any]
    exdates: list[str]
    """Local wall times, ISO 8601 without offset."""
    until: datetime | None
    enabled: bool
    next_occurrence: datetime | None
    """In the schedule's time zone; null when the rule is over (or the schedule disabled)."""
    created_at: datetime
    updated_at: datetime


class SchedulePreview(BaseModel):
    """The next occurrences, in the schedule's time zone (the offset shows DST)."""

    schedule_id: int
    timezone: str
    enabled: bool
    occurrences: list[datetime]


class OccurrencePublic(BaseModel):
    """One occurrence dealt with: the mission made for it, or why none was."""

    occurs_at: datetime
    """In the schedule's time zone."""
    status: Literal["materialised", "missed", "refused"]
    mission_id: uuid.UUID | None
    mission_state: MissionState | None
    detail: str | None
    recorded_at: datetime

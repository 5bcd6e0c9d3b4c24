"""Alarms: list those of the caller's sites, and acknowledge them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from fleet_server.alarms.model import AlarmRecord
from fleet_server.alarms.store import MAX_ALARM_ID, AlarmFilter, acknowledge, list_alarms
from fleet_server.auth.roles import Principal, Role
from fleet_server.db.models import Alarm
from fleet_server.deps import ActorDep, CurrentUser, ServicesDep, SessionDep
from fleet_server.errors import NotFound, PermissionDenied

router = APIRouter(prefix="/api/v1/alarms", tags=["alarms"])

AlarmId = Annotated[int, Path(ge=1, le=MAX_ALARM_ID)]
Severity = Literal["info", "warning", "error", "critical"]


class AlarmPublic(BaseModel):
    """An alarm as the API shows it."""

    id: int
    site_id: str | None
    robot: str | None
    """`manufacturer/serial` of the robot it concerns, if any."""
    mission_id: uuid.UUID | None
    source: Literal["robot", "mission", "system"]
    severity: Severity
    code: str
    message: str
    raised_at: datetime
    cleared_at: datetime | None
    active: bool
    """True until the condition went away (`cleared_at`)."""
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    comment: str | None


class AlarmPage(BaseModel):
    """A page of alarms, newest first, and the cursor of the next one (null on the last)."""

    items: list[AlarmPublic]
    next_cursor: str | None


class AlarmAcknowledge(BaseModel):
    """What goes with an acknowledgement."""

    # PostgreSQL text refuses NUL characters.
    comment: str | None = Field(default=None, max_length=2000, pattern=r"^[^\x00]*$")


def alarm_public(alarm: Alarm | AlarmRecord) -> AlarmPublic:
    """The API view of an alarm row or record."""
    robot = None
    if alarm.manufacturer is not None and alarm.serial_number is not None:
        robot = f"{alarm.manufacturer}/{alarm.serial_number}"
    return AlarmPublic.model_validate(
        {
            "id": alarm.id,
            "site_id": alarm.site_id,
            "robot": robot,
            "mission_id": alarm.mission_id,
            "source": alarm.source,
            "severity": alarm.severity,
            "code": alarm.code,
            "message": alarm.message,
            "raised_at": alarm.raised_at,
            "cleared_at": alarm.cleared_at,
            "active": alarm.cleared_at is None,
            "acknowledged_by": alarm.acknowledged_by,
            "acknowledged_at": alarm.acknowledged_at,
            "comment": alarm.comment,
        }
    )


def _alarm(session: SessionDep, principal: Principal, alarm_id: int, role: Role) -> Alarm:
    # Alarms of no site (an unregistered robot) belong to those who see every site.
    alarm = session.get(Alarm, alarm_id)
    if alarm is None or not principal.has(Role.VIEWER, alarm.site_id):
        raise NotFound(f"no alarm {alarm_id}")
    if not principal.has(role, alarm.site_id):
        where = f"site {alarm.site_id!r}" if alarm.site_id else "all sites"
        raise PermissionDenied(f"requires the {role.value} role at {where}")
    return alarm


@router.get("", response_model=AlarmPage)
def list_(
    session: SessionDep,
    principal: CurrentUser,
    site_id: Annotated[str | None, Query(max_length=64)] = None,
    severity: Severity | None = None,
    active: bool | None = None,
    acknowledged: bool | None = None,
    robot: Annotated[str | None, Query(max_length=100, description="serial number")] = None,
    code: Annotated[str | None, Query(max_length=64)] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> AlarmPage:
    """Alarms at the sites the caller may see, newest first."""
    if not principal.has_anywhere(Role.VIEWER):
        raise PermissionDenied("requires the viewer role")
    where = AlarmFilter(
        sites=principal.sites_with(Role.VIEWER),
        site_id=site_id,
        severity=severity,
        active=active,
        acknowledged=acknowledged,
        robot=robot,
        code=code,
    )
    rows, next_cursor = list_alarms(session, where, cursor=cursor, limit=limit)
    return AlarmPage(items=[alarm_public(a) for a in rows], next_cursor=next_cursor)


@router.get("/{alarm_id}", response_model=AlarmPublic)
def get(alarm_id: AlarmId, session: SessionDep, principal: CurrentUser) -> AlarmPublic:
    """One alarm."""
    return alarm_public(_alarm(session, principal, alarm_id, Role.VIEWER))


@router.post("/{alarm_id}/acknowledge", response_model=AlarmPublic)
def acknowledge_(
    alarm_id: AlarmId,
    services: ServicesDep,
    session: SessionDep,
    principal: CurrentUser,
    actor: ActorDep,
    body: AlarmAcknowledge | None = None,
) -> AlarmPublic:
    """Acknowledge (dispatcher at the alarm's site); 409 when someone already did."""
    alarm = _alarm(session, principal, alarm_id, Role.DISPATCHER)
    event = acknowledge(session, alarm, actor, body.comment if body else None)
    services.alarms.announce_from_thread(event)
    return alarm_public(alarm)

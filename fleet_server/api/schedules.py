"""Schedules: recurring missions (RFC 5545 RRULE in a time zone) and their next occurrences."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import AwareDatetime

from fleet_server.auth.roles import Principal, Role
from fleet_server.db.models import Schedule
from fleet_server.deps import ActorDep, CurrentUser, ServicesDep, SessionDep
from fleet_server.errors import InvalidInput, NotFound, PermissionDenied
from fleet_server.schedules.recurrence import Recurrence, next_occurrences
from fleet_server.schedules.rules import FIRST_YEAR, LAST_YEAR
from fleet_server.schedules.schemas import (
    OccurrencePublic,
    ScheduleCreate,
    SchedulePreview,
    SchedulePublic,
    ScheduleUpdate,
)
from fleet_server.schedules.service import (
    ScheduleFields,
    create_schedule,
    delete_schedule,
    list_occurrences,
    list_schedules,
    update_schedule,
)

router = APIRouter(prefix="/api/v1/schedules", tags=["schedules"])

ScheduleId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def schedule_public(schedule: Schedule) -> SchedulePublic:
    """The API view of a schedule row."""
    recurrence = Recurrence.of(schedule)
    upcoming: list[datetime] = []
    if schedule.enabled:
        upcoming = next_occurrences(recurrence, datetime.now(UTC), 1)
    return SchedulePublic(
        id=schedule.id,
        name=schedule.name,
        site_id=schedule.site_id,
        rrule=recurrence.rule.body(),
        dtstart=recurrence.rule.dtstart.isoformat(),
        timezone=schedule.timezone,
        mission_template=schedule.mission_template,
        exdates=[str(d) for d in schedule.exdates],
        until=schedule.until,
        enabled=schedule.enabled,
        next_occurrence=upcoming[0] if upcoming else None,
        created_at=schedule.created_at,
        updated_at=schedule.updated_at,
    )


def _schedule(session: SessionDep, principal: Principal, schedule_id: int, role: Role) -> Schedule:
    schedule = session.get(Schedule, schedule_id)
    if schedule is None or not principal.has(Role.VIEWER, schedule.site_id):
        raise NotFound(f"no schedule {schedule_id}")
    if not principal.has(role, schedule.site_id):
        raise PermissionDenied(f"requires the {role.value} role at site {schedule.site_id!r}")
    return schedule


def _announced(services: ServicesDep, public: SchedulePublic) -> SchedulePublic:
    """Tell live-stream clients of the schedule's site about the change, and the
    materialiser to look at it now."""
    if services.schedules is not None:
        services.schedules.wake()
    services.hub.publish_schedule(
        public.site_id, {**public.model_dump(mode="json"), "site": public.site_id}
    )
    return public


def _require_manager(principal: Principal, site_id: str) -> None:
    if not principal.has(Role.SITE_MANAGER, site_id):
        raise PermissionDenied(f"requires the site_manager role at site {site_id!r}")


@router.post("", status_code=status.HTTP_201_CREATED, response_model=SchedulePublic)
def create(
    body: ScheduleCreate,
    services: ServicesDep,
    session: SessionDep,
    principal: CurrentUser,
    actor: ActorDep,
) -> SchedulePublic:
    """A new schedule (site manager at its site); every field is checked, the mission
    template against the site's map."""
    _require_manager(principal, body.site_id)
    fields = ScheduleFields(**body.model_dump())
    return _announced(
        services, schedule_public(create_schedule(session, services.sites, fields, actor))
    )


@router.get("", response_model=list[SchedulePublic])
def list_(
    session: SessionDep,
    principal: CurrentUser,
    site_id: Annotated[str | None, Query(max_length=64)] = None,
    enabled: bool | None = None,
) -> list[SchedulePublic]:
    """Schedules at the sites the caller may see, by site and name."""
    if not principal.has_anywhere(Role.VIEWER):
        raise PermissionDenied("requires the viewer role")
    rows = list_schedules(session, principal.sites_with(Role.VIEWER), site_id, enabled)
    return [schedule_public(s) for s in rows]


@router.get("/{schedule_id}", response_model=SchedulePublic)
def get(schedule_id: ScheduleId, session: SessionDep, principal: CurrentUser) -> SchedulePublic:
    """One schedule."""
    return schedule_public(_schedule(session, principal, schedule_id, Role.VIEWER))


@router.patch("/{schedule_id}", response_model=SchedulePublic)
def update(
    schedule_id: ScheduleId,
    body: ScheduleUpdate,
    services: ServicesDep,
    session: SessionDep,
    principal: CurrentUser,
    actor: ActorDep,
) -> SchedulePublic:
    """Change a schedule (site manager at its site, and at the new one when it moves)."""
    schedule = _schedule(session, principal, schedule_id, Role.SITE_MANAGER)
    changes = body.model_dump(exclude_unset=True)
    for name, value in changes.items():
        if value is None and name != "until":
            raise InvalidInput(name, "cannot be null; leave it out to keep it")
    if body.site_id is not None:
        _require_manager(principal, body.site_id)
    changed = update_schedule(
        session, services.sites, schedule, changes, actor, cancel=services.missions.cancel
    )
    return _announced(services, schedule_public(changed))


@router.put("/{schedule_id}", response_model=SchedulePublic)
def replace(
    schedule_id: ScheduleId,
    body: ScheduleCreate,
    services: ServicesDep,
    session: SessionDep,
    principal: CurrentUser,
    actor: ActorDep,
) -> SchedulePublic:
    """Replace a schedule as a whole (a rule without start keeps the stored one)."""
    schedule = _schedule(session, principal, schedule_id, Role.SITE_MANAGER)
    _require_manager(principal, body.site_id)
    changed = update_schedule(
        session, services.sites, schedule, body.model_dump(), actor, cancel=services.missions.cancel
    )
    return _announced(services, schedule_public(changed))


@router.delete("/{schedule_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete(
    schedule_id: ScheduleId,
    services: ServicesDep,
    session: SessionDep,
    principal: CurrentUser,
    actor: ActorDep,
) -> Response:
    """Delete a schedule; missions it made stay, but those made ahead are cancelled."""
    schedule = _schedule(session, principal, schedule_id, Role.SITE_MANAGER)
    site_id = schedule.site_id
    delete_schedule(session, schedule, actor, cancel=services.missions.cancel)
    entry = {"id": schedule_id, "site": site_id, "site_id": site_id, "deleted": True}
    services.hub.publish_schedule(site_id, entry)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{schedule_id}/preview", response_model=SchedulePreview)
def preview(
    schedule_id: ScheduleId,
    session: SessionDep,
    principal: CurrentUser,
    count: Annotated[int, Query(ge=1, le=100)] = 10,
    after: AwareDatetime | None = None,
) -> SchedulePreview:
    """The next `count` occurrences after `after` (default: now), DST-correct."""
    schedule = _schedule(session, principal, schedule_id, Role.VIEWER)
    start = after or datetime.now(UTC)
    if not FIRST_YEAR <= start.year <= LAST_YEAR:
        raise InvalidInput("after", f"must lie within the years {FIRST_YEAR}..{LAST_YEAR}")
    return SchedulePreview(
        schedule_id=schedule.id,
        timezone=schedule.timezone,
        enabled=schedule.enabled,
        occurrences=next_occurrences(Recurrence.of(schedule), start, count),
    )


@router.get("/{schedule_id}/occurrences", response_model=list[OccurrencePublic])
def occurrences_(
    schedule_id: ScheduleId,
    session: SessionDep,
    principal: CurrentUser,
    status_: Annotated[
        Literal["materialised", "missed", "refused"] | None, Query(alias="status")
    ] = None,
    before: AwareDatetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[OccurrencePublic]:
    """Occurrences dealt with so far, newest first: made into missions (with the mission's
    state), missed while the server was down, or refused by the site's map."""
    schedule = _schedule(session, principal, schedule_id, Role.VIEWER)
    tz = Recurrence.of(schedule).timezone
    return [
        OccurrencePublic(
            occurs_at=row.occurs_at.astimezone(tz),
            status=row.status,
            mission_id=row.mission_id,
            mission_state=state,
            detail=row.detail,
            recorded_at=row.recorded_at,
        )
        for row, state in list_occurrences(session, schedule.id, status_, before, limit)
    ]

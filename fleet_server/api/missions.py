"""Missions: create, list, follow, and cancel, pause or resume them; events and reports."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, status
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import AwareDatetime, BaseModel

from fleet_server.auth.audit import record_audit
from fleet_server.auth.roles import Principal, Role
from fleet_server.db.models import Mission, Robot
from fleet_server.deps import ActorDep, CurrentUser, ServicesDep, SessionDep
from fleet_server.errors import InvalidInput, NotFound, PermissionDenied
from fleet_server.missions.queries import (
    BadCursor,
    MissionFilter,
    create_mission,
    list_missions,
    mission_events,
)
from fleet_server.missions.site_check import check_mission_against_site
from fleet_server.missions.states import MissionState
from missions.report import DisinfectionReport
from missions.types import Language, MissionSpec

router = APIRouter(prefix="/api/v1/missions", tags=["missions"])


class MissionPublic(BaseModel):
    """A mission as the API shows it."""

    id: uuid.UUID
    site_id: str
    kind: str
    priority: str
    state: MissionState
    spec: dict[str, Any]
    robot: str | None
    created_by: str | None
    created_at: datetime
    assigned_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    has_report: bool


class MissionPage(BaseModel):
    """A page of missions and the cursor of the next one (null on the last page)."""

    items: list[MissionPublic]
    next_cursor: str | None


class MissionEventPublic(BaseModel):
    """One lifecycle transition."""

    at: datetime
    from_state: MissionState | None
    to_state: MissionState
    cause: str
    actor: str


def mission_public(mission: Mission, robot: Robot | None) -> MissionPublic:
    """The API view of a mission row."""
    return MissionPublic(
        id=mission.id,
        site_id=mission.site_id,
        kind=mission.kind,
        priority=mission.priority,
        state=MissionState(mission.state),
        spec=mission.spec,
        robot=robot.serial_number if robot else None,
        created_by=mission.created_by,
        created_at=mission.created_at,
        assigned_at=mission.assigned_at,
        started_at=mission.started_at,
        finished_at=mission.finished_at,
        has_report=mission.report is not None,
    )


def _public(session: SessionDep, mission: Mission) -> MissionPublic:
    robot = session.get(Robot, mission.robot_id) if mission.robot_id is not None else None
    return mission_public(mission, robot)


def _mission(
    session: SessionDep, principal: Principal, mission_id: uuid.UUID, role: Role
) -> Mission:
    mission = session.get(Mission, mission_id)
    if mission is None or not principal.has(Role.VIEWER, mission.site_id):
        raise NotFound(f"no mission {mission_id}")
    if not principal.has(role, mission.site_id):
        raise PermissionDenied(f"requires the {role.value} role at site {mission.site_id!r}")
    return mission


@router.post("", status_code=status.HTTP_201_CREATED, response_model=MissionPublic)
def create(
    body: MissionSpec,
    services: ServicesDep,
    session: SessionDep,
    principal: CurrentUser,
    actor: ActorDep,
) -> MissionPublic:
    """A new mission; the dispatcher gives it to a robot as soon as one can take it."""
    if not principal.has(Role.DISPATCHER, body.site):
        raise PermissionDenied(f"requires the dispatcher role at site {body.site!r}")
    spec = body
    check_mission_against_site(services.sites, session, spec)
    mission = create_mission(session, spec, spec.site, actor.name)
    record_audit(
        session,
        actor,
        "mission.create",
        target=f"mission:{mission.id}",
        site_id=mission.site_id,
        detail={"kind": mission.kind},
    )
    session.commit()
    services.missions.poke()
    return _public(session, mission)


@router.get("", response_model=MissionPage)
def list_(
    session: SessionDep,
    principal: CurrentUser,
    site_id: Annotated[str | None, Query(max_length=64)] = None,
    state: MissionState | None = None,
    kind: Literal["patrol", "disinfection", "guidance"] | None = None,
    robot: Annotated[str | None, Query(max_length=100)] = None,
    created_after: AwareDatetime | None = None,
    created_before: AwareDatetime | None = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> MissionPage:
    """Missions at the sites the caller may see, newest first."""
    if not principal.has_anywhere(Role.VIEWER):
        raise PermissionDenied("requires the viewer role")
    f = MissionFilter(
        sites=principal.sites_with(Role.VIEWER),
        site_id=site_id,
        state=state,
        kind=kind,
        robot=robot,
        created_after=created_after,
        created_before=created_before,
    )
    try:
        rows, next_cursor = list_missions(session, f, limit=limit, cursor=cursor)
    except BadCursor as exc:
        raise InvalidInput("cursor", "not a cursor from this API") from exc
    return MissionPage(items=[_public(session, m) for m in rows], next_cursor=next_cursor)


@router.get("/{mission_id}", response_model=MissionPublic)
def get(mission_id: uuid.UUID, session: SessionDep, principal: CurrentUser) -> MissionPublic:
    """One mission."""
    return _public(session, _mission(session, principal, mission_id, Role.VIEWER))


@router.get("/{mission_id}/events", response_model=list[MissionEventPublic])
def events(
    mission_id: uuid.UUID, session: SessionDep, principal: CurrentUser
) -> list[MissionEventPublic]:
    """Every transition of the mission, oldest first."""
    mission = _mission(session, principal, mission_id, Role.VIEWER)
    return [
        MissionEventPublic(
            at=e.at, from_state=e.from_state, to_state=e.to_state, cause=e.cause, actor=e.actor
        )
        for e in mission_events(session, mission.id)
    ]


@router.get("/{mission_id}/report", response_model=None)
def report(
    mission_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentUser,
    format: Literal["json", "html"] = "json",
    language: Language = Language.ZH_CN,
) -> JSONResponse | HTMLResponse:
    """The disinfection report: JSON, or printable HTML (zh-CN or en)."""
    mission = _mission(session, principal, mission_id, Role.VIEWER)
    if mission.report is None:
        raise NotFound(f"mission {mission_id} has no report (yet)")
    if format == "html":
        return HTMLResponse(DisinfectionReport.model_validate(mission.report).to_html(language))
    return JSONResponse(mission.report)


def _command(
    action: Literal["cancel", "pause", "resume"],
    mission_id: uuid.UUID,
    services: ServicesDep,
    session: SessionDep,
    principal: Principal,
    actor: ActorDep,
) -> MissionPublic:
    mission = _mission(session, principal, mission_id, Role.DISPATCHER)
    runtime = services.missions
    getattr(runtime, action)(session, mission, actor.name)
    record_audit(
        session, actor, f"mission.{action}", target=f"mission:{mission.id}", site_id=mission.site_id
    )
    session.commit()
    return _public(session, mission)


@router.post("/{mission_id}/cancel", response_model=MissionPublic)
def cancel(
    mission_id: uuid.UUID,
    services: ServicesDep,
    session: SessionDep,
    principal: CurrentUser,
    actor: ActorDep,
) -> MissionPublic:
    """Cancel; a robot running it stops (cancelOrder). 409 when already finished."""
    return _command("cancel", mission_id, services, session, principal, actor)


@router.post(
    "/{mission_id}/pause", status_code=status.HTTP_202_ACCEPTED, response_model=MissionPublic
)
def pause(
    mission_id: uuid.UUID,
    services: ServicesDep,
    session: SessionDep,
    principal: CurrentUser,
    actor: ActorDep,
) -> MissionPublic:
    """Ask the robot to pause (startPause); `paused` once it confirms. 409 unless active."""
    return _command("pause", mission_id, services, session, principal, actor)


@router.post(
    "/{mission_id}/resume", status_code=status.HTTP_202_ACCEPTED, response_model=MissionPublic
)
def resume(
    mission_id: uuid.UUID,
    services: ServicesDep,
    session: SessionDep,
    principal: CurrentUser,
    actor: ActorDep,
) -> MissionPublic:
    """Ask the robot to carry on (stopPause); `active` once it confirms. 409 unless paused."""
    return _command("resume", mission_id, services, session, principal, actor)

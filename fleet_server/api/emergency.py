"""Site emergency mode: start (fire alarm, evacuation), follow and clear it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, status
from pydantic import BaseModel, Field

from fleet_server.auth.audit import record_audit
from fleet_server.auth.roles import Role
from fleet_server.db.models import Site
from fleet_server.deps import ActorDep, CurrentUser, ServicesDep, SessionDep
from fleet_server.errors import Conflict, FleetError, NotFound, PermissionDenied
from fleet_server.missions.emergency import (
    Emergency,
    EmergencyActive,
    EmergencyService,
    NoEmergency,
    Phase,
)

router = APIRouter(prefix="/api/v1", tags=["emergency"])

SiteId = Annotated[str, Path(min_length=1, max_length=64)]


class EmergencyStart(BaseModel):
    """Why the site goes into emergency mode."""

    reason: str = Field(min_length=1, max_length=500, pattern=r"^[^\x00]*\S[^\x00]*$")


class ParkingPublic(BaseModel):
    """One robot on its way to parking."""

    robot: str
    phase: Phase
    spot: str | None


class EmergencyPublic(BaseModel):
    """A site's emergency mode: `active` until cleared; `clearing` while robots stop."""

    site_id: str
    active: bool
    state: Literal["none", "active", "clearing"]
    id: str | None = None
    reason: str | None = None
    started_at: datetime | None = None
    started_by: str | None = None
    cleared_at: datetime | None = None
    cleared_by: str | None = None
    robots: list[ParkingPublic] = Field(default_factory=list)
    suspended_missions: list[str] = Field(default_factory=list)
    """Missions taken off their robots; they go back to pending when it clears."""


class Unavailable(FleetError):
    """A service this server process does not run."""

    status = status.HTTP_503_SERVICE_UNAVAILABLE


def emergency_public(site_id: str, emergency: Emergency | None) -> EmergencyPublic:
    """The API view of a site's emergency (or of none)."""
    if emergency is None:
        return EmergencyPublic(site_id=site_id, active=False, state="none")
    clearing = emergency.cleared_at is not None
    return EmergencyPublic(
        site_id=site_id,
        active=not clearing,
        state="clearing" if clearing else "active",
        id=str(emergency.id),
        reason=emergency.reason,
        started_at=emergency.started_at,
        started_by=emergency.started_by,
        cleared_at=emergency.cleared_at,
        cleared_by=emergency.cleared_by,
        robots=[
            ParkingPublic(robot=f"{key[0]}/{key[1]}", phase=p.phase, spot=p.spot)
            for key, p in sorted(emergency.robots.items())
        ],
        suspended_missions=list(emergency.suspended),
    )


def _service(services: ServicesDep) -> EmergencyService:
    if services.emergency is None:
        raise Unavailable("emergency mode is not running in this server")
    return services.emergency


def _site(session: SessionDep, principal: CurrentUser, site_id: str, role: Role) -> None:
    if session.get(Site, site_id) is None or not principal.has(Role.VIEWER, site_id):
        raise NotFound(f"no site {site_id!r}")
    if not principal.has(role, site_id):
        raise PermissionDenied(f"requires the {role.value} role at site {site_id!r}")


@router.get("/emergencies", response_model=list[EmergencyPublic])
def list_(services: ServicesDep, principal: CurrentUser) -> list[EmergencyPublic]:
    """Sites in emergency mode (or clearing it) that the caller may see."""
    if not principal.has_anywhere(Role.VIEWER):
        raise PermissionDenied("requires the viewer role")
    return [
        emergency_public(e.site_id, e)
        for e in _service(services).all_current()
        if principal.has(Role.VIEWER, e.site_id)
    ]


@router.get("/sites/{site_id}/emergency", response_model=EmergencyPublic)
def get(
    site_id: SiteId, services: ServicesDep, session: SessionDep, principal: CurrentUser
) -> EmergencyPublic:
    """The site's emergency mode, with each robot's way to parking."""
    _site(session, principal, site_id, Role.VIEWER)
    return emergency_public(site_id, _service(services).current(site_id))


@router.post(
    "/sites/{site_id}/emergency",
    status_code=status.HTTP_201_CREATED,
    response_model=EmergencyPublic,
)
def start(
    site_id: SiteId,
    body: EmergencyStart,
    services: ServicesDep,
    session: SessionDep,
    principal: CurrentUser,
    actor: ActorDep,
) -> EmergencyPublic:
    """Emergency mode: every robot to a parking spot, missions paused, no new dispatch.

    Dispatcher at the site; 409 when the site is in emergency mode already.
    """
    _site(session, principal, site_id, Role.DISPATCHER)
    service = _service(services)
    record_audit(
        session,
        actor,
        "site.emergency.start",
        target=f"site:{site_id}",
        site_id=site_id,
        detail={"reason": body.reason},
    )
    try:
        emergency = service.start(session, site_id, body.reason.strip(), actor.name)
    except EmergencyActive as exc:
        session.rollback()
        raise Conflict(str(exc)) from exc
    return emergency_public(site_id, emergency)


@router.delete("/sites/{site_id}/emergency", response_model=EmergencyPublic)
def clear(
    site_id: SiteId,
    services: ServicesDep,
    session: SessionDep,
    principal: CurrentUser,
    actor: ActorDep,
) -> EmergencyPublic:
    """Clear it: missions go back to pending and are dispatched again once robots stopped.

    Dispatcher at the site; 409 when the site is not in emergency mode.
    """
    _site(session, principal, site_id, Role.DISPATCHER)
    service = _service(services)
    record_audit(session, actor, "site.emergency.clear", target=f"site:{site_id}", site_id=site_id)
    try:
        emergency = service.clear(session, site_id, actor.name)
    except NoEmergency as exc:
        session.rollback()
        raise Conflict(str(exc)) from exc
    return emergency_public(site_id, emergency)

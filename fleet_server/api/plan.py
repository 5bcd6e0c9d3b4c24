"""The dispatcher's plan for a site: who does what next, chargers held, traffic reservations."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from fleet_server.auth.roles import Principal, Role
from fleet_server.deps import ServicesDep, SessionDep, require_role
from fleet_server.errors import NotFound
from fleet_server.missions.allocation_link import SitePlan
from fleet_server.missions.runtime import MissionRuntime
from fleet_server.sites.store import SiteNotFound

router = APIRouter(prefix="/api/v1/sites", tags=["sites"])

SiteViewer = Annotated[Principal, Depends(require_role(Role.VIEWER, site_param="site_id"))]


class QueuedMission(BaseModel):
    """A mission in a robot's queue."""

    mission_id: uuid.UUID
    position: int
    """0: the robot's next mission."""
    start_s: float
    """Planned start, seconds after `planned_at`."""
    finish_s: float
    eta: datetime
    """Planned end of the mission."""


class RobotPlan(BaseModel):
    """One robot: what it runs now and its queue."""

    manufacturer: str
    serial_number: str
    running: uuid.UUID | None
    """The mission whose order it has, if any."""
    charging: bool
    queue: list[QueuedMission]


class Unassigned(BaseModel):
    """A waiting mission in no queue."""

    mission_id: uuid.UUID
    reason: str
    """no_capable_robot, unreachable, battery, battery_committed, no_robot or unknown_waypoint."""


class ChargerReservation(BaseModel):
    """A charger held by a robot."""

    charger: str
    """The charger's waypoint id."""
    manufacturer: str
    serial_number: str
    phase: str | None
    """going or charging (None: held, robot not on a trip)."""


class SitePlanPublic(BaseModel):
    """The current plan of a site."""

    site_id: str
    planned_at: datetime | None
    """When the plan was made (None: nothing planned yet)."""
    robots: list[RobotPlan]
    unassigned: list[Unassigned]
    chargers: list[ChargerReservation]
    reservations: list[dict[str, Any]]
    """Traffic reservations (robot, resource, node range) when traffic control runs."""
    traffic: dict[str, Any] | None
    """The traffic layer's full table (robots, resources, deadlocks), when it runs."""


@router.get("/{site_id}/plan", response_model=SitePlanPublic)
def get_plan(
    site_id: str, services: ServicesDep, session: SessionDep, _viewer: SiteViewer
) -> SitePlanPublic:
    """The dispatcher's current assignment, charger reservations and traffic reservations."""
    try:
        services.sites.row(session, site_id)
    except SiteNotFound as exc:
        raise NotFound(str(exc)) from exc
    runtime = services.missions
    dispatcher = runtime.dispatcher
    plan = dispatcher.plans.get(site_id)
    trips = dict(dispatcher.trips)
    chargers = [
        ChargerReservation(
            charger=charger,
            manufacturer=robot[0],
            serial_number=robot[1],
            phase=trips[robot].phase.value if robot in trips else None,
        )
        for charger, robot in sorted(dispatcher.chargers.reservations(site_id).items())
    ]
    traffic = _traffic(runtime, site_id)
    return SitePlanPublic(
        site_id=site_id,
        planned_at=plan.made_at if plan else None,
        robots=_robots(runtime, site_id, plan),
        unassigned=[
            Unassigned(mission_id=m, reason=r) for m, r in (plan.unassigned.items() if plan else ())
        ],
        chargers=chargers,
        reservations=list(traffic.get("reservations", [])) if traffic else [],
        traffic=traffic,
    )


def _robots(runtime: MissionRuntime, site_id: str, plan: SitePlan | None) -> list[RobotPlan]:
    running = {
        r.robot: r.mission_id for r in list(runtime.running.values()) if r.site_id == site_id
    }
    queues = dict(plan.queues) if plan else {}
    trips = runtime.dispatcher.trips
    robots = []
    for key in sorted(set(queues) | set(running)):
        live = runtime.live.get(*key)
        base = plan.made_at if plan else datetime.now().astimezone()
        robots.append(
            RobotPlan(
                manufacturer=key[0],
                serial_number=key[1],
                running=running.get(key),
                charging=key in trips or bool(live and live.charging),
                queue=[
                    QueuedMission(
                        mission_id=item.mission_id,
                        position=item.position,
                        start_s=round(item.start_s, 3),
                        finish_s=round(item.finish_s, 3),
                        eta=base + timedelta(seconds=item.finish_s),
                    )
                    for item in queues.get(key, ())
                ],
            )
        )
    return robots


def _traffic(runtime: MissionRuntime, site_id: str) -> dict[str, Any] | None:
    """The traffic layer's table for the site, when the runtime has one."""
    traffic = getattr(runtime, "traffic", None)
    snapshot = getattr(traffic, "snapshot", None)
    if snapshot is None:
        return None
    table = snapshot(site_id)
    return table if isinstance(table, dict) else None

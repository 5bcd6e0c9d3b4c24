"""Robots: register them (MQTT credentials shown once), list them live, change and retire them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, status
from pydantic import AwareDatetime

from fleet_server.auth.roles import Principal, Role
from fleet_server.db.models import Robot
from fleet_server.deps import ActorDep, CurrentUser, ServicesDep, SessionDep
from fleet_server.errors import InvalidInput, NotFound, PermissionDenied
from fleet_server.robots import service
from fleet_server.robots.public import (
    CredentialsPublic,
    RobotCreate,
    RobotDetail,
    RobotPublic,
    RobotRegistered,
    RobotUpdate,
    TelemetryPublic,
    robot_detail,
    robot_public,
    telemetry_public,
)
from fleet_server.robots.registry import find_robot
from fleet_server.robots.service import RobotView
from fleet_server.telemetry.history import telemetry_history

router = APIRouter(prefix="/api/v1/robots", tags=["robots"])

ManufacturerPath = Annotated[str, Path(min_length=1, max_length=100)]
SerialPath = Annotated[str, Path(min_length=1, max_length=100)]
ONE = "/{manufacturer}/{serial_number}"
DEFAULT_HISTORY = timedelta(hours=24)
FIRST_YEAR, LAST_YEAR = 1970, 2200


def _registered(
    session: SessionDep, principal: Principal, manufacturer: str, serial: str, role: Role
) -> Robot:
    # A robot without a site (its site was deleted) belongs to those who see every site.
    robot = find_robot(session, manufacturer, serial)
    if robot is None or not principal.has(Role.VIEWER, robot.site_id):
        raise NotFound(f"no registered robot {manufacturer}/{serial}")
    if not principal.has(role, robot.site_id):
        raise PermissionDenied(f"requires the {role.value} role at site {robot.site_id!r}")
    return robot


@router.post("", status_code=status.HTTP_201_CREATED, response_model=RobotRegistered)
def register(
    body: RobotCreate,
    services: ServicesDep,
    session: SessionDep,
    principal: CurrentUser,
    actor: ActorDep,
) -> RobotRegistered:
    """Register a robot (site manager at its site, or admin); answers its MQTT password once."""
    if not principal.has(Role.SITE_MANAGER, body.site_id):
        raise PermissionDenied(f"requires the site_manager role at site {body.site_id!r}")
    registration = service.register(
        session,
        services.auth.hasher,
        actor,
        manufacturer=body.manufacturer,
        serial_number=body.serial_number,
        kind=body.kind,
        capabilities=body.capabilities,
        site_id=body.site_id,
    )
    robot = registration.robot
    services.robots.put(robot)  # also clears an "unregistered robot" alarm
    live = services.live.get(robot.manufacturer, robot.serial_number)
    return RobotRegistered(
        robot=robot_public(RobotView(robot, live)),
        mqtt_username=registration.mqtt_username,
        mqtt_password=registration.mqtt_password,
    )


@router.get("", response_model=list[RobotPublic])
def list_(
    services: ServicesDep,
    session: SessionDep,
    principal: CurrentUser,
    site_id: Annotated[str | None, Query(max_length=64)] = None,
) -> list[RobotPublic]:
    """Registered robots of the caller's sites with their live state; robots reporting
    without registration are shown to those who see every site."""
    if not principal.has_anywhere(Role.VIEWER):
        raise PermissionDenied("requires the viewer role")
    views = service.robot_views(
        session, services.live, principal.sites_with(Role.VIEWER), site_id=site_id
    )
    return [robot_public(view) for view in views]


@router.get(ONE, response_model=RobotDetail)
def get(
    manufacturer: ManufacturerPath,
    serial_number: SerialPath,
    services: ServicesDep,
    session: SessionDep,
    principal: CurrentUser,
) -> RobotDetail:
    """One robot: registration, live state, last factsheet and current mission."""
    live = services.live.get(manufacturer, serial_number)
    robot = find_robot(session, manufacturer, serial_number)
    if robot is None and live is not None and principal.has(Role.VIEWER):
        return robot_detail(RobotView(None, live), None)
    robot = _registered(session, principal, manufacturer, serial_number, Role.VIEWER)
    return robot_detail(RobotView(robot, live), service.current_mission_id(session, robot))


@router.patch(ONE, response_model=RobotPublic)
def update(
    manufacturer: ManufacturerPath,
    serial_number: SerialPath,
    body: RobotUpdate,
    services: ServicesDep,
    session: SessionDep,
    principal: CurrentUser,
    actor: ActorDep,
) -> RobotPublic:
    """Change kind, capabilities or site (site manager at its site, and at the new one)."""
    robot = _registered(session, principal, manufacturer, serial_number, Role.SITE_MANAGER)
    if body.site_id is not None and not principal.has(Role.SITE_MANAGER, body.site_id):
        raise PermissionDenied(f"requires the site_manager role at site {body.site_id!r}")
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    service.update_robot(session, robot, changes, actor)
    services.robots.put(robot)
    return robot_public(RobotView(robot, services.live.get(manufacturer, serial_number)))


@router.post(ONE + "/decommission", response_model=RobotPublic)
def decommission(
    manufacturer: ManufacturerPath,
    serial_number: SerialPath,
    services: ServicesDep,
    session: SessionDep,
    principal: CurrentUser,
    actor: ActorDep,
) -> RobotPublic:
    """Retire the robot: no more missions, MQTT credentials void. 409 during a mission."""
    robot = _registered(session, principal, manufacturer, serial_number, Role.SITE_MANAGER)
    service.decommission(session, robot, actor)
    services.robots.put(robot)
    return robot_public(RobotView(robot, services.live.get(manufacturer, serial_number)))


@router.post(ONE + "/credentials", response_model=CredentialsPublic)
def rotate_credentials(
    manufacturer: ManufacturerPath,
    serial_number: SerialPath,
    services: ServicesDep,
    session: SessionDep,
    principal: CurrentUser,
    actor: ActorDep,
) -> CredentialsPublic:
    """A new MQTT password for the robot, shown this once."""
    robot = _registered(session, principal, manufacturer, serial_number, Role.SITE_MANAGER)
    credentials = service.rotate_credentials(session, services.auth.hasher, robot, actor)
    services.robots.put(robot)  # the embedded broker reloads its accounts
    return CredentialsPublic(
        mqtt_username=credentials.mqtt_username, mqtt_password=credentials.mqtt_password
    )


def _in_range(name: str, value: datetime) -> datetime:
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise InvalidInput(name, f"must lie within the years {FIRST_YEAR}..{LAST_YEAR}")
    return value


@router.get(ONE + "/telemetry", response_model=TelemetryPublic)
def telemetry(
    manufacturer: ManufacturerPath,
    serial_number: SerialPath,
    session: SessionDep,
    principal: CurrentUser,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    max_points: Annotated[int, Query(ge=1, le=5000)] = 1000,
) -> TelemetryPublic:
    """Pose and battery history (default: the last 24 h), thinned to `max_points`."""
    robot = _registered(session, principal, manufacturer, serial_number, Role.VIEWER)
    end = _in_range("until", until) if until is not None else datetime.now(UTC)
    start = _in_range("since", since) if since is not None else end - DEFAULT_HISTORY
    if start >= end:
        raise InvalidInput("since", "must be earlier than until")
    history = telemetry_history(session, robot.id, start, end, max_points)
    return telemetry_public(manufacturer, serial_number, start, end, history)

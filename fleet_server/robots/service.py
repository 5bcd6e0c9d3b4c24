"""Registering, changing and retiring robots: the rules behind the robots API and CLI."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet_server.alarms.store import live_mission_of
from fleet_server.auth.audit import Actor, record_audit
from fleet_server.auth.passwords import PasswordHasher
from fleet_server.db.models import Robot, Site
from fleet_server.errors import Conflict, InvalidInput
from fleet_server.fleet.live_state import LiveFleet, RobotKey, RobotLive
from fleet_server.robots.registry import (
    Registration,
    RobotExists,
    give_new_password,
    mqtt_username,
    register_robot,
)
from missions.types import Capability


def _target(robot: Robot) -> str:
    return f"robot:{robot.manufacturer}/{robot.serial_number}"


def _require_site(session: Session, site_id: str) -> None:
    if session.get(Site, site_id) is None:
        raise InvalidInput("site_id", f"no site {site_id!r}")


def register(
    session: Session,
    hasher: PasswordHasher,
    actor: Actor,
    *,
    manufacturer: str,
    serial_number: str,
    kind: str,
    capabilities: list[Capability],
    site_id: str,
) -> Registration:
    """Register and commit; the password in the result is shown once and stored only hashed."""
    _require_site(session, site_id)
    try:
        registration = register_robot(
            session,
            hasher,
            manufacturer=manufacturer,
            serial_number=serial_number,
            kind=kind,
            capabilities=list(dict.fromkeys(capabilities)),
            site_id=site_id,
        )
    except RobotExists as exc:
        raise Conflict(str(exc)) from exc
    robot = registration.robot
    record_audit(
        session,
        actor,
        "robot.register",
        target=_target(robot),
        site_id=site_id,
        detail={"kind": kind, "capabilities": robot.capabilities},
    )
    session.commit()
    return registration


def _refuse_if_decommissioned(robot: Robot) -> None:
    if robot.decommissioned:
        raise Conflict(f"robot {robot.manufacturer}/{robot.serial_number} is decommissioned")


def current_mission_id(session: Session, robot: Robot) -> uuid.UUID | None:
    """The robot's live (assigned, not finished) mission, if any."""
    mission = live_mission_of(session, robot.id)
    return mission.id if mission is not None else None


def update_robot(session: Session, robot: Robot, changes: Mapping[str, Any], actor: Actor) -> Robot:
    """Change kind, capabilities and/or site, and commit.

    Moving a robot to another site while it runs a mission is refused (Conflict): the
    mission's orders use the old site's map."""
    _refuse_if_decommissioned(robot)
    site_id = changes.get("site_id")
    if site_id is not None and site_id != robot.site_id:
        _require_site(session, site_id)
        if current_mission_id(session, robot) is not None:
            raise Conflict("the robot has a live mission; move it when the mission is over")
        robot.site_id = site_id
    if changes.get("kind") is not None:
        robot.kind = changes["kind"]
    if changes.get("capabilities") is not None:
        robot.capabilities = [Capability(c).value for c in dict.fromkeys(changes["capabilities"])]
    record_audit(
        session,
        actor,
        "robot.update",
        target=_target(robot),
        site_id=robot.site_id,
        detail={"fields": sorted(changes)},
    )
    session.commit()
    return robot


def decommission(session: Session, robot: Robot, actor: Actor) -> Robot:
    """Retire a robot: it gets no missions and its MQTT credentials stop working.

    Refused (Conflict) while it has a live mission, and when it is retired already."""
    _refuse_if_decommissioned(robot)
    mission_id = current_mission_id(session, robot)
    if mission_id is not None:
        raise Conflict(
            f"robot has the live mission {mission_id}; cancel it or let it finish first",
            extra={"mission_id": str(mission_id)},
        )
    robot.decommissioned = True
    robot.credentials_hash = None
    robot.broker_password_hash = None
    record_audit(session, actor, "robot.decommission", target=_target(robot), site_id=robot.site_id)
    session.commit()
    return robot


@dataclass(frozen=True)
class Credentials:
    """A robot's MQTT account; the password is shown this once."""

    mqtt_username: str
    mqtt_password: str


def rotate_credentials(
    session: Session, hasher: PasswordHasher, robot: Robot, actor: Actor
) -> Credentials:
    """A new MQTT password (the old one stops working once the broker reloads its accounts).

    Also gives robots registered before the broker's hash was stored (revision 0004) their
    broker account."""
    _refuse_if_decommissioned(robot)
    password = give_new_password(robot, hasher)
    record_audit(
        session, actor, "robot.credentials.rotate", target=_target(robot), site_id=robot.site_id
    )
    session.commit()
    return Credentials(mqtt_username(robot.manufacturer, robot.serial_number), password)


@dataclass(frozen=True)
class RobotView:
    """A robot as registered, as seen live, or both."""

    row: Robot | None
    live: RobotLive | None

    @property
    def key(self) -> RobotKey:
        """(manufacturer, serial number)."""
        if self.row is not None:
            return (self.row.manufacturer, self.row.serial_number)
        if self.live is not None:
            return self.live.key
        raise ValueError("a robot view needs a registration or a live record")


def robot_views(
    session: Session,
    live: LiveFleet,
    visible: frozenset[str] | None,
    site_id: str | None = None,
) -> list[RobotView]:
    """Registered robots at the `visible` sites (None: all) merged with their live state,
    and, for callers who see every site, robots that report without being registered."""
    query = select(Robot)
    if visible is not None:
        query = query.where(Robot.site_id.in_(visible))
    if site_id is not None:
        query = query.where(Robot.site_id == site_id)
    rows = list(session.scalars(query))
    views = [RobotView(r, live.get(r.manufacturer, r.serial_number)) for r in rows]
    if visible is None and site_id is None:
        registered = {view.key for view in views}
        views += [RobotView(None, r) for r in live if r.key not in registered]
    return sorted(views, key=lambda view: view.key)

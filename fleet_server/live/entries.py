"""What the live stream says about a robot, a mission or an alarm: plain JSON-ready dicts.

Entries are complete (never patches), so a client that missed some can take the latest
one as the truth; mission entries carry the row's `version` so updates of one mission
can be ordered.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Protocol

from fleet_server.db.models import Mission
from fleet_server.fleet.live_state import RobotKey, RobotLive
from fleet_server.missions.runtime import MissionTransition
from fleet_server.missions.states import MissionState

Entry = dict[str, Any]
MAX_ERRORS_PER_ROBOT = 20
"""A robot reporting more errors than this is shown with the first ones only."""


def robot_ref(key: RobotKey | None) -> str | None:
    """A robot's id in the stream: `manufacturer/serialNumber`."""
    return None if key is None else f"{key[0]}/{key[1]}"


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def robot_entry(robot: RobotLive, site: str | None) -> Entry:
    """A robot as it is now."""
    state = robot.state
    pose = robot.pose
    return {
        "id": robot_ref(robot.key),
        "manufacturer": robot.manufacturer,
        "serial_number": robot.serial_number,
        "site": site,
        "online": robot.online,
        "pose": None
        if pose is None
        else {
            "x": round(pose.x, 3),
            "y": round(pose.y, 3),
            "theta": round(pose.theta, 4),
            "map_id": pose.map_id,
        },
        "battery": robot.battery_charge,
        "charging": robot.charging,
        "driving": robot.driving,
        "operating_mode": robot.operating_mode,
        "paused": bool(state.paused) if state is not None else False,
        "order_id": (state.order_id or None) if state is not None else None,
        "last_node_id": (state.last_node_id or None) if state is not None else None,
        "errors": []
        if state is None
        else [
            {"type": e.error_type, "level": e.error_level.value}
            for e in state.errors[:MAX_ERRORS_PER_ROBOT]
        ],
        "last_seen": _iso(robot.last_seen),
    }


def silent_robot_entry(key: RobotKey, site: str | None) -> Entry:
    """A registered robot that has not reported since the server started."""
    return {
        "id": robot_ref(key),
        "manufacturer": key[0],
        "serial_number": key[1],
        "site": site,
        "online": False,
        "pose": None,
        "battery": None,
        "charging": False,
        "driving": False,
        "operating_mode": None,
        "paused": False,
        "order_id": None,
        "last_node_id": None,
        "errors": [],
        "last_seen": None,
    }


def transition_entry(moved: MissionTransition, robot: RobotKey | None) -> Entry:
    """A mission right after a committed transition."""
    return {
        "id": str(moved.mission_id),
        "site": moved.site_id,
        "kind": moved.kind,
        "priority": moved.priority,
        "state": moved.to_state.value,
        "robot": robot_ref(robot),
        "cause": moved.cause,
        "at": _iso(moved.at),
        "version": moved.version,
    }


def mission_entry(mission: Mission, robot: RobotKey | None, cause: str | None) -> Entry:
    """A mission as stored."""
    return {
        "id": str(mission.id),
        "site": mission.site_id,
        "kind": mission.kind,
        "priority": mission.priority,
        "state": MissionState(mission.state).value,
        "robot": robot_ref(robot),
        "cause": cause,
        "at": _iso(mission.updated_at),
        "version": mission.version,
    }


class AlarmLike(Protocol):
    """What an alarm entry is made of: an `Alarm` row, or the alarms service's record."""

    @property
    def id(self) -> int: ...
    @property
    def site_id(self) -> str | None: ...
    @property
    def robot_id(self) -> int | None: ...
    @property
    def manufacturer(self) -> str | None: ...
    @property
    def serial_number(self) -> str | None: ...
    @property
    def mission_id(self) -> uuid.UUID | None: ...
    @property
    def source(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def code(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def raised_at(self) -> datetime: ...
    @property
    def cleared_at(self) -> datetime | None: ...
    @property
    def acknowledged_by(self) -> str | None: ...
    @property
    def acknowledged_at(self) -> datetime | None: ...
    @property
    def comment(self) -> str | None: ...


def alarm_entry(alarm: AlarmLike, registered: RobotKey | None = None) -> Entry:
    """An alarm as stored; the robot by the identity it carries, else by its registration."""
    robot = registered
    if alarm.manufacturer is not None and alarm.serial_number is not None:
        robot = (alarm.manufacturer, alarm.serial_number)
    return {
        "id": alarm.id,
        "site": alarm.site_id,
        "robot": robot_ref(robot),
        "mission": None if alarm.mission_id is None else str(alarm.mission_id),
        "source": alarm.source,
        "severity": alarm.severity,
        "code": alarm.code,
        "message": alarm.message,
        "raised_at": _iso(alarm.raised_at),
        "cleared_at": _iso(alarm.cleared_at),
        "acknowledged_by": alarm.acknowledged_by,
        "acknowledged_at": _iso(alarm.acknowledged_at),
        "comment": alarm.comment,
    }

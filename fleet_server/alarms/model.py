"""What an alarm is in memory: codes, severities, the stored record, and queued changes."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from fleet_server.db.models import Alarm
from fleet_server.fleet.live_state import RobotKey
from missions.vda5050 import Error, ErrorLevel

Severity = Literal["info", "warning", "error", "critical"]
Source = Literal["robot", "mission", "system"]

ROBOT_OFFLINE = "robot.offline"
ROBOT_UNREGISTERED = "robot.unregistered"
ORDER_GAVE_UP = "order.gave_up"
ORDER_REJECTED = "order.rejected"
PATROL_ANOMALY = "patrol.anomaly"
PATROL_ANOMALY_TYPE = "patrolAnomaly"
"""errorType the agent reports a failed patrol check with (docs/protocol.md, patrolCheck)."""

# VDA 5050 §6.10.6: a FATAL error needs someone to intervene, a WARNING does not.
SEVERITY_OF_LEVEL: dict[str, Severity] = {
    ErrorLevel.WARNING: "warning",
    ErrorLevel.FATAL: "critical",
}
MAX_CODE_CHARS = 64


@dataclass(frozen=True, slots=True)
class AlarmRecord:
    """A stored alarm as listeners and the API see it (a copy, detached from any session)."""

    id: int
    site_id: str | None
    robot_id: int | None
    manufacturer: str | None
    serial_number: str | None
    mission_id: uuid.UUID | None
    source: str
    severity: str
    code: str
    message: str
    raised_at: datetime
    cleared_at: datetime | None
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    comment: str | None

    @classmethod
    def of(cls, row: Alarm) -> AlarmRecord:
        """The record of a row."""
        return cls(
            id=row.id,
            site_id=row.site_id,
            robot_id=row.robot_id,
            manufacturer=row.manufacturer,
            serial_number=row.serial_number,
            mission_id=row.mission_id,
            source=row.source,
            severity=row.severity,
            code=row.code,
            message=row.message,
            raised_at=row.raised_at,
            cleared_at=row.cleared_at,
            acknowledged_by=row.acknowledged_by,
            acknowledged_at=row.acknowledged_at,
            comment=row.comment,
        )


AlarmEventKind = Literal["alarm.raised", "alarm.cleared", "alarm.acknowledged"]


@dataclass(frozen=True, slots=True)
class AlarmEvent:
    """A change to an alarm, announced to listeners after it was committed."""

    kind: AlarmEventKind
    alarm: AlarmRecord


AlarmListener = Callable[[AlarmEvent], None]


@dataclass(frozen=True, slots=True)
class RaiseAlarm:
    """Store a new alarm, unless one with the same `dedup_key` is still uncleared."""

    source: Source
    severity: Severity
    code: str
    message: str
    at: datetime
    site_id: str | None = None
    robot_id: int | None = None
    robot: RobotKey | None = None
    dedup_key: str | None = None
    order_id: str | None = None
    """The mission is looked up from the orderId our orders carry (`<mission id>[-…]`)."""
    only_with_live_mission: bool = False
    """Store it only if the robot has a live mission (which it then names)."""
    unless_registered: bool = False
    """Store it only if the registry (not just the directory's copy) lacks the robot."""


@dataclass(frozen=True, slots=True)
class ClearAlarms:
    """Mark every uncleared alarm with `dedup_key` as cleared."""

    dedup_key: str
    at: datetime


AlarmChange = RaiseAlarm | ClearAlarms


def robot_label(robot: RobotKey) -> str:
    """`manufacturer/serial` as messages and keys write a robot."""
    return f"{robot[0]}/{robot[1]}"


def error_key(robot: RobotKey, error: Error) -> str:
    """The condition a robot error stands for: its errorType, and for patrol findings
    also the action and check (each finding is its own alarm)."""
    key = f"error:{robot_label(robot)}:{error.error_type}"
    if error.error_type == PATROL_ANOMALY_TYPE:
        refs = {r.reference_key: r.reference_value for r in error.error_references or ()}
        key += f":{refs.get('actionId', '')}:{refs.get('check', '')}"
    return key[:300]


def error_alarm(
    robot: RobotKey, error: Error, at: datetime, site_id: str | None, robot_id: int
) -> RaiseAlarm:
    """The alarm for one entry of state.errors (VDA 5050 §6.10.6)."""
    label = robot_label(robot)
    severity = SEVERITY_OF_LEVEL.get(error.error_level, "warning")
    refs = {r.reference_key: r.reference_value for r in error.error_references or ()}
    if error.error_type == PATROL_ANOMALY_TYPE:
        code = PATROL_ANOMALY
        message = (
            f"robot {label}: patrol check {refs.get('check', '?')} failed "
            f"(value {refs.get('value', '?')}, action {refs.get('actionId', '?')})"
        )
    else:
        code = f"robot.{error.error_type}"[:MAX_CODE_CHARS]
        message = f"robot {label}: {error.error_type}"
        if error.error_description:
            message += f": {error.error_description}"
        if error.error_hint:
            message += f" (hint: {error.error_hint})"
    return RaiseAlarm(
        source="robot",
        severity=severity,
        code=code,
        message=message,
        at=at,
        site_id=site_id,
        robot_id=robot_id,
        robot=robot,
        dedup_key=error_key(robot, error),
    )


def offline_key(robot: RobotKey) -> str:
    """The condition "robot offline during a mission"."""
    return f"offline:{robot_label(robot)}"


def unregistered_key(robot: RobotKey) -> str:
    """The condition "robot connected without being registered"."""
    return f"unregistered:{robot_label(robot)}"

"""Feed events: what the operations centre hears about, and the JSON each one is sent as.

Every event has a uuid `id` (receivers de-duplicate by it: a retried delivery carries the
same id and the same body), a `type`, the `site_id` it concerns (null for none) and the
time it happened. The body of a delivery is the event object itself (docs/city.md).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fleet_server.alarms.model import AlarmEvent
from fleet_server.missions.runtime import MissionTransition

MISSION_TRANSITION = "mission.transition"
ALARM_RAISED = "alarm.raised"
ALARM_CLEARED = "alarm.cleared"
ROBOT_ONLINE = "robot.online"
ROBOT_OFFLINE = "robot.offline"
EMERGENCY_STARTED = "site.emergency.started"
EMERGENCY_CLEARED = "site.emergency.cleared"

EVENT_TYPES = (
    MISSION_TRANSITION,
    ALARM_RAISED,
    ALARM_CLEARED,
    ROBOT_ONLINE,
    ROBOT_OFFLINE,
    EMERGENCY_STARTED,
    EMERGENCY_CLEARED,
)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


@dataclass(frozen=True, slots=True)
class FeedEventData:
    """One event before (and after) it is stored in the outbox."""

    type: str
    site_id: str | None
    data: dict[str, Any]
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    occurred_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def document(self) -> dict[str, Any]:
        """The JSON object webhooks receive and the bridge publishes."""
        return {
            "id": str(self.id),
            "type": self.type,
            "site_id": self.site_id,
            "occurred_at": _iso(self.occurred_at),
            "data": self.data,
        }

    def body(self) -> bytes:
        """The document as compact UTF-8 JSON: the exact bytes that are signed."""
        return json.dumps(self.document(), separators=(",", ":"), ensure_ascii=False).encode()


def mission_event(moved: MissionTransition) -> FeedEventData:
    """`mission.transition` from a committed lifecycle transition."""
    return FeedEventData(
        type=MISSION_TRANSITION,
        site_id=moved.site_id,
        occurred_at=moved.at,
        data={
            "mission_id": str(moved.mission_id),
            "kind": moved.kind,
            "priority": moved.priority,
            "robot_id": moved.robot_id,
            "from_state": None if moved.from_state is None else moved.from_state.value,
            "to_state": moved.to_state.value,
            "cause": moved.cause,
        },
    )


def alarm_event(event: AlarmEvent) -> FeedEventData | None:
    """`alarm.raised` / `alarm.cleared`; acknowledgements are not part of the feed."""
    if event.kind not in (ALARM_RAISED, ALARM_CLEARED):
        return None
    alarm = event.alarm
    robot = None
    if alarm.manufacturer is not None and alarm.serial_number is not None:
        robot = f"{alarm.manufacturer}/{alarm.serial_number}"
    return FeedEventData(
        type=event.kind,
        site_id=alarm.site_id,
        occurred_at=alarm.cleared_at
        if event.kind == ALARM_CLEARED and alarm.cleared_at
        else alarm.raised_at,
        data={
            "alarm_id": alarm.id,
            "source": alarm.source,
            "severity": alarm.severity,
            "code": alarm.code,
            "message": alarm.message,
            "robot": robot,
            "mission_id": None if alarm.mission_id is None else str(alarm.mission_id),
            "raised_at": _iso(alarm.raised_at),
            "cleared_at": _iso(alarm.cleared_at),
        },
    )


def robot_event(
    online: bool, manufacturer: str, serial_number: str, site_id: str | None
) -> FeedEventData:
    """`robot.online` / `robot.offline` of a registered robot."""
    return FeedEventData(
        type=ROBOT_ONLINE if online else ROBOT_OFFLINE,
        site_id=site_id,
        data={"robot": f"{manufacturer}/{serial_number}"},
    )


def emergency_event(
    started: bool,
    site_id: str,
    emergency_id: uuid.UUID,
    reason: str,
    actor: str,
    at: datetime,
) -> FeedEventData:
    """`site.emergency.started` / `site.emergency.cleared`."""
    return FeedEventData(
        type=EMERGENCY_STARTED if started else EMERGENCY_CLEARED,
        site_id=site_id,
        occurred_at=at,
        data={"emergency_id": str(emergency_id), "reason": reason, "by": actor},
    )

"""The in-memory live fleet state: what every robot last said, kept off the database.

The ingest hot path writes here and never waits on the database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from missions.vda5050 import AgvPosition, ConnectionState, State

RobotKey = tuple[str, str]
"""(manufacturer, serial number): a robot's identity in VDA 5050."""


@dataclass(slots=True)
class LivePose:
    """A robot's last reported position."""

    x: float
    y: float
    theta: float
    map_id: str


@dataclass(slots=True)
class RobotLive:
    """Everything the server currently knows about one robot."""

    manufacturer: str
    serial_number: str
    online: bool = False
    connection_state: ConnectionState | None = None
    pose: LivePose | None = None
    battery_charge: float | None = None
    charging: bool = False
    operating_mode: str | None = None
    driving: bool = False
    last_seen: datetime | None = None
    last_seen_monotonic: float = 0.0
    state: State | None = field(default=None, repr=False)

    @property
    def key(self) -> RobotKey:
        """The robot's identity."""
        return (self.manufacturer, self.serial_number)


class RobotEvent:
    """Kinds of change the live state announces."""

    ONLINE = "robot.online"
    OFFLINE = "robot.offline"
    STATE = "robot.state"


Listener = Callable[[str, RobotLive], None]


class LiveFleet:
    """All robots' live records, with listeners for online/offline and state changes."""

    def __init__(self, offline_after_s: float) -> None:
        self.offline_after_s = offline_after_s
        self._robots: dict[RobotKey, RobotLive] = {}
        self._listeners: list[Listener] = []

    def __len__(self) -> int:
        return len(self._robots)

    def __iter__(self) -> Iterator[RobotLive]:
        return iter(list(self._robots.values()))

    def get(self, manufacturer: str, serial_number: str) -> RobotLive | None:
        """The record of one robot, if it ever reported."""
        return self._robots.get((manufacturer, serial_number))

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Call listener(event, robot) on every change; returns a function that removes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _emit(self, event: str, robot: RobotLive) -> None:
        for listener in list(self._listeners):
            listener(event, robot)

    def _record(self, key: RobotKey) -> RobotLive:
        robot = self._robots.get(key)
        if robot is None:
            robot = self._robots[key] = RobotLive(manufacturer=key[0], serial_number=key[1])
        return robot

    def _seen(self, robot: RobotLive, now: float) -> None:
        robot.last_seen = datetime.now(UTC)
        robot.last_seen_monotonic = now
        if not robot.online:
            robot.online = True
            self._emit(RobotEvent.ONLINE, robot)

    def apply_connection(self, key: RobotKey, state: ConnectionState, now: float) -> None:
        """A connection message (VDA 5050 §6.14): ONLINE, OFFLINE or the broker's last will."""
        robot = self._record(key)
        robot.connection_state = state
        if state == ConnectionState.ONLINE:
            self._seen(robot, now)
        elif robot.online:
            robot.online = False
            self._emit(RobotEvent.OFFLINE, robot)

    def apply_state(self, key: RobotKey, state: State, now: float) -> None:
        """A full state message."""
        robot = self._record(key)
        robot.state = state
        if state.agv_position is not None:
            robot.pose = _pose(state.agv_position)
        robot.battery_charge = state.battery_state.battery_charge
        robot.charging = state.battery_state.charging
        robot.operating_mode = state.operating_mode.value
        robot.driving = state.driving
        self._seen(robot, now)
        self._emit(RobotEvent.STATE, robot)

    def apply_position(self, key: RobotKey, position: AgvPosition | None, now: float) -> None:
        """A visualization message: pose only."""
        robot = self._record(key)
        if position is not None:
            robot.pose = _pose(position)
        self._seen(robot, now)

    def mark_silent_offline(self, now: float) -> list[RobotLive]:
        """Robots silent for longer than `offline_after_s` go offline; returns them."""
        gone = []
        for robot in self._robots.values():
            if robot.online and now - robot.last_seen_monotonic > self.offline_after_s:
                robot.online = False
                gone.append(robot)
                self._emit(RobotEvent.OFFLINE, robot)
        return gone


def _pose(position: AgvPosition) -> LivePose:
    return LivePose(x=position.x, y=position.y, theta=position.theta, map_id=position.map_id)

"""The in-memory live fleet state: what every robot last said, kept off the database.

The ingest hot path writes here and never waits on the database. Listeners hear about
each change on the event loop; one that raises is logged and the others still run, so a
faulty consumer can never stop the ingest.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from missions.vda5050 import AgvPosition, ConnectionState, Factsheet, State

log = logging.getLogger(__name__)

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
    # Header timestamp of the message the pose came from: how old the pose is by the
    # robot's clock (visualization may omit it, then this stays at the previous value).
    pose_timestamp: datetime | None = None
    battery_charge: float | None = None
    charging: bool = False
    operating_mode: str | None = None
    driving: bool = False
    last_seen: datetime | None = None
    last_seen_monotonic: float = 0.0
    state: State | None = field(default=None, repr=False)
    factsheet: Factsheet | None = field(default=None, repr=False)

    @property
    def key(self) -> RobotKey:
        """The robot's identity."""
        return (self.manufacturer, self.serial_number)


class RobotEvent:
    """Kinds of change the live state announces."""

    ONLINE = "robot.online"
    OFFLINE = "robot.offline"
    STATE = "robot.state"
    """Every accepted state message; `robot.state` is the new one."""
    POSE = "robot.pose"
    """A visualization message moved the robot (state messages announce STATE instead)."""
    ERRORS_CHANGED = "robot.errors"
    """state.errors differs from the previous state's (raised or cleared: alarms)."""
    NODE_REACHED = "robot.node"
    """lastNodeId/lastNodeSequenceId advanced (mission progress)."""
    ACTIONS_CHANGED = "robot.actions"
    """An action appeared in actionStates or changed its actionStatus (mission progress)."""
    FACTSHEET = "robot.factsheet"
    """A factsheet arrived; `robot.factsheet` holds it."""


Listener = Callable[[str, RobotLive], None]


def _error_signature(state: State) -> tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...]:
    return tuple(
        (
            error.error_type,
            error.error_level,
            tuple((r.reference_key, r.reference_value) for r in error.error_references or ()),
        )
        for error in state.errors
    )


def _action_signature(state: State) -> tuple[tuple[str, str], ...]:
    return tuple((a.action_id, a.action_status) for a in state.action_states)


class LiveFleet:
    """All robots' live records, with listeners for online/offline and state changes."""

    def __init__(self, offline_after_s: float) -> None:
        self.offline_after_s = offline_after_s
        self._robots: dict[RobotKey, RobotLive] = {}
        self._listeners: list[Listener] = []
        self.listener_errors = 0

    def __len__(self) -> int:
        return len(self._robots)

    def __iter__(self) -> Iterator[RobotLive]:
        return iter(list(self._robots.values()))

    def get(self, manufacturer: str, serial_number: str) -> RobotLive | None:
        """The record of one robot, if it ever reported."""
        return self._robots.get((manufacturer, serial_number))

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Call listener(event, robot) on every change; returns a function that removes it."""
        # Copy on write: _emit iterates the current list without copying it per message.
        self._listeners = [*self._listeners, listener]

        def remove() -> None:
            self._listeners = [x for x in self._listeners if x is not listener]

        return remove

    def _emit(self, event: str, robot: RobotLive) -> None:
        for listener in self._listeners:
            try:
                listener(event, robot)
            except Exception:
                # One faulty consumer must not stop the ingest or starve the others.
                self.listener_errors += 1
                log.exception("live-fleet listener failed on %s for %s", event, robot.key)

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
        """A full state message: update the record, then announce what changed."""
        robot = self._record(key)
        # Only the newest state is kept: every state held costs the GC ~100 objects to scan.
        previous = robot.state
        robot.state = state
        if state.agv_position is not None:
            robot.pose = _pose(state.agv_position)
            robot.pose_timestamp = state.timestamp
        robot.battery_charge = state.battery_state.battery_charge
        robot.charging = state.battery_state.charging
        robot.operating_mode = state.operating_mode.value
        robot.driving = state.driving
        self._seen(robot, now)
        if not self._listeners:
            return
        self._emit(RobotEvent.STATE, robot)
        for event in _progress_events(previous, state):
            self._emit(event, robot)

    def apply_position(
        self,
        key: RobotKey,
        position: AgvPosition | None,
        now: float,
        timestamp: datetime | None = None,
    ) -> None:
        """A visualization message: pose only."""
        robot = self._record(key)
        if position is not None:
            robot.pose = _pose(position)
            if timestamp is not None:
                robot.pose_timestamp = timestamp
        self._seen(robot, now)
        if position is not None and self._listeners:
            self._emit(RobotEvent.POSE, robot)

    def apply_factsheet(self, key: RobotKey, factsheet: Factsheet, now: float) -> None:
        """A factsheet (VDA 5050 §6.15): kept as the robot's latest."""
        robot = self._record(key)
        robot.factsheet = factsheet
        self._seen(robot, now)
        self._emit(RobotEvent.FACTSHEET, robot)

    def mark_silent_offline(self, now: float) -> list[RobotLive]:
        """Robots silent for longer than `offline_after_s` go offline; returns them."""
        gone = []
        for robot in self._robots.values():
            if robot.online and now - robot.last_seen_monotonic > self.offline_after_s:
                robot.online = False
                gone.append(robot)
                self._emit(RobotEvent.OFFLINE, robot)
        return gone


def _progress_events(previous: State | None, state: State) -> list[str]:
    """Which of ERRORS_CHANGED, NODE_REACHED, ACTIONS_CHANGED a new state amounts to."""
    events = []
    if previous is None:
        if state.errors:
            events.append(RobotEvent.ERRORS_CHANGED)
        if state.last_node_id:
            events.append(RobotEvent.NODE_REACHED)
        if state.action_states:
            events.append(RobotEvent.ACTIONS_CHANGED)
        return events
    # The empty lists are the common case at state rates; skip building signatures then.
    if (state.errors or previous.errors) and _error_signature(state) != _error_signature(previous):
        events.append(RobotEvent.ERRORS_CHANGED)
    if (state.last_node_id, state.last_node_sequence_id) != (
        previous.last_node_id,
        previous.last_node_sequence_id,
    ):
        events.append(RobotEvent.NODE_REACHED)
    if (state.action_states or previous.action_states) and _action_signature(
        state
    ) != _action_signature(previous):
        events.append(RobotEvent.ACTIONS_CHANGED)
    return events


def _pose(position: AgvPosition) -> LivePose:
    return LivePose(x=position.x, y=position.y, theta=position.theta, map_id=position.map_id)

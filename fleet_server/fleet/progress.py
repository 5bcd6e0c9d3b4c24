"""Mission progress from robot state: which order a robot runs, how far it got, how it ended.

The tracker reads each accepted `state` message of a robot that runs one of our orders and
turns it into progress events; the mission service turns those into lifecycle
transitions. Pure logic: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from fleet_server.fleet.live_state import RobotKey
from missions.compiler import CompiledMission
from missions.vda5050 import ActionStatus, ErrorLevel, State

_DONE = frozenset({ActionStatus.FINISHED, ActionStatus.FAILED})


class ProgressKind(StrEnum):
    """What happened to a tracked mission."""

    STARTED = "started"
    """The robot's state shows our order: it took it over."""
    PAUSED = "paused"
    RESUMED = "resumed"
    NODE = "node"
    """The robot traversed a node of the order."""
    ACTION = "action"
    """A mission action changed status (detail: status; result in `result`)."""
    ORDER_DONE = "order_done"
    """Every node traversed and every mission action FINISHED or FAILED."""
    FAULT = "fault"
    """The robot reports a FATAL error: it cannot go on without help."""
    CANCELLED = "cancelled"
    """Our cancelOrder finished: the robot stands and dropped the order."""
    ROBOT_OFFLINE = "robot_offline"
    """The robot running the mission went offline (raised by the runtime, not by state)."""
    ROBOT_ONLINE = "robot_online"
    """That robot is back online."""


@dataclass(frozen=True, slots=True)
class ProgressEvent:
    """One step of a mission's progress."""

    mission_id: str
    kind: ProgressKind
    detail: str = ""
    action_id: str | None = None
    result: str | None = None
    failed_actions: tuple[str, ...] = ()


@dataclass
class TrackedMission:
    """A mission whose order a robot runs."""

    mission_id: str
    robot: RobotKey
    order_id: str
    final_node: tuple[str, int]
    action_ids: set[str]
    started: bool = False
    paused: bool = False
    cancel_action_id: str | None = None
    last_node: tuple[str, int] | None = None
    action_status: dict[str, ActionStatus] = field(default_factory=dict)
    results: dict[str, str | None] = field(default_factory=dict)
    faults_seen: set[str] = field(default_factory=set)
    ended: bool = False


class MissionProgress:
    """All missions in progress, by robot."""

    def __init__(self) -> None:
        self._by_robot: dict[RobotKey, TrackedMission] = {}

    def track(
        self,
        mission_id: str,
        robot: RobotKey,
        *,
        order_id: str,
        final_node: tuple[str, int],
        action_ids: set[str],
    ) -> TrackedMission:
        """Follow a mission whose order was sent to `robot` (one mission per robot)."""
        tracked = TrackedMission(mission_id, robot, order_id, final_node, set(action_ids))
        self._by_robot[robot] = tracked
        return tracked

    def track_order(
        self, mission_id: str, robot: RobotKey, compiled: CompiledMission
    ) -> TrackedMission:
        """Follow the order of `compiled` sent to `robot`: it ends at its last node, with
        every node and edge action."""
        last = compiled.nodes[-1]
        actions = {a.action_id for n in compiled.nodes for a in n.actions}
        actions |= {a.action_id for e in compiled.edges for a in e.actions}
        return self.track(
            mission_id,
            robot,
            order_id=compiled.order_id,
            final_node=(last.node_id, last.sequence_id),
            action_ids=actions,
        )

    def extend(self, robot: RobotKey, final_node: tuple[str, int], action_ids: set[str]) -> None:
        """An order update moved the end of the order and may add actions."""
        tracked = self._by_robot[robot]
        tracked.final_node = final_node
        tracked.action_ids |= action_ids

    def cancel_requested(self, robot: RobotKey, action_id: str) -> None:
        """We sent cancelOrder with this actionId."""
        self._by_robot[robot].cancel_action_id = action_id

    def get(self, robot: RobotKey) -> TrackedMission | None:
        """The mission the robot runs for us, if any."""
        return self._by_robot.get(robot)

    def forget(self, robot: RobotKey) -> None:
        """Stop following the robot's mission."""
        self._by_robot.pop(robot, None)

    def on_state(self, robot: RobotKey, state: State) -> list[ProgressEvent]:
        """Progress events that this state message shows."""
        tracked = self._by_robot.get(robot)
        if tracked is None or tracked.ended or state.order_id != tracked.order_id:
            return []
        events: list[ProgressEvent] = []
        mission = tracked.mission_id
        if not tracked.started:
            tracked.started = True
            events.append(ProgressEvent(mission, ProgressKind.STARTED))
        node = (state.last_node_id, state.last_node_sequence_id)
        if node != tracked.last_node and state.last_node_id:
            tracked.last_node = node
            events.append(ProgressEvent(mission, ProgressKind.NODE, detail=state.last_node_id))
        events += self._actions(tracked, state)
        events += self._pause(tracked, state)
        events += self._faults(tracked, state)
        ending = self._ending(tracked, state)
        if ending is not None:
            tracked.ended = True
            events.append(ending)
        return events

    def _actions(self, tracked: TrackedMission, state: State) -> list[ProgressEvent]:
        events = []
        for action in state.action_states:
            if action.action_id not in tracked.action_ids:
                continue
            if tracked.action_status.get(action.action_id) != action.action_status:
                tracked.action_status[action.action_id] = action.action_status
                tracked.results[action.action_id] = action.result_description
                events.append(
                    ProgressEvent(
                        tracked.mission_id,
                        ProgressKind.ACTION,
                        detail=action.action_status.value,
                        action_id=action.action_id,
                        result=action.result_description,
                    )
                )
        return events

    @staticmethod
    def _pause(tracked: TrackedMission, state: State) -> list[ProgressEvent]:
        paused = bool(state.paused)
        if paused == tracked.paused:
            return []
        tracked.paused = paused
        kind = ProgressKind.PAUSED if paused else ProgressKind.RESUMED
        return [ProgressEvent(tracked.mission_id, kind)]

    @staticmethod
    def _faults(tracked: TrackedMission, state: State) -> list[ProgressEvent]:
        events = []
        # A fault that cleared and comes back pauses the mission again.
        tracked.faults_seen &= {e.error_type for e in state.errors}
        for error in state.errors:
            if error.error_level is not ErrorLevel.FATAL or error.error_type in tracked.faults_seen:
                continue
            tracked.faults_seen.add(error.error_type)
            detail = error.error_type + (
                f": {error.error_description}" if error.error_description else ""
            )
            events.append(ProgressEvent(tracked.mission_id, ProgressKind.FAULT, detail=detail))
        return events

    @staticmethod
    def _ending(tracked: TrackedMission, state: State) -> ProgressEvent | None:
        statuses = {a.action_id: a.action_status for a in state.action_states}
        if (
            tracked.cancel_action_id
            and statuses.get(tracked.cancel_action_id) is ActionStatus.FINISHED
        ):
            return ProgressEvent(tracked.mission_id, ProgressKind.CANCELLED)
        at_end = (state.last_node_id, state.last_node_sequence_id) == tracked.final_node
        actions_done = all(statuses.get(a) in _DONE for a in tracked.action_ids)
        if at_end and not state.node_states and actions_done:
            failed = tuple(
                sorted(a for a in tracked.action_ids if statuses[a] is ActionStatus.FAILED)
            )
            return ProgressEvent(tracked.mission_id, ProgressKind.ORDER_DONE, failed_actions=failed)
        return None

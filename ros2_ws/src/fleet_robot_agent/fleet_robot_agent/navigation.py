"""Navigation decisions without a live node: the NavigateToPose goal tracker and level changes.

`NavigationTracker` is fed the same events the rclpy action client produces (goal
response, feedback, result, each tagged with the ticket the goal was sent under) and
answers with the commands to send. Events for a ticket that is no longer current are
stale: a cancelled or replaced goal's late result never changes what the agent sees.
Callers serialise access (the adapter holds a lock); nothing here is thread-aware.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from fleet_robot_agent.commands import (
    CallTrigger,
    CancelNavGoal,
    Command,
    LoadMap,
    PublishInitialPose,
    SendNavGoal,
    SetSpeedLimit,
)
from fleet_robot_agent.conversions import (
    GoalStatus,
    StampedPose,
    describe_nav2_error,
    nav_status_from_goal_status,
)
from fleet_robot_agent.service_calls import CallState, ServiceCallTracker
from robot_agent.adapter import NavStatus

log = logging.getLogger(__name__)


class NavPhase(StrEnum):
    """Where the current goal stands."""

    IDLE = "idle"
    SENDING = "sending"
    """Sent; Nav2 has not answered whether it accepts it."""
    ACTIVE = "active"
    PAUSED = "paused"
    """Cancelled in Nav2 for a pause; re-sent on resume."""
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class NavProgress:
    """The latest NavigateToPose feedback (distance_remaining, number_of_recoveries)."""

    distance_remaining_m: float
    recoveries: int


@dataclass(frozen=True, slots=True)
class _Goal:
    pose: StampedPose
    max_speed: float | None


class NavigationTracker:
    """One NavigateToPose goal at a time: send, pause (cancel + re-send), cancel, results."""

    def __init__(self, behavior_tree: str = "") -> None:
        self.behavior_tree = behavior_tree
        self.phase = NavPhase.IDLE
        self.failure: str | None = None
        self.progress: NavProgress | None = None
        self.paused = False
        self._ticket: int | None = None
        self._last_ticket = 0
        self._goal: _Goal | None = None

    @property
    def ticket(self) -> int | None:
        """The ticket of the goal in Nav2 now, if any."""
        return self._ticket

    def status(self) -> NavStatus:
        """The agent's view: a paused or unanswered goal is still ACTIVE."""
        match self.phase:
            case NavPhase.IDLE:
                return NavStatus.IDLE
            case NavPhase.SUCCEEDED:
                return NavStatus.SUCCEEDED
            case NavPhase.FAILED:
                return NavStatus.FAILED
            case _:
                return NavStatus.ACTIVE

    def start(self, pose: StampedPose, max_speed: float | None) -> list[Command]:
        """Drive to `pose`, replacing any goal (Nav2's bt_navigator preempts the old one)."""
        self._goal = _Goal(pose, max_speed)
        self.failure, self.progress = None, None
        if self.paused:
            # Held until resume; a goal still in Nav2 must stop now.
            stale, self._ticket = self._ticket, None
            self.phase = NavPhase.PAUSED
            return [CancelNavGoal(stale)] if stale is not None else []
        return self._send(self._goal)

    def _send(self, goal: _Goal) -> list[Command]:
        self._last_ticket += 1
        self._ticket = self._last_ticket
        self.phase = NavPhase.SENDING
        # The edge's maxSpeed (VDA 5050 §6.7) applies until the next goal sets its own.
        return [
            SetSpeedLimit(goal.max_speed),
            SendNavGoal(self._ticket, goal.pose, self.behavior_tree),
        ]

    def pause(self) -> list[Command]:
        """startPause: stop in Nav2 (cancel) but keep the goal to re-send."""
        if self.paused:
            return []
        self.paused = True
        if self.phase in (NavPhase.SENDING, NavPhase.ACTIVE) and self._ticket is not None:
            stale, self._ticket = self._ticket, None
            self.phase = NavPhase.PAUSED
            return [CancelNavGoal(stale)]
        return []

    def resume(self) -> list[Command]:
        """stopPause: re-send the held goal under a new ticket."""
        if not self.paused:
            return []
        self.paused = False
        if self.phase is NavPhase.PAUSED and self._goal is not None:
            return self._send(self._goal)
        return []

    def cancel(self) -> list[Command]:
        """Drop the goal; Nav2 is told to stop if it has it."""
        stale, self._ticket = self._ticket, None
        self._goal, self.progress, self.failure = None, None, None
        self.phase = NavPhase.IDLE
        return [CancelNavGoal(stale)] if stale is not None else []

    def on_goal_response(self, ticket: int, accepted: bool, reason: str = "") -> list[Command]:
        """Nav2 accepted or rejected the goal sent under `ticket`."""
        if ticket != self._ticket:
            # Cancelled or replaced before Nav2 answered: it must not start driving.
            return [CancelNavGoal(ticket)] if accepted else []
        if accepted:
            self.phase = NavPhase.ACTIVE
        else:
            self._fail(reason or "NavigateToPose goal rejected")
        return []

    def on_feedback(self, ticket: int, distance_remaining_m: float, recoveries: int) -> None:
        """NavigateToPose feedback for `ticket`."""
        if ticket == self._ticket:
            self.progress = NavProgress(distance_remaining_m, recoveries)

    def on_result(self, ticket: int, status: int, error_code: int = 0, error_msg: str = "") -> None:
        """The goal's final GoalStatus and NavigateToPose result fields."""
        if ticket != self._ticket:
            return
        if nav_status_from_goal_status(status) is NavStatus.SUCCEEDED:
            self._ticket = None
            self.phase = NavPhase.SUCCEEDED
            return
        try:
            name = GoalStatus(status).name
        except ValueError:
            name = f"status {status}"
        self._fail(f"{name}: {describe_nav2_error(error_code, error_msg)}")

    def reject(self, reason: str) -> list[Command]:
        """Fail a goal that cannot be sent at all (no route to its level, say)."""
        commands = self.cancel()
        self._fail(reason)
        return commands

    def _fail(self, reason: str) -> None:
        self._ticket = None
        self.phase = NavPhase.FAILED
        self.failure = reason
        log.warning("navigation failed: %s", reason)


class LevelPhase(StrEnum):
    """Steps of a level change (a goal on another mapId, DESIGN §5: lifts connect levels)."""

    RIDING = "riding"
    LOADING_MAP = "loading_map"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class LevelChange:
    """Ride the lift to the goal's level, switch Nav2's map, relocalize at the goal.

    The ride: the same Trigger service `request_lift` used to call the cabin, filled
    with the target level, is polled until the building answers success (cabin there,
    doors open). Then map_server loads the level's map and the goal pose (the lift
    node on the new level) is published as the initial pose.
    """

    def __init__(
        self,
        ticket: int,
        target_map_id: str,
        map_url: str,
        arrival: StampedPose,
        lift_service: str,
        started_at: float,
        timeout_s: float,
    ) -> None:
        self.ticket = ticket
        self.target_map_id = target_map_id
        self.map_url = map_url
        self.arrival = arrival
        self.lift_service = lift_service
        self.started_at = started_at
        self.timeout_s = timeout_s
        self.phase = LevelPhase.RIDING
        self.failure: str | None = None

    def status(self) -> NavStatus:
        """ACTIVE while riding or loading, then SUCCEEDED or FAILED."""
        if self.phase is LevelPhase.SUCCEEDED:
            return NavStatus.SUCCEEDED
        if self.phase is LevelPhase.FAILED:
            return NavStatus.FAILED
        return NavStatus.ACTIVE

    def poll(self, now: float, calls: ServiceCallTracker) -> list[Command]:
        """Advance the ride; returns the commands to send."""
        if self.phase is not LevelPhase.RIDING:
            return []
        if now - self.started_at > self.timeout_s:
            self.fail(
                f"lift did not reach level {self.target_map_id} within {self.timeout_s:.0f} s"
            )
            return []
        state = calls.poll(self.lift_service, now)
        if state is CallState.SEND:
            return [CallTrigger(self.lift_service)]
        if state is CallState.DONE:
            self.phase = LevelPhase.LOADING_MAP
            return [LoadMap(self.ticket, self.map_url)]
        return []

    def on_map_loaded(self, ticket: int, ok: bool, detail: str = "") -> list[Command]:
        """map_server answered the LoadMap request sent under `ticket`."""
        if ticket != self.ticket or self.phase is not LevelPhase.LOADING_MAP:
            return []
        if not ok:
            self.fail(f"map_server could not load {self.map_url}: {detail}")
            return []
        self.phase = LevelPhase.SUCCEEDED
        return [PublishInitialPose(self.arrival)]

    def fail(self, reason: str) -> None:
        """Give up with a reason."""
        self.phase = LevelPhase.FAILED
        self.failure = reason
        log.warning("level change to %s failed: %s", self.target_map_id, reason)

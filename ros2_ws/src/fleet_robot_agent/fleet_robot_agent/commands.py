"""Commands from the agent's thread to the rclpy executor, and the queue that carries them.

The agent calls the adapter on its asyncio thread; nothing there may touch rclpy. The
adapter puts commands on a `CommandQueue` and triggers a guard condition (rclpy's
``GuardCondition.trigger()`` is safe from any thread); the executor drains the queue
in that guard condition's callback and makes the rclpy calls itself.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from fleet_robot_agent.conversions import StampedPose


@dataclass(frozen=True, slots=True)
class SendNavGoal:
    """Send a NavigateToPose goal; `ticket` names it in every later event."""

    ticket: int
    pose: StampedPose
    behavior_tree: str = ""


@dataclass(frozen=True, slots=True)
class CancelNavGoal:
    """Cancel the goal sent under `ticket` (a no-op once it is done)."""

    ticket: int


@dataclass(frozen=True, slots=True)
class SetSpeedLimit:
    """Publish nav2_msgs/SpeedLimit in m/s; None lifts the limit."""

    limit_m_s: float | None


@dataclass(frozen=True, slots=True)
class CallSetBool:
    """Call a std_srvs/SetBool service; the response is reported under `service`."""

    service: str
    data: bool


@dataclass(frozen=True, slots=True)
class CallTrigger:
    """Call a std_srvs/Trigger service; the response is reported under `service`."""

    service: str


@dataclass(frozen=True, slots=True)
class LoadMap:
    """Ask Nav2's map_server to load another level's map (nav2_msgs/LoadMap)."""

    ticket: int
    map_url: str


@dataclass(frozen=True, slots=True)
class PublishInitialPose:
    """Tell localization where the robot is (geometry_msgs/PoseWithCovarianceStamped)."""

    pose: StampedPose


@dataclass(frozen=True, slots=True)
class PublishSpeech:
    """Publish a std_msgs/String on the speech topic."""

    payload: str


Command = (
    SendNavGoal
    | CancelNavGoal
    | SetSpeedLimit
    | CallSetBool
    | CallTrigger
    | LoadMap
    | PublishInitialPose
    | PublishSpeech
)


class CommandQueue:
    """A thread-safe FIFO of commands with a wake-up for the consumer.

    `put` may be called from any thread; `drain` from the consumer (the executor).
    The wake-up is called after the commands are queued and outside the lock, so a
    consumer woken early simply finds them on its next drain.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: deque[Command] = deque()
        self._wake: Callable[[], None] | None = None

    def bind(self, wake: Callable[[], None]) -> None:
        """Set the consumer's wake-up (rclpy: the guard condition's trigger)."""
        with self._lock:
            self._wake = wake
            pending = bool(self._items)
        if pending:
            wake()

    def put(self, *commands: Command) -> None:
        """Queue commands in order and wake the consumer."""
        if not commands:
            return
        with self._lock:
            self._items.extend(commands)
            wake = self._wake
        if wake is not None:
            wake()

    def drain(self) -> list[Command]:
        """Everything queued so far, oldest first."""
        with self._lock:
            items = list(self._items)
            self._items.clear()
        return items

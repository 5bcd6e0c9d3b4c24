"""The latest sensor values, written by the rclpy executor and read by the agent.

Each value is stamped with a monotonic receipt time; readers decide staleness. Where a
missing or stale value matters for safety the reader fails safe: the UV/spray
interlock's people count reads as one person (DESIGN §5: UV runs only while nobody
is present), a guided person as not following.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass

from robot_agent.adapter import BatteryReading, Velocity

UNKNOWN_PEOPLE_COUNT = 1
"""people_nearby while the detector is silent: the interlock stays closed."""


@dataclass(frozen=True, slots=True)
class PlanarPose:
    """x, y in metres and yaw in radians in the map frame."""

    x: float
    y: float
    yaw: float


class Readings:
    """Thread-safe latest values; every method takes the lock briefly."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pose: PlanarPose | None = None
        self._velocity: tuple[Velocity, float] | None = None
        self._battery: BatteryReading | None = None
        self._estop: bool | None = None
        self._people: tuple[int, float] | None = None
        self._following: tuple[bool, float] | None = None
        self._sensors: dict[str, tuple[float, float]] = {}

    # writers (executor threads) ------------------------------------------------------

    def set_pose(self, pose: PlanarPose) -> None:
        """Pose from TF (map → base frame)."""
        with self._lock:
            self._pose = pose

    def set_velocity(self, velocity: Velocity, now: float) -> None:
        """Velocity from odometry."""
        with self._lock:
            self._velocity = (velocity, now)

    def set_battery(self, reading: BatteryReading) -> None:
        """Battery from sensor_msgs/BatteryState."""
        with self._lock:
            self._battery = reading

    def set_emergency_stop(self, pressed: bool) -> None:
        """Emergency stop state (published on change, so never stale)."""
        with self._lock:
            self._estop = pressed

    def set_people(self, count: int, now: float) -> None:
        """People detected near the robot."""
        with self._lock:
            self._people = (count, now)

    def set_following(self, following: bool, now: float) -> None:
        """Whether the guided person follows."""
        with self._lock:
            self._following = (following, now)

    def set_sensor(self, name: str, value: float, now: float) -> None:
        """A named scalar sensor."""
        with self._lock:
            self._sensors[name] = (value, now)

    # readers (agent thread) ----------------------------------------------------------

    def pose(self) -> PlanarPose | None:
        """The last pose, None before the first transform."""
        with self._lock:
            return self._pose

    def velocity(self, now: float, stale_after_s: float) -> Velocity:
        """Odometry velocity; zero when odometry is older than `stale_after_s`."""
        with self._lock:
            latest = self._velocity
        if latest is None or now - latest[1] > stale_after_s:
            return Velocity()
        return latest[0]

    def battery(self) -> BatteryReading | None:
        """The last battery reading, None before the first one."""
        with self._lock:
            return self._battery

    def emergency_stop(self) -> bool:
        """True while pressed; False before anything was heard."""
        with self._lock:
            return bool(self._estop)

    def people_nearby(self, now: float, stale_after_s: float) -> int:
        """People count; UNKNOWN_PEOPLE_COUNT when silent, stale or nonsensical (< 0)."""
        with self._lock:
            latest = self._people
        if latest is None or now - latest[1] > stale_after_s or latest[0] < 0:
            return UNKNOWN_PEOPLE_COUNT
        return latest[0]

    def following(self, now: float, stale_after_s: float) -> bool:
        """Guided person following; False when silent or stale."""
        with self._lock:
            latest = self._following
        return latest is not None and now - latest[1] <= stale_after_s and latest[0]

    def sensors(self, now: float, stale_after_s: float) -> Mapping[str, float]:
        """Fresh sensor values by name; stale ones are left out rather than reported."""
        with self._lock:
            items = list(self._sensors.items())
        return {name: value for name, (value, at) in items if now - at <= stale_after_s}

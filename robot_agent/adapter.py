"""The platform adapter: the one interface between the agent and the robot it drives.

The simulator implements it (`sim.adapter`), and so does the ROS 2 node in `ros2_ws/`.
Agent logic never knows which one it drives.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Pose:
    """Where the robot is: metres and radians in the frame of `map_id` (a site level)."""

    x: float
    y: float
    theta: float
    map_id: str


@dataclass(frozen=True, slots=True)
class Velocity:
    """Body-frame velocity in m/s and rad/s."""

    vx: float = 0.0
    vy: float = 0.0
    omega: float = 0.0


@dataclass(frozen=True, slots=True)
class BatteryReading:
    """Battery as the platform reports it."""

    charge_pct: float
    voltage_v: float | None = None
    charging: bool = False
    reach_m: float | None = None


class PlatformAdapter(Protocol):
    """What the agent needs from a robot platform."""

    def read_pose(self) -> Pose:
        """Current pose estimate."""
        ...

    def read_velocity(self) -> Velocity:
        """Current velocity."""
        ...

    def read_battery(self) -> BatteryReading:
        """Current battery state."""
        ...

    def is_driving(self) -> bool:
        """True while the platform is moving under its own control."""
        ...

"""The platform adapter: the one interface between the agent and the robot it drives.

The simulator implements it (`sim.adapter`), and so does the ROS 2 node in `ros2_ws/`.
Agent logic never knows which one it drives. Commands return at once; the agent polls
status on every tick, so an adapter never blocks the agent's loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Pose:
    """Where the robot is: metres and radians in the frame of `map_id` (a site level)."""

    x: float
    y: float
    theta: float
    map_id: str
    initialized: bool = True
    """False while the platform has no localisation (VDA 5050 positionInitialized)."""


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


@dataclass(frozen=True, slots=True)
class NavGoal:
    """Drive to a node: position, optional heading, and the edge's speed limit.

    A goal on another `map_id` than the robot's is a level change (a lift ride); the
    platform carries it out or fails the goal.
    """

    node_id: str
    x: float
    y: float
    map_id: str
    theta: float | None = None
    max_speed: float | None = None
    allowed_deviation_xy: float = 0.25


class NavStatus(StrEnum):
    """Progress of the current navigation goal."""

    IDLE = "idle"
    ACTIVE = "active"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Device(StrEnum):
    """Switchable devices an action may use."""

    UV_LAMP = "uv_lamp"
    SPRAYER = "sprayer"


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

    def navigate_to(self, goal: NavGoal) -> None:
        """Start driving to the goal, replacing any goal in progress."""
        ...

    def navigation_status(self) -> NavStatus:
        """Progress of the last goal."""
        ...

    def cancel_navigation(self) -> None:
        """Stop driving and drop the goal."""
        ...

    def set_paused(self, paused: bool) -> None:
        """Hold still (True) or carry on (False) without dropping the goal."""
        ...

    def set_device(self, device: Device, on: bool) -> bool:
        """Switch a device; False when the robot has no such device or it failed."""
        ...

    def people_nearby(self) -> int:
        """People detected within the safety radius (the UV interlock's input)."""
        ...

    def person_following(self) -> bool:
        """True while a guided person is detected following the robot."""
        ...

    def speak(self, text: str, language: str) -> None:
        """Say something through the robot's speaker."""
        ...

    def read_sensors(self) -> Mapping[str, float]:
        """Latest sensor readings by name (e.g. temperature_c, smoke, door_open, person)."""
        ...

    def start_charging(self) -> bool:
        """Begin charging; False when not on a charger."""
        ...

    def stop_charging(self) -> bool:
        """End charging."""
        ...

    def emergency_stop_active(self) -> bool:
        """True while a hardware emergency stop is pressed."""
        ...

    def request_door(self, door: str) -> bool:
        """Ask the building to open a door; True once it is open for the robot."""
        ...

    def request_lift(self, lift: str, from_map_id: str, to_map_id: str) -> bool:
        """Call a lift to this level; True once the cabin is here with its doors open."""
        ...

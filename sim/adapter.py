"""The simulator's platform adapter: a simulated robot seen through the agent's interface."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from robot_agent.adapter import BatteryReading, Device, NavGoal, NavStatus, Pose, Velocity
from sim.kinematic import Goal, KinematicRobot


@dataclass
class SimSurroundings:
    """What the robot's sensors see; the simulator (or a test) sets it."""

    people_nearby: int = 0
    person_following: bool = True
    sensors: dict[str, float] = field(default_factory=dict)
    chargers: list[tuple[float, float, str]] = field(default_factory=list)
    charger_radius_m: float = 0.5
    emergency_stop: bool = False
    devices: frozenset[Device] = frozenset({Device.UV_LAMP, Device.SPRAYER})
    closed_doors: set[str] = field(default_factory=set)
    """Doors that stay shut however often they are requested (a fault)."""
    busy_lifts: set[str] = field(default_factory=set)
    """Lifts that do not come (busy or out of service)."""
    door_requests: list[str] = field(default_factory=list)
    lift_requests: list[tuple[str, str, str]] = field(default_factory=list)


class SimAdapter:
    """Implements `robot_agent.adapter.PlatformAdapter` over a `KinematicRobot`."""

    def __init__(self, robot: KinematicRobot, surroundings: SimSurroundings | None = None) -> None:
        self.robot = robot
        self.surroundings = surroundings or SimSurroundings()
        self.devices_on: set[Device] = set()
        self.spoken: list[tuple[str, str]] = []

    def read_pose(self) -> Pose:
        """Current pose from the simulation."""
        r = self.robot
        return Pose(x=r.x, y=r.y, theta=r.theta, map_id=r.map_id)

    def read_velocity(self) -> Velocity:
        """Forward speed."""
        return Velocity(vx=self.robot.speed)

    def read_battery(self) -> BatteryReading:
        """Simulated battery."""
        return BatteryReading(charge_pct=self.robot.battery_pct, charging=self.robot.charging)

    def is_driving(self) -> bool:
        """True while the body moves."""
        return self.robot.speed > 0

    def navigate_to(self, goal: NavGoal) -> None:
        """Drive straight to the goal (a lift ride when it is on another map)."""
        limit = goal.max_speed if goal.max_speed is not None else math.inf
        self.robot.set_goal(
            Goal(goal.x, goal.y, goal.map_id, max_speed=limit, tolerance=goal.allowed_deviation_xy)
        )

    def navigation_status(self) -> NavStatus:
        """Progress of the current goal."""
        r = self.robot
        if r.goal is None:
            return NavStatus.IDLE
        if r.goal_failed:
            return NavStatus.FAILED
        return NavStatus.SUCCEEDED if r.goal_reached else NavStatus.ACTIVE

    def cancel_navigation(self) -> None:
        """Stop where it is."""
        self.robot.clear_goal()

    def set_paused(self, paused: bool) -> None:
        """Hold still without dropping the goal."""
        self.robot.paused = paused

    def set_device(self, device: Device, on: bool) -> bool:
        """Switch a simulated device."""
        if device not in self.surroundings.devices:
            return False
        if on:
            self.devices_on.add(device)
        else:
            self.devices_on.discard(device)
        return True

    def people_nearby(self) -> int:
        """People within the interlock radius."""
        return self.surroundings.people_nearby

    def person_following(self) -> bool:
        """Whether the guided person keeps up."""
        return self.surroundings.person_following

    def speak(self, text: str, language: str) -> None:
        """Record what was said."""
        self.spoken.append((language, text))

    def read_sensors(self) -> Mapping[str, float]:
        """Simulated sensor readings."""
        return dict(self.surroundings.sensors)

    def start_charging(self) -> bool:
        """Charge when within reach of a charger on this level."""
        r = self.robot
        near = any(
            m == r.map_id and math.hypot(x - r.x, y - r.y) <= self.surroundings.charger_radius_m
            for x, y, m in self.surroundings.chargers
        )
        r.charging = near
        return near

    def stop_charging(self) -> bool:
        """Stop charging."""
        self.robot.charging = False
        return True

    def emergency_stop_active(self) -> bool:
        """Simulated emergency stop button."""
        return self.surroundings.emergency_stop

    def request_door(self, door: str) -> bool:
        """Doors open on request unless the world keeps them shut."""
        self.surroundings.door_requests.append(door)
        return door not in self.surroundings.closed_doors

    def request_lift(self, lift: str, from_map_id: str, to_map_id: str) -> bool:
        """Lifts come at once unless the world says they are busy."""
        self.surroundings.lift_requests.append((lift, from_map_id, to_map_id))
        return lift not in self.surroundings.busy_lifts

"""The simulator's platform adapter: a simulated robot seen through the agent's interface."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from robot_agent.adapter import BatteryReading, Device, NavGoal, NavStatus, Pose, Velocity
from sim.kinematic import Goal
from sim.world import RobotView


class Body(Protocol):
    """What the adapter drives: a `KinematicRobot` or a `RobotView` of the vectorised world."""

    @property
    def x(self) -> float: ...
    @property
    def y(self) -> float: ...
    @property
    def theta(self) -> float: ...
    @property
    def map_id(self) -> str: ...
    @property
    def speed(self) -> float: ...
    @property
    def battery_pct(self) -> float: ...
    @property
    def goal(self) -> Goal | None: ...
    @property
    def goal_reached(self) -> bool: ...
    @property
    def goal_failed(self) -> bool: ...

    charging: bool
    paused: bool

    def set_goal(self, goal: Goal) -> None: ...
    def clear_goal(self) -> None: ...


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
    """Implements `robot_agent.adapter.PlatformAdapter` over one simulated body.

    Over a `KinematicRobot` the surroundings are whatever `SimSurroundings` says; over a
    `RobotView` the world answers (people, sensors, chargers, doors, lifts) and
    `SimSurroundings` adds to it (extra people, sensor overrides, doors kept shut, lifts
    that do not come, the emergency stop).
    """

    def __init__(self, robot: Body, surroundings: SimSurroundings | None = None) -> None:
        self.robot = robot
        self.surroundings = surroundings or SimSurroundings()
        self.devices_on: set[Device] = set()
        self.spoken: list[tuple[str, str]] = []
        self._view = robot if isinstance(robot, RobotView) else None
        model = self._view.model if self._view is not None else None
        self.devices = self.surroundings.devices
        if model is not None:
            carried = {Device.UV_LAMP} if model.has_uv_lamp else set()
            carried |= {Device.SPRAYER} if model.has_sprayer else set()
            self.devices = self.devices & frozenset(carried)

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
        """Switch a simulated device (its power draw counts in the world)."""
        if device not in self.devices:
            return False
        if on:
            self.devices_on.add(device)
        else:
            self.devices_on.discard(device)
        if self._view is not None:
            r, i = self._view.world.r, self._view.i
            flags = r.uv_on if device is Device.UV_LAMP else r.spray_on
            flags[i] = on
        return True

    def all_devices_off(self) -> None:
        """Switch everything off (the agent process is gone)."""
        for device in list(self.devices_on):
            self.set_device(device, False)

    def people_nearby(self) -> int:
        """People within the interlock radius."""
        extra = self.surroundings.people_nearby
        if self._view is None:
            return extra
        return extra + self._view.world.people_near(self._view.i)

    def person_following(self) -> bool:
        """Whether the guided person keeps up."""
        if not self.surroundings.person_following or self._view is None:
            return self.surroundings.person_following
        return self._view.world.visitor_following(self._view.i)

    def speak(self, text: str, language: str) -> None:
        """Record what was said."""
        self.spoken.append((language, text))

    def read_sensors(self) -> Mapping[str, float]:
        """Simulated sensor readings (the world's, overridden by the surroundings')."""
        readings = {} if self._view is None else self._view.world.read_sensors(self._view.i)
        return {**readings, **self.surroundings.sensors}

    def start_charging(self) -> bool:
        """Charge when within reach of a charger on this level."""
        r = self.robot
        near = any(
            m == r.map_id and math.hypot(x - r.x, y - r.y) <= self.surroundings.charger_radius_m
            for x, y, m in self.surroundings.chargers
        )
        if self._view is not None:
            near = near or self._view.world.near_charger(self._view.i)
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
        """Doors open on request (after the world's delay) unless kept shut."""
        self.surroundings.door_requests.append(door)
        if door in self.surroundings.closed_doors:
            return False
        return True if self._view is None else self._view.world.request_door(door)

    def request_lift(self, lift: str, from_map_id: str, to_map_id: str) -> bool:
        """Lifts come (at once, or when the world's lift arrives) unless busy."""
        self.surroundings.lift_requests.append((lift, from_map_id, to_map_id))
        if lift in self.surroundings.busy_lifts:
            return False
        if self._view is None:
            return True
        return self._view.world.request_lift(self._view.i, lift, from_map_id, to_map_id)

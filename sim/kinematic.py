"""A kinematic robot body: drives to goals with speed and acceleration limits.

Enough for the onboard agent's tests and the first demo; the vectorised simulator of the
"Simulator" issue moves many bodies at once on site maps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass
class LoopRoute:
    """A closed polyline on one map level, parameterised by arc length."""

    points: FloatArray
    map_id: str
    _cumulative: FloatArray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        pts = np.asarray(self.points, dtype=np.float64)
        if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) < 2:
            raise ValueError("points: need at least two (x, y) pairs")
        closed = np.vstack([pts, pts[:1]])
        seg = np.hypot(*np.diff(closed, axis=0).T)
        if not np.all(seg > 0):
            raise ValueError("points: consecutive points must differ")
        self.points = closed
        self._cumulative = np.concatenate([[0.0], np.cumsum(seg)])

    @property
    def length(self) -> float:
        """Total length in metres."""
        return float(self._cumulative[-1])

    def pose_at(self, s: float) -> tuple[float, float, float]:
        """(x, y, heading) at arc length s (wrapped around the loop)."""
        s = s % self.length
        i = int(np.searchsorted(self._cumulative, s, side="right") - 1)
        i = min(i, len(self.points) - 2)
        (x0, y0), (x1, y1) = self.points[i], self.points[i + 1]
        frac = (s - self._cumulative[i]) / (self._cumulative[i + 1] - self._cumulative[i])
        return (x0 + frac * (x1 - x0), y0 + frac * (y1 - y0), math.atan2(y1 - y0, x1 - x0))


@dataclass
class Goal:
    """Where the body is driving to."""

    x: float
    y: float
    map_id: str
    max_speed: float
    tolerance: float


@dataclass
class KinematicRobot:
    """One robot body: pose, speed limits, battery; drives straight to its goal.

    A goal on another map is a lift ride: the body waits `lift_ride_s` and appears at the
    goal on the new map. With `wander` set and no goal, it follows `route` (demo idling).
    """

    x: float = 0.0
    y: float = 0.0
    theta: float = 0.0
    map_id: str = "L1"
    max_speed_m_s: float = 1.0
    accel_m_s2: float = 0.5
    battery_pct: float = 100.0
    drain_pct_per_m: float = 0.01
    idle_drain_pct_per_s: float = 0.001
    charge_pct_per_s: float = 0.05
    lift_ride_s: float = 5.0
    charging: bool = False
    paused: bool = False
    route: LoopRoute | None = None
    wander: bool = False
    speed: float = 0.0
    goal: Goal | None = None
    goal_reached: bool = False
    goal_failed: bool = False
    odometer_m: float = 0.0
    _route_s: float = 0.0
    _lift_wait_s: float = 0.0

    def __post_init__(self) -> None:
        if self.route is not None and self.wander:
            self.x, self.y, self.theta = self.route.pose_at(0.0)
            self.map_id = self.route.map_id

    def set_goal(self, goal: Goal) -> None:
        """Drive to goal from here."""
        self.goal, self.goal_reached, self.goal_failed = goal, False, False
        self._lift_wait_s = 0.0
        self.wander = False

    def clear_goal(self) -> None:
        """Stop and forget the goal."""
        self.goal, self.speed = None, 0.0

    def step(self, dt: float) -> None:
        """Advance dt seconds."""
        if self.charging:
            self.battery_pct = min(100.0, self.battery_pct + self.charge_pct_per_s * dt)
        else:
            self.battery_pct = max(0.0, self.battery_pct - self.idle_drain_pct_per_s * dt)
        if self.paused or self.battery_pct <= 0 or self.charging:
            self.speed = 0.0
            return
        if self.goal is not None and not self.goal_reached:
            self._drive_to_goal(self.goal, dt)
        elif self.wander and self.route is not None:
            self._follow_route(self.route, dt)

    def _advance(self, distance: float) -> None:
        self.odometer_m += distance
        self.battery_pct = max(0.0, self.battery_pct - distance * self.drain_pct_per_m)

    def _drive_to_goal(self, goal: Goal, dt: float) -> None:
        if goal.map_id != self.map_id:
            self.speed = 0.0
            self._lift_wait_s += dt
            if self._lift_wait_s >= self.lift_ride_s:
                self.x, self.y, self.map_id = goal.x, goal.y, goal.map_id
                self.goal_reached = True
            return
        dx, dy = goal.x - self.x, goal.y - self.y
        dist = math.hypot(dx, dy)
        if dist <= min(goal.tolerance, 0.02) or dist < 1e-6:
            self.speed, self.goal_reached = 0.0, True
            return
        limit = min(self.max_speed_m_s, goal.max_speed)
        # Brake so as to stop on the goal: v <= sqrt(2 a d).
        target = min(limit, math.sqrt(2 * self.accel_m_s2 * dist))
        if self.speed < target:
            self.speed = min(target, self.speed + self.accel_m_s2 * dt)
        else:
            self.speed = target
        step = min(dist, max(self.speed, 0.05) * dt)
        self.theta = math.atan2(dy, dx)
        self.x += step * dx / dist
        self.y += step * dy / dist
        self._advance(step)
        if dist - step <= 1e-3:
            self.speed, self.goal_reached = 0.0, True

    def _follow_route(self, route: LoopRoute, dt: float) -> None:
        self.speed = self.max_speed_m_s
        ds = self.speed * dt
        self._route_s = (self._route_s + ds) % route.length
        self.x, self.y, self.theta = route.pose_at(self._route_s)
        self.map_id = route.map_id
        self._advance(ds)

    def pose(self) -> tuple[float, float, float]:
        """(x, y, heading) now."""
        return (self.x, self.y, self.theta)

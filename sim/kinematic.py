"""A minimal kinematic simulation: robots driving closed routes at constant speed.

Enough for the first vertical slice (robots that move and drain their battery); the full
simulator (lanes, lifts, people, faults) replaces the motion model.
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
class KinematicRobot:
    """One robot moving along its route; battery drains with distance and time."""

    route: LoopRoute
    speed_m_s: float = 0.8
    battery_pct: float = 100.0
    drain_pct_per_m: float = 0.01
    idle_drain_pct_per_s: float = 0.001
    s: float = 0.0
    moving: bool = True

    def step(self, dt: float) -> None:
        """Advance dt seconds."""
        if self.moving and self.battery_pct > 0:
            ds = self.speed_m_s * dt
            self.s = (self.s + ds) % self.route.length
            self.battery_pct -= ds * self.drain_pct_per_m
        self.battery_pct = max(0.0, self.battery_pct - dt * self.idle_drain_pct_per_s)

    def pose(self) -> tuple[float, float, float]:
        """(x, y, heading) now."""
        return self.route.pose_at(self.s)

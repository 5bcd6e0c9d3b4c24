"""People in the simulated site: walkers, intruders and guided visitors, all vectorised.

Walkers belong to a flow: an area of one level (a set of waypoints, or the whole level)
with a target head count per hour of the day. They walk along the lanes between the
area's waypoints at walking pace, linger a little at each, and appear or leave so that the
head count follows the hour. A person within a robot's interlock radius trips its UV/spray
interlock (`count_near`).

Visitors are the people a guide robot leads: one per robot, with an outcome drawn from
`VisitorOdds` when the robot starts waiting for them: follows at walking pace, lags behind,
stops somewhere on the way, or never shows up.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from missions.sites import Site

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

HOURS = 24


@dataclass(frozen=True)
class PeopleFlow:
    """Walkers in one area of one level; `hourly[h]` people are there during hour h."""

    name: str
    level: str
    hourly: tuple[int, ...]
    waypoints: tuple[str, ...] = ()
    """Waypoint ids or names of the area; empty: every waypoint of the level."""
    speed_m_s: float = 1.2
    linger_s: float = 30.0
    """Longest stop at a waypoint (uniform from 0)."""

    def __post_init__(self) -> None:
        if len(self.hourly) != HOURS or any(c < 0 for c in self.hourly):
            raise ValueError(f"flow {self.name!r}: hourly needs 24 counts >= 0")
        if not 0 < self.speed_m_s <= 3:
            raise ValueError(f"flow {self.name!r}: speed_m_s must be in (0, 3]")


class Crowd:
    """Every walker of every flow, plus people standing still (intruders), as arrays."""

    def __init__(
        self,
        site: Site,
        flows: Sequence[PeopleFlow],
        level_index: Mapping[str, int],
        rng: np.random.Generator,
        *,
        update_every_s: float = 10.0,
    ) -> None:
        self.flows = tuple(flows)
        self._rng = rng
        self._update_every_s = update_every_s
        self._next_update = 0.0
        self._build_graph(site, level_index)
        capacity = sum(max(f.hourly) for f in self.flows)
        self.x = np.zeros(capacity)
        self.y = np.zeros(capacity)
        self.level = np.full(capacity, -1, dtype=np.int64)
        self.flow = np.zeros(capacity, dtype=np.int64)
        self.target = np.zeros(capacity, dtype=np.int64)
        self.speed = np.zeros(capacity)
        self.linger_until = np.zeros(capacity)
        self.alive = np.zeros(capacity, dtype=np.bool_)
        self._flow_speed = np.array([f.speed_m_s for f in self.flows])
        self._flow_linger = np.array([f.linger_s for f in self.flows])
        self._static: list[tuple[int, float, float, float, float]] = []

    def _build_graph(self, site: Site, level_index: Mapping[str, int]) -> None:
        # Each flow gets its own copy of its area's nodes, so one CSR adjacency serves all
        # flows and a walker never leaves its area.
        xs: list[float] = []
        ys: list[float] = []
        lv: list[int] = []
        neighbours: list[list[int]] = []
        starts: list[int] = []
        by_id = {wp.id: wp for wp in site.all_waypoints()}
        by_name: dict[str, list[str]] = {}
        for wp in site.all_waypoints():
            by_name.setdefault(wp.name, []).append(wp.id)
        for flow in self.flows:
            level = site.level(flow.level)
            if flow.waypoints:
                ids = [_resolve(flow, ref, by_id, by_name) for ref in flow.waypoints]
            else:
                ids = [wp.id for wp in level.waypoints]
            if not ids:
                raise ValueError(f"flow {flow.name!r}: level {flow.level!r} has no waypoints")
            local = {wp_id: i for i, wp_id in enumerate(ids)}
            base = len(xs)
            starts.append(base)
            adjacency: list[set[int]] = [set() for _ in ids]
            for lane in level.lanes:
                a, b = local.get(lane.start), local.get(lane.end)
                if a is not None and b is not None and a != b:
                    adjacency[a].add(b)
                    adjacency[b].add(a)  # people walk both ways
            for wp_id in ids:
                wp = by_id[wp_id]
                xs.append(wp.x)
                ys.append(wp.y)
                lv.append(level_index[flow.level])
            neighbours.extend(sorted(base + j for j in adj) for adj in adjacency)
        self.node_x = np.array(xs, dtype=np.float64)
        self.node_y = np.array(ys, dtype=np.float64)
        self.node_level = np.array(lv, dtype=np.int64)
        self.indptr = np.zeros(len(neighbours) + 1, dtype=np.int64)
        self.indptr[1:] = np.cumsum([len(n) for n in neighbours])
        self.indices = np.array([j for n in neighbours for j in n], dtype=np.int64)
        self.flow_start = np.array(starts, dtype=np.int64)
        self.flow_size = np.array(
            [b - a for a, b in zip(starts, [*starts[1:], len(xs)], strict=True)], dtype=np.int64
        )

    # --- who is where ---------------------------------------------------------------------

    def count_near(self, level: int, x: float, y: float, radius: float, t: float) -> int:
        """People (walkers and standing intruders) on `level` within `radius` of (x, y)."""
        near = self.alive & (self.level == level)
        near &= np.hypot(self.x - x, self.y - y) <= radius
        count = int(np.count_nonzero(near))
        for lvl, sx, sy, start, end in self._static:
            if lvl == level and start <= t < end and math.hypot(sx - x, sy - y) <= radius:
                count += 1
        return count

    def add_standing_person(self, level: int, x: float, y: float, start: float, end: float) -> None:
        """Someone who stays put from `start` to `end` (an intruder in a closed zone)."""
        self._static.append((level, x, y, start, end))

    def head_count(self) -> npt.NDArray[np.int64]:
        """Walkers present per flow."""
        return np.bincount(self.flow[self.alive], minlength=len(self.flows)).astype(np.int64)

    # --- time --------------------------------------------------------------------------------

    def step(self, dt: float, t: float, hour: int) -> None:
        """Move every walker; every `update_every_s`, match head counts to the hour."""
        if t >= self._next_update:
            self._next_update = t + self._update_every_s
            self._match_head_counts(hour)
        walking = self.alive & (self.linger_until <= t)
        if not walking.any():
            return
        tx, ty = self.node_x[self.target], self.node_y[self.target]
        dx, dy = tx - self.x, ty - self.y
        dist = np.hypot(dx, dy)
        stride = np.minimum(dist, self.speed * dt)
        safe = np.where(dist > 0, dist, 1.0)
        self.x = np.where(walking, self.x + stride * dx / safe, self.x)
        self.y = np.where(walking, self.y + stride * dy / safe, self.y)
        arrived = walking & (dist - stride <= 1e-6)
        if arrived.any():
            who = np.flatnonzero(arrived)
            self.target[who] = self._next_nodes(self.target[who], self.flow[who])
            linger = self._flow_linger[self.flow[who]] * self._rng.random(len(who))
            self.linger_until[who] = t + linger

    def _next_nodes(self, nodes: IntArray, flows: IntArray) -> IntArray:
        """A random lane neighbour of each node; a random area node where there is none."""
        start, end = self.indptr[nodes], self.indptr[nodes + 1]
        degree = end - start
        draw = self._rng.random(len(nodes))
        pick = start + np.floor(draw * np.maximum(degree, 1)).astype(np.int64)
        anywhere = self.flow_start[flows] + np.floor(draw * self.flow_size[flows]).astype(np.int64)
        if not len(self.indices):
            return anywhere
        lane_pick = self.indices[np.minimum(pick, len(self.indices) - 1)]
        return np.where(degree > 0, lane_pick, anywhere)

    def _match_head_counts(self, hour: int) -> None:
        present = self.head_count()
        for f, flow in enumerate(self.flows):
            want = flow.hourly[hour % HOURS]
            have = int(present[f])
            if want > have:
                self._spawn(f, want - have)
            elif have > want:
                mine = np.flatnonzero(self.alive & (self.flow == f))
                leaving = self._rng.choice(mine, size=have - want, replace=False)
                self.alive[leaving] = False

    def _spawn(self, f: int, count: int) -> None:
        free = np.flatnonzero(~self.alive)[:count]
        nodes = self.flow_start[f] + self._rng.integers(0, self.flow_size[f], size=len(free))
        self.x[free] = self.node_x[nodes]
        self.y[free] = self.node_y[nodes]
        self.level[free] = self.node_level[nodes]
        self.flow[free] = f
        self.target[free] = self._next_nodes(nodes, np.full(len(free), f, dtype=np.int64))
        self.speed[free] = self._flow_speed[f] * self._rng.uniform(0.8, 1.2, size=len(free))
        self.linger_until[free] = 0.0
        self.alive[free] = True


def _resolve(
    flow: PeopleFlow,
    ref: str,
    by_id: Mapping[str, object],
    by_name: Mapping[str, list[str]],
) -> str:
    if ref in by_id:
        return ref
    ids = by_name.get(ref, [])
    if len(ids) != 1:
        problem = "is not a waypoint" if not ids else f"is ambiguous ({', '.join(ids)})"
        raise ValueError(f"flow {flow.name!r}: waypoints: {ref!r} {problem}")
    return ids[0]


# --- guided visitors ---------------------------------------------------------------------------


class VisitorOutcome(IntEnum):
    """What the guided person does."""

    FOLLOWS = 0
    LAGS = 1
    STOPS = 2
    NO_SHOW = 3


class VisitorState(IntEnum):
    """Where a robot's visitor is in their story."""

    NONE = 0
    COMING = 1
    FOLLOWING = 2
    STOPPED = 3
    ABSENT = 4


@dataclass(frozen=True)
class VisitorOdds:
    """Chances of each outcome; they must add up to 1."""

    follows: float = 0.85
    lags: float = 0.07
    stops: float = 0.05
    no_show: float = 0.03

    def __post_init__(self) -> None:
        values = {"follows": self.follows, "lags": self.lags, "stops": self.stops}
        values["no_show"] = self.no_show
        for name, value in values.items():
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"visitors.{name}: must be between 0 and 1, got {value}")
        if not math.isclose(sum(values.values()), 1.0, abs_tol=1e-6):
            raise ValueError(f"visitors: follows + lags + stops + no_show must be 1, got {values}")

    def probabilities(self) -> FloatArray:
        """In `VisitorOutcome` order."""
        return np.array([self.follows, self.lags, self.stops, self.no_show])


@dataclass(frozen=True)
class VisitorBehaviour:
    """How visitors walk."""

    odds: VisitorOdds = field(default_factory=VisitorOdds)
    arrive_within_s: float = 20.0
    walk_speed_m_s: float = 1.2
    lag_speed_m_s: float = 0.35
    stop_after_s: tuple[float, float] = (20.0, 120.0)
    follow_radius_m: float = 3.0
    gap_m: float = 1.0
    session_idle_s: float = 600.0
    """A visitor who is not asked about for this long has gone (the guidance ended)."""


class Visitors:
    """One (possible) visitor per robot."""

    def __init__(self, behaviour: VisitorBehaviour, rng: np.random.Generator) -> None:
        self.behaviour = behaviour
        self._rng = rng
        self.state = np.zeros(0, dtype=np.int64)
        self.outcome = np.zeros(0, dtype=np.int64)
        self.x = np.zeros(0)
        self.y = np.zeros(0)
        self.level = np.zeros(0, dtype=np.int64)
        self.arrive_at = np.zeros(0)
        self.stop_at = np.zeros(0)
        self.last_asked = np.zeros(0)
        self.aboard = np.zeros(0, dtype=np.bool_)

    def grow(self, count: int) -> None:
        """Room for `count` more robots."""
        self.state = np.concatenate([self.state, np.zeros(count, dtype=np.int64)])
        self.outcome = np.concatenate([self.outcome, np.zeros(count, dtype=np.int64)])
        self.x = np.concatenate([self.x, np.zeros(count)])
        self.y = np.concatenate([self.y, np.zeros(count)])
        self.level = np.concatenate([self.level, np.full(count, -1, dtype=np.int64)])
        self.arrive_at = np.concatenate([self.arrive_at, np.zeros(count)])
        self.stop_at = np.concatenate([self.stop_at, np.full(count, np.inf)])
        self.last_asked = np.concatenate([self.last_asked, np.zeros(count)])
        self.aboard = np.concatenate([self.aboard, np.zeros(count, dtype=np.bool_)])

    def following(self, robot: int, t: float, rx: float, ry: float, rlevel: int) -> bool:
        """Whether robot's visitor is with it now; the first question starts a visit."""
        b = self.behaviour
        if self.state[robot] == VisitorState.NONE:
            self._start(robot, t)
        self.last_asked[robot] = t
        if self.state[robot] in (VisitorState.FOLLOWING, VisitorState.STOPPED):
            same_level = self.level[robot] == rlevel
            near = math.hypot(self.x[robot] - rx, self.y[robot] - ry) <= b.follow_radius_m
            return bool(same_level and near)
        return False

    def _start(self, robot: int, t: float) -> None:
        b = self.behaviour
        outcome = int(self._rng.choice(len(VisitorOutcome), p=b.odds.probabilities()))
        self.outcome[robot] = outcome
        if outcome == VisitorOutcome.NO_SHOW:
            self.state[robot] = VisitorState.ABSENT
            return
        self.state[robot] = VisitorState.COMING
        self.arrive_at[robot] = t + b.arrive_within_s * self._rng.random()
        lo, hi = b.stop_after_s
        stops = outcome == VisitorOutcome.STOPS
        self.stop_at[robot] = self.arrive_at[robot] + self._rng.uniform(lo, hi) if stops else np.inf

    def step(self, dt: float, t: float, rx: FloatArray, ry: FloatArray, rlevel: IntArray) -> None:
        """Arrivals, following at walking pace, stopping, and the end of visits."""
        if not self.state.any():
            return
        b = self.behaviour
        idle = (self.state != VisitorState.NONE) & (t - self.last_asked > b.session_idle_s)
        self.state[idle] = VisitorState.NONE
        arriving = (self.state == VisitorState.COMING) & (self.arrive_at <= t)
        if arriving.any():
            self.state[arriving] = VisitorState.FOLLOWING
            self.x[arriving], self.y[arriving] = rx[arriving], ry[arriving]
            self.level[arriving] = rlevel[arriving]
        stopping = (self.state == VisitorState.FOLLOWING) & (self.stop_at <= t)
        self.state[stopping] = VisitorState.STOPPED
        walking = (self.state == VisitorState.FOLLOWING) & (self.level == rlevel) & ~self.aboard
        if not walking.any():
            return
        speed = np.where(self.outcome == VisitorOutcome.LAGS, b.lag_speed_m_s, b.walk_speed_m_s)
        dx, dy = rx - self.x, ry - self.y
        dist = np.hypot(dx, dy)
        stride = np.clip(dist - b.gap_m, 0.0, speed * dt)
        safe = np.where(dist > 0, dist, 1.0)
        self.x = np.where(walking, self.x + stride * dx / safe, self.x)
        self.y = np.where(walking, self.y + stride * dy / safe, self.y)

    def board(self, robots: IntArray, rx: FloatArray, ry: FloatArray) -> None:
        """Robots entering a lift take their visitor along when the visitor is with them."""
        r = self.behaviour.follow_radius_m
        with_robot = (self.state[robots] == VisitorState.FOLLOWING) & (
            np.hypot(self.x[robots] - rx, self.y[robots] - ry) <= r
        )
        self.aboard[robots[with_robot]] = True

    def alight(self, robots: IntArray, rx: FloatArray, ry: FloatArray, rlevel: IntArray) -> None:
        """Visitors aboard step out with their robot on the new level."""
        out = self.aboard[robots]
        who = robots[out]
        self.x[who], self.y[who], self.level[who] = rx[out], ry[out], rlevel[out]
        self.aboard[who] = False

    def count_near(self, level: int, x: float, y: float, radius: float) -> int:
        """Visitors present on `level` within `radius` of (x, y)."""
        present = (self.state == VisitorState.FOLLOWING) | (self.state == VisitorState.STOPPED)
        near = present & (self.level == level) & (np.hypot(self.x - x, self.y - y) <= radius)
        return int(np.count_nonzero(near))

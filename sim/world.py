"""The simulated world: a site, its lifts and doors, people, and every robot as numpy arrays.

One array per quantity (x, y, heading, speed, level, goal, limits, battery, flags), so
`World.step(dt)` advances all robots with array operations: driving to goals with
acceleration and braking, lift rides (wait, then travel time per floor, then the robot
appears on the target level), charging at chargers, and battery drain while moving, idle,
with the UV lamp or the sprayer on. Python loops run only over the few robots for which
something happens in a step (boarding a lift) and over the handful of lifts.

`World.robot(i)` gives a `RobotView`, the per-robot face the sim adapter drives.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from missions.sites import Site
from sim.kinematic import Goal
from sim.models import RobotModel
from sim.people import Crowd, PeopleFlow, VisitorBehaviour, Visitors

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

CREEP_SPEED_M_S = 0.05
"""The slowest a driving robot moves, so braking towards a goal always ends."""
ARRIVE_TOLERANCE_M = 0.02
LIFT_DOOR_S = 4.0
"""Doors opening and closing around a ride in a lift that is already waiting."""
LIFT_HOLD_S = 120.0
"""A lift called but not boarded is released after this long."""
AMBIENT_TEMPERATURE_C = 22.0


class GoalState(IntEnum):
    """Progress of a robot's navigation goal."""

    NONE = 0
    ACTIVE = 1
    SUCCEEDED = 2
    FAILED = 3


# Plain ints for the hot paths: an IntEnum member lookup costs more than the array op.
_NONE, _ACTIVE, _SUCCEEDED, _FAILED = (int(g) for g in GoalState)


@dataclass
class RobotArrays:
    """Every robot's state, one array per quantity (index = robot)."""

    x: FloatArray
    y: FloatArray
    theta: FloatArray
    speed: FloatArray
    level: IntArray
    goal_x: FloatArray
    goal_y: FloatArray
    goal_level: IntArray
    goal_speed: FloatArray
    goal_tolerance: FloatArray
    goal_state: IntArray
    max_speed: FloatArray
    accel: FloatArray
    battery_wh: FloatArray
    capacity_wh: FloatArray
    idle_w: FloatArray
    drive_w: FloatArray
    uv_w: FloatArray
    spray_w: FloatArray
    charge_w: FloatArray
    drain_factor: FloatArray
    interlock_radius: FloatArray
    lift_ride_s: FloatArray
    """Ride time where the world knows no lift between the two levels."""
    charging: BoolArray
    charge_blocked: BoolArray
    paused: BoolArray
    uv_on: BoolArray
    spray_on: BoolArray
    working: BoolArray
    """Set by whoever runs the agents: the robot has an order (utilisation)."""
    riding: BoolArray
    ride_until: FloatArray
    ride_lift: IntArray
    queued_lift: IntArray
    stuck_until: FloatArray
    stuck_fails: BoolArray
    wander: BoolArray
    wander_node: IntArray
    wander_target: IntArray
    odometer_m: FloatArray
    energy_wh: FloatArray
    charge_s: FloatArray
    busy_s: FloatArray

    @classmethod
    def empty(cls) -> RobotArrays:
        """No robots."""
        values: dict[str, npt.NDArray[np.generic]] = {}
        for f in fields(cls):
            kind = str(f.type)
            dtype = np.float64 if "Float" in kind else np.int64 if "Int" in kind else np.bool_
            values[f.name] = np.zeros(0, dtype=dtype)
        return cls(**values)  # type: ignore[arg-type]

    def extend(self, more: dict[str, npt.ArrayLike], count: int) -> None:
        """Append `count` robots; fields not in `more` take their neutral value."""
        neutral = {
            "goal_level": -1,
            "ride_lift": -1,
            "queued_lift": -1,
            "stuck_until": -np.inf,
            "drain_factor": 1.0,
            "wander_node": -1,
            "wander_target": -1,
            "goal_speed": np.inf,
            "goal_tolerance": 0.25,
        }
        for f in fields(self):
            old = getattr(self, f.name)
            value = more.get(f.name, neutral.get(f.name, 0))
            new = np.broadcast_to(np.asarray(value, dtype=old.dtype), (count,))
            setattr(self, f.name, np.concatenate([old, new]))


@dataclass
class LiftState:
    """One lift: where its cabin is on each level, where it is now, who holds it."""

    name: str
    levels: tuple[int, ...]
    rank: dict[int, int]
    """Floor number of each served level (elevation order)."""
    cabin: dict[int, tuple[float, float]]
    radius_m: float
    wait_s: float
    per_floor_s: float
    at_level: int
    busy_until: float = 0.0
    held_by: int = -1
    held_since: float = 0.0
    arrives_at: float = 0.0
    out_of_service: bool = False
    queue: list[int] = field(default_factory=list)
    """Robots at a cabin door waiting to ride, first come first served."""

    def floors(self, a: int, b: int) -> int:
        """Floors between two served levels."""
        return abs(self.rank[a] - self.rank[b])


@dataclass
class DoorState:
    """A door: opens `open_delay_s` after a request, stays open while used."""

    name: str
    level: int
    x: float
    y: float
    opens_at: float = math.inf
    closes_at: float = -math.inf
    stuck: bool = False
    answered: bool = True
    """False from a request that starts the door opening until a request finds it open."""


@dataclass(frozen=True)
class Anomaly:
    """Something patrol sensors pick up near a place, for a while."""

    kind: str
    """smoke, high_temperature, intruder or door_open."""
    level: int
    x: float
    y: float
    radius_m: float
    value: float
    start: float
    end: float


@dataclass(frozen=True)
class WanderGraph:
    """The site's waypoints as a CSR adjacency, for robots roaming without an agent."""

    indptr: IntArray
    indices: IntArray
    speed_limit: FloatArray
    """Per edge (aligned with `indices`): the lane's speed limit, inf where it has none."""
    node_x: FloatArray
    node_y: FloatArray
    node_level: IntArray

    @classmethod
    def of(cls, site: Site, level_index: dict[str, int]) -> WanderGraph:
        """Lanes (open ones, both ways where bidirectional) plus links between lift stops."""
        wps = site.all_waypoints()
        index = {wp.id: k for k, wp in enumerate(wps)}
        adjacency: list[dict[int, float]] = [{} for _ in wps]
        for level in site.levels:
            for lane in level.lanes:
                if lane.closed:
                    continue
                a, b = index[lane.start], index[lane.end]
                limit = lane.speed_limit_m_s or math.inf
                adjacency[a][b] = min(limit, adjacency[a].get(b, math.inf))
                if lane.bidirectional:
                    adjacency[b][a] = min(limit, adjacency[b].get(a, math.inf))
        for lift in site.lifts:
            stops = [index[w] for ids in lift.waypoints.values() for w in ids]
            for a in stops:
                adjacency[a].update({b: math.inf for b in stops if b != a})
        indptr = np.zeros(len(wps) + 1, dtype=np.int64)
        indptr[1:] = np.cumsum([len(a) for a in adjacency])
        edges = [(j, adj[j]) for adj in adjacency for j in sorted(adj)]
        return cls(
            indptr=indptr,
            indices=np.array([j for j, _ in edges], dtype=np.int64),
            speed_limit=np.array([v for _, v in edges], dtype=np.float64),
            node_x=np.array([wp.x for wp in wps]),
            node_y=np.array([wp.y for wp in wps]),
            node_level=np.array([level_index[wp.level] for wp in wps], dtype=np.int64),
        )


@dataclass
class WorldSettings:
    """Tunable behaviour of the building."""

    door_open_delay_s: float = 3.0
    door_hold_open_s: float = 15.0
    charger_radius_m: float = 0.6
    lift_door_s: float = LIFT_DOOR_S
    lift_hold_s: float = LIFT_HOLD_S
    ambient_temperature_c: float = AMBIENT_TEMPERATURE_C
    visitors: VisitorBehaviour = field(default_factory=VisitorBehaviour)


class World:
    """A site with robots, people, lifts and doors, stepped in fixed increments of time."""

    def __init__(
        self,
        site: Site | None = None,
        *,
        start: datetime | None = None,
        seed: int = 0,
        settings: WorldSettings | None = None,
    ) -> None:
        self.site = site
        self.settings = settings or WorldSettings()
        self.start = start or datetime(2025, 1, 1, tzinfo=UTC)
        self.t = 0.0
        self.r = RobotArrays.empty()
        self.names: list[str] = []
        self.models: list[RobotModel | None] = []
        self._index: dict[str, int] = {}
        seeds = np.random.SeedSequence(seed).spawn(3)
        self.rng = np.random.default_rng(seeds[0])
        self._people_rng = np.random.default_rng(seeds[1])
        self.visitors = Visitors(self.settings.visitors, np.random.default_rng(seeds[2]))
        self.crowd: Crowd | None = None
        self.levels: list[str] = [lvl.name for lvl in site.levels] if site else []
        self.level_index = {name: i for i, name in enumerate(self.levels)}
        self.lifts: list[LiftState] = self._build_lifts(site) if site else []
        self.doors: dict[str, DoorState] = self._build_doors(site) if site else {}
        self.anomalies: list[Anomaly] = []
        self._chargers = np.zeros((0, 3))
        if site is not None:
            self.add_chargers(
                [(wp.x, wp.y, wp.level) for wp in site.all_waypoints() if wp.is_charger]
            )
        self._graph: WanderGraph | None = None
        self._warned_doors: set[str] = set()

    # --- building ------------------------------------------------------------------------

    def _build_lifts(self, site: Site) -> list[LiftState]:
        ranks = {
            lvl.name: i for i, lvl in enumerate(sorted(site.levels, key=lambda v: v.elevation_m))
        }
        by_id = {wp.id: wp for wp in site.all_waypoints()}
        lifts = []
        for lift in site.lifts:
            levels = tuple(self.level_index[name] for name in lift.levels)
            cabin: dict[int, tuple[float, float]] = {}
            for name in lift.levels:
                ids = lift.waypoints.get(name, ())
                wp = by_id[ids[0]] if ids else None
                cabin[self.level_index[name]] = (wp.x, wp.y) if wp else (lift.x, lift.y)
            lifts.append(
                LiftState(
                    name=lift.name,
                    levels=levels,
                    rank={self.level_index[n]: ranks[n] for n in lift.levels},
                    cabin=cabin,
                    radius_m=0.5 * math.hypot(lift.cabin_width_m, lift.cabin_depth_m) + 0.5,
                    wait_s=lift.wait_time_s,
                    per_floor_s=lift.travel_time_per_floor_s,
                    at_level=levels[0],
                )
            )
        return lifts

    def _build_doors(self, site: Site) -> dict[str, DoorState]:
        doors = {}
        for level in site.levels:
            for door in level.doors:
                doors[door.name] = DoorState(
                    name=door.name,
                    level=self.level_index[level.name],
                    x=(door.start[0] + door.end[0]) / 2,
                    y=(door.start[1] + door.end[1]) / 2,
                )
        return doors

    def level_id(self, name: str) -> int:
        """Index of a level; a world without a site learns level names as it meets them."""
        index = self.level_index.get(name)
        if index is not None:
            return index
        if self.site is not None:
            raise KeyError(f"level {name!r} is not in site {self.site.name!r}")
        self.levels.append(name)
        self.level_index[name] = len(self.levels) - 1
        return len(self.levels) - 1

    def add_chargers(self, chargers: list[tuple[float, float, str]]) -> None:
        """More charging spots: (x, y, level name)."""
        rows = [(x, y, float(self.level_id(level))) for x, y, level in chargers]
        if rows:
            self._chargers = np.vstack([self._chargers, np.array(rows)])

    def add_people(self, flows: list[PeopleFlow]) -> Crowd:
        """Walkers of these flows (replacing any earlier crowd)."""
        if self.site is None:
            raise ValueError("people need a site: walkers walk its lanes")
        self.crowd = Crowd(self.site, flows, self.level_index, self._people_rng)
        return self.crowd

    def add_robots(
        self,
        count: int,
        *,
        names: list[str],
        model: RobotModel | None = None,
        x: npt.ArrayLike = 0.0,
        y: npt.ArrayLike = 0.0,
        theta: npt.ArrayLike = 0.0,
        level: str | list[str] = "L1",
        battery_pct: npt.ArrayLike = 100.0,
        max_speed_m_s: float | None = None,
        accel_m_s2: float | None = None,
        lift_ride_s: float = 5.0,
    ) -> range:
        """Add `count` robots of one model; returns their indices."""
        if len(names) != count:
            raise ValueError(f"names: need {count}, got {len(names)}")
        clash = [n for n in names if n in self._index] or (
            [] if len(set(names)) == count else ["(repeated)"]
        )
        if clash:
            raise ValueError(f"names: already in the world: {clash[:5]}")
        levels = [level] * count if isinstance(level, str) else list(level)
        capacity = model.battery_capacity_wh if model else 1000.0
        pct = np.broadcast_to(np.asarray(battery_pct, dtype=np.float64), (count,))
        values: dict[str, npt.ArrayLike] = {
            "x": x,
            "y": y,
            "theta": theta,
            "level": [self.level_id(name) for name in levels],
            "max_speed": max_speed_m_s or (model.max_speed_m_s if model else 1.0),
            "accel": accel_m_s2 or (model.accel_m_s2 if model else 0.5),
            "capacity_wh": capacity,
            "battery_wh": capacity * np.clip(pct, 0.0, 100.0) / 100.0,
            "idle_w": model.idle_w if model else 36.0,
            "drive_w": model.drive_w if model else 36.0,
            "uv_w": model.uv_lamp_w if model else 0.0,
            "spray_w": model.sprayer_w if model else 0.0,
            "charge_w": model.charge_w if model else 180.0,
            "interlock_radius": model.interlock_radius_m if model else 3.0,
            "lift_ride_s": lift_ride_s,
        }
        first = len(self.names)
        self.r.extend(values, count)
        self.visitors.grow(count)
        for k, name in enumerate(names):
            self._index[name] = first + k
        self.names.extend(names)
        self.models.extend([model] * count)
        return range(first, first + count)

    def add_robot(
        self,
        name: str,
        *,
        model: RobotModel | None = None,
        x: float = 0.0,
        y: float = 0.0,
        theta: float = 0.0,
        level: str = "L1",
        battery_pct: float = 100.0,
        max_speed_m_s: float | None = None,
        accel_m_s2: float | None = None,
        lift_ride_s: float = 5.0,
    ) -> RobotView:
        """Add one robot; returns its view."""
        (index,) = self.add_robots(
            1,
            names=[name],
            model=model,
            x=x,
            y=y,
            theta=theta,
            level=level,
            battery_pct=battery_pct,
            max_speed_m_s=max_speed_m_s,
            accel_m_s2=accel_m_s2,
            lift_ride_s=lift_ride_s,
        )
        return self.robot(index)

    @property
    def n(self) -> int:
        """Number of robots."""
        return len(self.names)

    def index_of(self, name: str) -> int:
        """Index of the robot called `name`."""
        try:
            return self._index[name]
        except KeyError:
            raise KeyError(f"no robot called {name!r} in the world") from None

    def robot(self, index: int | str) -> RobotView:
        """The per-robot view the sim adapter drives."""
        return RobotView(self, index if isinstance(index, int) else self.index_of(index))

    def wallclock(self) -> datetime:
        """Simulated date and time now."""
        return self.start + timedelta(seconds=self.t)

    def hour(self) -> int:
        """Hour of the simulated day (in the start's timezone)."""
        return self.wallclock().hour

    # --- goals -----------------------------------------------------------------------------

    def set_goal(
        self, i: int, x: float, y: float, level: str, max_speed: float, tolerance: float
    ) -> None:
        """Drive robot i to (x, y) on `level`; a goal on an unknown level fails at once."""
        r = self.r
        r.wander[i] = False
        try:
            r.goal_level[i] = self.level_id(level)
        except KeyError:
            log.warning("robot %s: goal on unknown level %s", self.names[i], level)
            r.goal_state[i] = GoalState.FAILED
            return
        r.goal_x[i], r.goal_y[i] = x, y
        r.goal_speed[i], r.goal_tolerance[i] = max_speed, tolerance
        r.goal_state[i] = GoalState.ACTIVE

    def clear_goal(self, i: int) -> None:
        """Stop robot i and forget its goal (a ride already under way finishes)."""
        if not self.r.riding[i]:
            self.r.goal_state[i] = GoalState.NONE
            self.r.speed[i] = 0.0

    def wander_on_graph(self, indices: npt.ArrayLike, start_nodes: npt.ArrayLike) -> None:
        """Let robots roam the site's lanes (and lifts) at random from the given waypoints.

        Nodes number the waypoints as `waypoint_nodes()` lists them.
        """
        g = self.wander_graph()
        idx = np.asarray(indices, dtype=np.int64)
        nodes = np.asarray(start_nodes, dtype=np.int64)
        r = self.r
        r.x[idx], r.y[idx], r.level[idx] = g.node_x[nodes], g.node_y[nodes], g.node_level[nodes]
        r.wander[idx] = True
        r.wander_node[idx] = nodes
        r.wander_target[idx] = nodes
        r.goal_state[idx] = GoalState.SUCCEEDED

    def waypoint_nodes(self) -> list[str]:
        """Waypoint ids in the order the wander graph numbers them."""
        if self.site is None:
            return []
        return [wp.id for wp in self.site.all_waypoints()]

    def roamable_nodes(self) -> IntArray:
        """Wander-graph nodes with somewhere to go (isolated waypoints left out)."""
        g = self.wander_graph()
        return np.flatnonzero(np.diff(g.indptr) > 0).astype(np.int64)

    def wander_graph(self) -> WanderGraph:
        """CSR adjacency over all waypoints: lanes (both ways if bidirectional) and lifts."""
        if self._graph is None:
            if self.site is None:
                raise ValueError("wandering needs a site")
            self._graph = WanderGraph.of(self.site, self.level_index)
        return self._graph

    # --- the step ------------------------------------------------------------------------------

    def step(self, dt: float) -> None:
        """Advance the whole world by dt simulated seconds."""
        t = self.t + dt
        if self.n:
            self._step_robots(dt, t)
        self.t = t
        if self.crowd is not None:
            self.crowd.step(dt, t, self.hour())
        if self.n:
            self.visitors.step(dt, t, self.r.x, self.r.y, self.r.level)

    def _step_robots(self, dt: float, t: float) -> None:
        r = self.r
        if r.riding.any():
            landed = r.riding & (r.ride_until <= t)
            if landed.any():
                self._finish_rides(np.flatnonzero(landed))
        stuck = r.stuck_until > t
        held = r.paused | r.charging | (r.battery_wh <= 0) | stuck | r.riding
        active = r.goal_state == _ACTIVE
        failing = active & stuck & r.stuck_fails
        if failing.any():
            r.goal_state[failing] = _FAILED
            active &= ~failing
        free = active & ~held
        elsewhere = free & (r.goal_level != r.level)
        if elsewhere.any():
            self._start_rides(np.flatnonzero(elsewhere), t)
        moving = self._drive(free & (r.goal_level == r.level), dt)
        if r.wander.any():
            self._wander_on()
        self._account(dt, moving)

    def _drive(self, drive: BoolArray, dt: float) -> BoolArray:
        """Goal driving with acceleration and braking (v <= sqrt(2 a d)); returns who moved."""
        r = self.r
        dx, dy = r.goal_x - r.x, r.goal_y - r.y
        dist = np.hypot(dx, dy)
        at_goal = drive & (
            (dist <= np.minimum(r.goal_tolerance, ARRIVE_TOLERANCE_M)) | (dist < 1e-6)
        )
        moving = drive & ~at_goal
        limit = np.minimum(r.max_speed, r.goal_speed)
        target = np.minimum(limit, np.sqrt(2.0 * r.accel * dist))
        speed = np.where(r.speed < target, np.minimum(target, r.speed + r.accel * dt), target)
        stride = np.where(moving, np.minimum(dist, np.maximum(speed, CREEP_SPEED_M_S) * dt), 0.0)
        safe = np.where(dist > 0, dist, 1.0)
        r.x += stride * dx / safe
        r.y += stride * dy / safe
        r.theta = np.where(moving, np.arctan2(dy, dx), r.theta)
        r.speed = np.where(moving, speed, 0.0)
        r.odometer_m += stride
        done = at_goal | (moving & (dist - stride <= 1e-3))
        if done.any():
            r.goal_state[done] = _SUCCEEDED
            r.speed[done] = 0.0
        return moving

    def _account(self, dt: float, moving: BoolArray) -> None:
        """Energy in and out, charging time, busy time."""
        r = self.r
        power = r.idle_w + r.drive_w * (r.speed / r.max_speed)
        power = (power + r.uv_w * r.uv_on + r.spray_w * r.spray_on) * r.drain_factor
        charge = np.where(
            r.charging & ~r.charge_blocked & (r.battery_wh < r.capacity_wh), r.charge_w, 0.0
        )
        r.energy_wh += power * (dt / 3600.0)
        r.battery_wh = np.clip(r.battery_wh + (charge - power) * (dt / 3600.0), 0.0, r.capacity_wh)
        r.charge_s += np.where(charge > 0, dt, 0.0)
        busy = r.working | moving | r.riding | r.uv_on | r.spray_on
        r.busy_s += np.where(busy, dt, 0.0)

    def _wander_on(self) -> None:
        """Robots roaming the graph pick a random next waypoint when they arrive."""
        r = self.r
        ready = r.wander & (r.goal_state != _ACTIVE) & ~r.riding
        if not ready.any():
            return
        g = self.wander_graph()
        who = np.flatnonzero(ready)
        reached = r.goal_state[who] == _SUCCEEDED
        r.wander_node[who] = np.where(reached, r.wander_target[who], r.wander_node[who])
        here = r.wander_node[who]
        degree = g.indptr[here + 1] - g.indptr[here]
        pick = g.indptr[here] + np.floor(self.rng.random(len(who)) * degree).astype(np.int64)
        edge = np.minimum(pick, len(g.indices) - 1)
        nxt = np.where(degree > 0, g.indices[edge], here)
        r.wander_target[who] = nxt
        r.goal_x[who], r.goal_y[who] = g.node_x[nxt], g.node_y[nxt]
        r.goal_level[who] = g.node_level[nxt]
        r.goal_speed[who] = np.where(degree > 0, g.speed_limit[edge], np.inf)
        r.goal_tolerance[who] = 0.1
        r.goal_state[who] = _ACTIVE

    # --- lifts -----------------------------------------------------------------------------------

    def _lifts_between(self, a: int, b: int) -> list[LiftState]:
        return [lift for lift in self.lifts if a in lift.levels and b in lift.levels]

    def _start_rides(self, robots: IntArray, t: float) -> None:
        """Robots with a goal on another level join the queue of the lift they stand at."""
        r = self.r
        for i in robots.tolist():
            if r.queued_lift[i] >= 0:
                continue
            here, there = int(r.level[i]), int(r.goal_level[i])
            serving = self._lifts_between(here, there)
            if not serving:
                self._board(i, -1, t + float(r.lift_ride_s[i]))
                continue
            lift = self._lift_at(serving, here, float(r.x[i]), float(r.y[i]))
            if lift is None:
                log.info("robot %s: goal on another level but not in a lift", self.names[i])
                r.goal_state[i] = GoalState.FAILED
                continue
            lift.queue.append(i)
            r.queued_lift[i] = self.lifts.index(lift)
        for lift in self.lifts:
            if lift.queue:
                self._serve(lift, t)

    def _serve(self, lift: LiftState, t: float) -> None:
        """Carry the first robot in the queue when the lift is free (or called by it)."""
        r = self.r
        self._release_stale(lift, t)
        self._prune_queue(lift, t)
        if not lift.queue or lift.out_of_service:
            return
        i = lift.queue[0]
        if lift.held_by not in (-1, i):
            return
        here, there = int(r.level[i]), int(r.goal_level[i])
        travel = lift.per_floor_s * lift.floors(here, there)
        if lift.held_by == i and lift.at_level == here:
            ends = max(t, lift.arrives_at) + self.settings.lift_door_s + travel
        else:
            ends = max(t, lift.busy_until) + lift.wait_s + travel
        lift.queue.pop(0)
        r.queued_lift[i] = -1
        lift.held_by, lift.held_since = i, t
        lift.busy_until, lift.at_level = ends, there
        self._board(i, self.lifts.index(lift), ends)

    def _prune_queue(self, lift: LiftState, t: float) -> None:
        """Drop robots that no longer wait for this lift (new goal, cancelled, paused...)."""
        r = self.r
        q = np.asarray(lift.queue, dtype=np.int64)
        held = r.paused[q] | r.charging[q] | (r.battery_wh[q] <= 0) | (r.stuck_until[q] > t)
        waiting = (r.goal_state[q] == _ACTIVE) & (r.goal_level[q] != r.level[q])
        keep = waiting & ~held & ~r.riding[q]
        r.queued_lift[q[~keep]] = -1
        lift.queue = q[keep].tolist()

    def _release_stale(self, lift: LiftState, t: float) -> None:
        """A lift called but never boarded goes to the next caller after `lift_hold_s`."""
        holder = lift.held_by
        stale = t - lift.held_since > self.settings.lift_hold_s
        if holder >= 0 and stale and not self.r.riding[holder]:
            lift.held_by = -1

    def _lift_at(
        self, serving: list[LiftState], level: int, x: float, y: float
    ) -> LiftState | None:
        best, best_d = None, math.inf
        for lift in serving:
            cx, cy = lift.cabin[level]
            d = math.hypot(cx - x, cy - y)
            if d <= lift.radius_m and d < best_d:
                best, best_d = lift, d
        return best

    def _board(self, i: int, lift: int, ends: float) -> None:
        r = self.r
        r.riding[i], r.ride_until[i], r.ride_lift[i], r.speed[i] = True, ends, lift, 0.0
        one = np.array([i], dtype=np.int64)
        self.visitors.board(one, r.x[one], r.y[one])

    def _finish_rides(self, robots: IntArray) -> None:
        r = self.r
        r.x[robots], r.y[robots] = r.goal_x[robots], r.goal_y[robots]
        r.level[robots] = r.goal_level[robots]
        r.riding[robots] = False
        r.goal_state[robots] = GoalState.SUCCEEDED
        for i in robots.tolist():
            lift = int(r.ride_lift[i])
            if lift >= 0 and self.lifts[lift].held_by == i:
                self.lifts[lift].held_by = -1
            r.ride_lift[i] = -1
        self.visitors.alight(robots, r.x[robots], r.y[robots], r.level[robots])

    def request_lift(self, i: int, lift_name: str, from_level: str, to_level: str) -> bool:
        """Call a lift for robot i; True once the cabin waits at `from_level` for it."""
        lift = next((lf for lf in self.lifts if lf.name == lift_name), None)
        if lift is None:
            log.warning("robot %s called unknown lift %s", self.names[i], lift_name)
            return False
        try:
            here, there = self.level_id(from_level), self.level_id(to_level)
        except KeyError:
            return False
        if lift.out_of_service or here not in lift.levels or there not in lift.levels:
            return False
        t = self.t
        self._release_stale(lift, t)
        self._prune_queue(lift, t)
        if lift.held_by == -1 and lift.busy_until <= t and not lift.queue:
            come = 0.0
            if lift.at_level != here:
                floors = lift.floors(lift.at_level, here)
                come = lift.per_floor_s * floors + self.settings.lift_door_s
            lift.held_by, lift.held_since, lift.arrives_at, lift.at_level = i, t, t + come, here
        return lift.held_by == i and lift.at_level == here and lift.arrives_at <= t

    # --- doors ---------------------------------------------------------------------------------

    def request_door(self, door_name: str) -> bool:
        """Ask a door to open; True once it is open (after the opening delay)."""
        door = self.doors.get(door_name)
        if door is None:
            if door_name not in self._warned_doors:
                self._warned_doors.add(door_name)
                log.warning("request for unknown door %s: treated as open", door_name)
            return True
        if door.stuck:
            return False
        t, hold = self.t, self.settings.door_hold_open_s
        if door.opens_at <= t < door.closes_at or (door.opens_at <= t and not door.answered):
            # Opened for a request nobody has seen answered yet: it waits for the robot.
            # Robots ask again only between frames, and a loaded CPU can make one frame
            # longer than the hold time; without this the door would open and close unseen,
            # again and again, until the robot's openDoor timed out.
            door.answered = True
            door.closes_at = max(door.closes_at, t + hold)
            return True
        if t < door.opens_at < math.inf:
            return False  # opening
        door.opens_at = t + self.settings.door_open_delay_s
        door.closes_at = door.opens_at + hold
        door.answered = door.opens_at <= t
        return door.answered

    def door_open(self, door_name: str) -> bool:
        """Whether the door stands open now."""
        door = self.doors[door_name]
        return door.opens_at <= self.t < door.closes_at

    # --- what robots sense -------------------------------------------------------------------

    def near_charger(self, i: int) -> bool:
        """Whether robot i stands within reach of a charger on its level."""
        c = self._chargers
        if not len(c):
            return False
        r = self.r
        same = c[:, 2] == r.level[i]
        d = np.hypot(c[:, 0] - r.x[i], c[:, 1] - r.y[i])
        return bool(np.any(same & (d <= self.settings.charger_radius_m)))

    def people_near(self, i: int, radius: float | None = None) -> int:
        """People within robot i's interlock radius (walkers, intruders, visitors)."""
        r = self.r
        rad = float(r.interlock_radius[i]) if radius is None else radius
        level, x, y = int(r.level[i]), float(r.x[i]), float(r.y[i])
        count = self.visitors.count_near(level, x, y, rad)
        if self.crowd is not None:
            count += self.crowd.count_near(level, x, y, rad, self.t)
        for a in self._anomalies_near(i):
            if a.kind == "intruder":
                count += 1
        return count

    def _anomalies_near(self, i: int) -> list[Anomaly]:
        r = self.r
        level, x, y = int(r.level[i]), float(r.x[i]), float(r.y[i])
        return [
            a
            for a in self.anomalies
            if a.level == level
            and a.start <= self.t < a.end
            and math.hypot(a.x - x, a.y - y) <= a.radius_m
        ]

    def read_sensors(self, i: int) -> dict[str, float]:
        """Robot i's sensor readings now, for the sensors its model carries."""
        readings = {
            "temperature_c": self.settings.ambient_temperature_c,
            "smoke": 0.0,
            "intruder": 0.0,
            "door_open": 0.0,
        }
        for a in self._anomalies_near(i):
            if a.kind == "high_temperature":
                readings["temperature_c"] = max(readings["temperature_c"], a.value)
            elif a.kind in ("smoke", "intruder", "door_open"):
                readings[a.kind] = max(readings[a.kind], a.value)
        model = self.models[i]
        readings["person"] = float(self.people_near(i))
        if model is None:
            return readings
        return {k: v for k, v in readings.items() if k in model.sensors}

    def visitor_following(self, i: int) -> bool:
        """Whether robot i's guided visitor is with it (the first question starts a visit)."""
        r = self.r
        return self.visitors.following(i, self.t, float(r.x[i]), float(r.y[i]), int(r.level[i]))


class RobotView:
    """One robot of a `World`, with the attribute names of `KinematicRobot`."""

    __slots__ = ("i", "world")

    def __init__(self, world: World, i: int) -> None:
        self.world = world
        self.i = i

    @property
    def name(self) -> str:
        """The robot's name in the world."""
        return self.world.names[self.i]

    @property
    def model(self) -> RobotModel | None:
        """Its robot model, if it has one."""
        return self.world.models[self.i]

    @property
    def x(self) -> float:
        """Metres on its level."""
        return float(self.world.r.x[self.i])

    @property
    def y(self) -> float:
        """Metres on its level."""
        return float(self.world.r.y[self.i])

    @property
    def theta(self) -> float:
        """Heading in radians."""
        return float(self.world.r.theta[self.i])

    @property
    def map_id(self) -> str:
        """The level it is on."""
        return self.world.levels[int(self.world.r.level[self.i])]

    @property
    def speed(self) -> float:
        """Forward speed in m/s."""
        return float(self.world.r.speed[self.i])

    @property
    def battery_pct(self) -> float:
        """State of charge in percent."""
        r = self.world.r
        return float(100.0 * r.battery_wh[self.i] / r.capacity_wh[self.i])

    @property
    def charging(self) -> bool:
        """On a charger and charging."""
        return bool(self.world.r.charging[self.i])

    @charging.setter
    def charging(self, on: bool) -> None:
        self.world.r.charging[self.i] = on

    @property
    def paused(self) -> bool:
        """Held still by the agent."""
        return bool(self.world.r.paused[self.i])

    @paused.setter
    def paused(self, on: bool) -> None:
        self.world.r.paused[self.i] = on

    @property
    def odometer_m(self) -> float:
        """Distance driven."""
        return float(self.world.r.odometer_m[self.i])

    @property
    def goal(self) -> Goal | None:
        """The goal it drives to, if any."""
        r = self.world.r
        if r.goal_state[self.i] == GoalState.NONE or r.wander[self.i]:
            return None
        level = int(r.goal_level[self.i])
        return Goal(
            x=float(r.goal_x[self.i]),
            y=float(r.goal_y[self.i]),
            map_id=self.world.levels[level] if level >= 0 else "",
            max_speed=float(r.goal_speed[self.i]),
            tolerance=float(r.goal_tolerance[self.i]),
        )

    @property
    def goal_reached(self) -> bool:
        """The last goal succeeded."""
        return bool(self.world.r.goal_state[self.i] == GoalState.SUCCEEDED)

    @property
    def goal_failed(self) -> bool:
        """The last goal failed."""
        return bool(self.world.r.goal_state[self.i] == GoalState.FAILED)

    def set_goal(self, goal: Goal) -> None:
        """Drive to the goal from here."""
        self.world.set_goal(self.i, goal.x, goal.y, goal.map_id, goal.max_speed, goal.tolerance)

    def clear_goal(self) -> None:
        """Stop and forget the goal."""
        self.world.clear_goal(self.i)

    def pose(self) -> tuple[float, float, float]:
        """(x, y, heading) now."""
        return (self.x, self.y, self.theta)

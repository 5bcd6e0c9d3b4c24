"""Fastest routes and travel-time matrices over a site's navigation graph.

The graph is directed: a one-way lane gives one edge, a bidirectional lane two. An edge's
time is its length over ``min(lane speed limit, robot max speed)``. Lifts join the waypoints
inside their cabin on every level they serve; a ride costs the lift's wait time plus its
travel time per floor times the number of floors (levels in elevation order) between.
Closed lanes, lanes of other nav graphs (if the robot class names one), and waypoints or
lanes inside zones the robot kind may not enter are left out.

Graphs and matrices are cached per (site content digest, robot class): a Site is immutable,
so its JSON digest identifies its version.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import math
import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from missions.sites.geometry import point_in_polygon, segment_enters_polygon
from missions.sites.model import Level, Site, Waypoint, Zone, ZoneKind

logger = logging.getLogger(__name__)

# Dijkstra ignores zero-weight entries of a sparse matrix, so coincident waypoints get a
# negligible positive time instead.
_MIN_EDGE_S = 1e-9
_CACHE_ENTRIES = 32
_CACHE_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True)
class RobotClass:
    """What routing needs to know about a robot.

    ``nav_graph`` restricts routes to one Open-RMF nav graph (None: all lanes).
    ``authorized_zones`` names restricted zones this robot class may enter.
    """

    kind: str
    max_speed_m_s: float
    footprint_radius_m: float = 0.3
    nav_graph: int | None = None
    authorized_zones: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if not self.max_speed_m_s > 0 or not math.isfinite(self.max_speed_m_s):
            raise ValueError(f"max_speed_m_s must be positive, got {self.max_speed_m_s}")


class LiftRide(BaseModel):
    """One lift ride within a route."""

    model_config = ConfigDict(frozen=True)

    lift: str
    from_level: str
    to_level: str
    board_waypoint: str
    alight_waypoint: str
    time_s: float


class Route(BaseModel):
    """A fastest route: the waypoint ids visited, time, horizontal distance, lift rides."""

    model_config = ConfigDict(frozen=True)

    waypoints: tuple[str, ...]
    travel_time_s: float
    distance_m: float
    lift_rides: tuple[LiftRide, ...] = ()


class RouteNotFoundError(LookupError):
    """No route exists (unknown waypoint, or unreachable for this robot class)."""


@dataclass(frozen=True)
class _Edge:
    time_s: float
    distance_m: float
    lift: str | None = None


@dataclass(frozen=True)
class RoutingGraph:
    """The compiled graph of a site for one robot class."""

    ids: tuple[str, ...]
    index: dict[str, int]
    matrix: csr_matrix
    edges: dict[tuple[int, int], _Edge]
    levels: dict[str, str]
    blocked: frozenset[str]


# --- cache -------------------------------------------------------------------------------

_lock = threading.Lock()
_digests: dict[int, tuple[weakref.ref[Site], str]] = {}
_graphs: OrderedDict[tuple[str, RobotClass], RoutingGraph] = OrderedDict()
_matrices: OrderedDict[tuple[str, RobotClass, tuple[str, ...] | None], npt.NDArray[np.float64]] = (
    OrderedDict()
)


def site_digest(site: Site) -> str:
    """SHA-256 of the site's JSON; memoised per site object (sites are immutable)."""
    key = id(site)
    with _lock:
        hit = _digests.get(key)
        if hit is not None and hit[0]() is site:
            return hit[1]
    digest = hashlib.sha256(site.model_dump_json().encode()).hexdigest()

    def forget(_: object, key: int = key) -> None:
        with _lock:
            _digests.pop(key, None)

    with _lock:
        _digests[key] = (weakref.ref(site, forget), digest)
    return digest


def clear_routing_cache() -> None:
    """Drop every cached graph and matrix."""
    with _lock:
        _graphs.clear()
        _matrices.clear()


def routing_graph(site: Site, robot: RobotClass) -> RoutingGraph:
    """The (cached) compiled routing graph of ``site`` for ``robot``."""
    key = (site_digest(site), robot)
    with _lock:
        graph = _graphs.get(key)
        if graph is not None:
            _graphs.move_to_end(key)
            return graph
    graph = _compile(site, robot)
    with _lock:
        _graphs[key] = graph
        while len(_graphs) > _CACHE_ENTRIES:
            _graphs.popitem(last=False)
    return graph


# --- compilation ---------------------------------------------------------------------------


def zone_blocks(zone: Zone, robot: RobotClass) -> bool:
    """True if ``robot`` may not enter ``zone``."""
    applies = not zone.robot_kinds or robot.kind in zone.robot_kinds
    if zone.kind == ZoneKind.KEEP_OUT:
        return applies
    if zone.kind == ZoneKind.RESTRICTED:
        return applies and zone.name not in robot.authorized_zones
    return False


def _compile(site: Site, robot: RobotClass) -> RoutingGraph:
    waypoints = site.all_waypoints()
    ids = tuple(wp.id for wp in waypoints)
    index = {wp_id: i for i, wp_id in enumerate(ids)}
    by_id = {wp.id: wp for wp in waypoints}
    edges: dict[tuple[int, int], _Edge] = {}
    blocked: set[str] = set()

    def add(u: int, v: int, edge: _Edge) -> None:
        old = edges.get((u, v))
        if old is None or edge.time_s < old.time_s:
            edges[(u, v)] = edge

    for level in site.levels:
        zones = [z for z in level.zones if zone_blocks(z, robot)]
        blocked |= _blocked_waypoints(level, zones)
        for lane in level.lanes:
            if lane.closed or (robot.nav_graph is not None and lane.graph != robot.nav_graph):
                continue
            if lane.start in blocked or lane.end in blocked:
                continue
            a, b = by_id[lane.start], by_id[lane.end]
            if zones and _crosses(a, b, zones):
                continue
            length = math.hypot(b.x - a.x, b.y - a.y)
            speed = min(lane.speed_limit_m_s or math.inf, robot.max_speed_m_s)
            edge = _Edge(time_s=max(length / speed, _MIN_EDGE_S), distance_m=length)
            add(index[a.id], index[b.id], edge)
            if lane.bidirectional:
                add(index[b.id], index[a.id], edge)
    for u, v, edge in _lift_edges(site, index, blocked):
        add(u, v, edge)
    n = len(ids)
    if edges:
        keys = np.array(list(edges.keys()), dtype=np.int64)
        times = np.array([e.time_s for e in edges.values()], dtype=np.float64)
        matrix = csr_matrix((times, (keys[:, 0], keys[:, 1])), shape=(n, n))
    else:
        matrix = csr_matrix((n, n), dtype=np.float64)
    return RoutingGraph(
        ids=ids,
        index=index,
        matrix=matrix,
        edges=edges,
        levels={wp.id: wp.level for wp in waypoints},
        blocked=frozenset(blocked),
    )


def _blocked_waypoints(level: Level, zones: Sequence[Zone]) -> set[str]:
    return {
        wp.id
        for wp in level.waypoints
        for z in zones
        if point_in_polygon((wp.x, wp.y), z.polygon, z.holes)
    }


def _crosses(a: Waypoint, b: Waypoint, zones: Sequence[Zone]) -> bool:
    lo_x, hi_x = min(a.x, b.x), max(a.x, b.x)
    lo_y, hi_y = min(a.y, b.y), max(a.y, b.y)
    for z in zones:
        xs = [p[0] for p in z.polygon]
        ys = [p[1] for p in z.polygon]
        if hi_x < min(xs) or lo_x > max(xs) or hi_y < min(ys) or lo_y > max(ys):
            continue
        if segment_enters_polygon((a.x, a.y), (b.x, b.y), z.polygon, z.holes):
            return True
    return False


def _lift_edges(
    site: Site, index: dict[str, int], blocked: set[str]
) -> list[tuple[int, int, _Edge]]:
    rank = {
        level.name: i
        for i, level in enumerate(sorted(site.levels, key=lambda lvl: lvl.elevation_m))
    }
    result = []
    for lift in site.lifts:
        stops = [
            (level, wp_id)
            for level in lift.levels
            for wp_id in lift.waypoints.get(level, ())
            if wp_id not in blocked
        ]
        for from_level, u in stops:
            for to_level, v in stops:
                if from_level == to_level:
                    continue
                floors = abs(rank[from_level] - rank[to_level])
                time_s = lift.wait_time_s + lift.travel_time_per_floor_s * floors
                edge = _Edge(time_s=max(time_s, _MIN_EDGE_S), distance_m=0.0, lift=lift.name)
                result.append((index[u], index[v], edge))
    return result


# --- queries ---------------------------------------------------------------------------------


def resolve_waypoint(site: Site, ref: str) -> Waypoint:
    """Find a waypoint by id, else by name (which must then be unique in the site)."""
    waypoints = site.all_waypoints()
    for wp in waypoints:
        if wp.id == ref:
            return wp
    named = [wp for wp in waypoints if wp.name == ref]
    if len(named) == 1:
        return named[0]
    if not named:
        raise RouteNotFoundError(f"no waypoint with id or name {ref!r} in site {site.name!r}")
    raise RouteNotFoundError(
        f"waypoint name {ref!r} is ambiguous in site {site.name!r}: "
        f"{', '.join(wp.id for wp in named)}"
    )


def route(site: Site, from_wp: str, to_wp: str, *, robot: RobotClass) -> Route:
    """Fastest route between two waypoints (ids or unique names) for a robot class."""
    graph = routing_graph(site, robot)
    start = resolve_waypoint(site, from_wp)
    goal = resolve_waypoint(site, to_wp)
    for wp in (start, goal):
        if wp.id in graph.blocked:
            raise RouteNotFoundError(
                f"waypoint {wp.id!r} lies in a zone robot kind {robot.kind!r} may not enter"
            )
    s, g = graph.index[start.id], graph.index[goal.id]
    times, pred = dijkstra(graph.matrix, directed=True, indices=s, return_predecessors=True)
    if not math.isfinite(times[g]):
        raise RouteNotFoundError(
            f"no route from {start.id!r} to {goal.id!r} for robot kind {robot.kind!r}"
        )
    path = [g]
    while path[-1] != s:
        path.append(int(pred[path[-1]]))
    path.reverse()
    distance = 0.0
    rides = []
    for u, v in itertools.pairwise(path):
        edge = graph.edges[(u, v)]
        distance += edge.distance_m
        if edge.lift is not None:
            rides.append(
                LiftRide(
                    lift=edge.lift,
                    from_level=graph.levels[graph.ids[u]],
                    to_level=graph.levels[graph.ids[v]],
                    board_waypoint=graph.ids[u],
                    alight_waypoint=graph.ids[v],
                    time_s=edge.time_s,
                )
            )
    return Route(
        waypoints=tuple(graph.ids[i] for i in path),
        travel_time_s=float(times[g]),
        distance_m=distance,
        lift_rides=tuple(rides),
    )


def travel_time_matrix(
    site: Site, robot: RobotClass, *, waypoint_ids: Sequence[str] | None = None
) -> tuple[tuple[str, ...], npt.NDArray[np.float64]]:
    """Fastest travel times (s) between waypoints: ``matrix[i, j]`` from ``ids[i]`` to ``ids[j]``.

    All waypoints by default, else the given subset (rows and columns in that order).
    Unreachable pairs are ``inf``. Computed with scipy's Dijkstra from every source and
    cached; the returned array is read-only.
    """
    graph = routing_graph(site, robot)
    subset = tuple(waypoint_ids) if waypoint_ids is not None else None
    key = (site_digest(site), robot, subset)
    with _lock:
        cached = _matrices.get(key)
        if cached is not None:
            _matrices.move_to_end(key)
            return subset or graph.ids, cached
    if subset is None:
        ids = graph.ids
        result = dijkstra(graph.matrix, directed=True)
    else:
        missing = [w for w in subset if w not in graph.index]
        if missing:
            raise RouteNotFoundError(f"unknown waypoint ids: {missing}")
        ids = subset
        cols = np.array([graph.index[w] for w in subset], dtype=np.int64)
        result = dijkstra(graph.matrix, directed=True, indices=cols)[:, cols]
    matrix = np.ascontiguousarray(result, dtype=np.float64)
    matrix.flags.writeable = False
    _remember(key, matrix)
    return ids, matrix


def _remember(
    key: tuple[str, RobotClass, tuple[str, ...] | None], matrix: npt.NDArray[np.float64]
) -> None:
    if matrix.nbytes > _CACHE_BYTES:
        logger.info(
            "travel-time matrix of %s bytes not cached (budget %s)", matrix.nbytes, _CACHE_BYTES
        )
        return
    with _lock:
        _matrices[key] = matrix
        total = sum(m.nbytes for m in _matrices.values())
        while len(_matrices) > _CACHE_ENTRIES or total > _CACHE_BYTES:
            _, dropped = _matrices.popitem(last=False)
            total -= dropped.nbytes

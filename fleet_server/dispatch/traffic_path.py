"""A robot's path as traffic control sees it: what each node and edge holds, where it may stop.

Node ``i`` of a path is node ``i`` of the :class:`~missions.compiler.CompiledMission`
(sequenceId ``2 i``). A node on a graph waypoint holds that waypoint's space (a cabin
waypoint: the lift); a free position (a UV dwell point, a start off the graph) holds the
space of its *anchor*, the waypoint it is joined to (the nearest graph waypoint before it
in the path, else the first after it), because the robot never strays further from it
than to a room beside it. Edge ``i`` (node ``i`` to ``i + 1``) holds the lane resources
between two waypoints, the lift for a ride, nothing more for a hop to or from a free
position.

Where a robot may stop (its release point, the VDA 5050 decision point): anywhere but a
lift cabin or lobby, and on the way to a lift not between its holding point and the lift:
when a holding point (``is_holding_point``) lies shortly before the lobby the robot waits
there, else on the node just before the lobby. The last node is where the path ends and
node 0 where the robot stands: both always count as stops.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from fleet_server.dispatch.traffic_errors import TrafficPlanError
from fleet_server.dispatch.traffic_resources import SiteResources
from missions.compiler import CompiledMission


@dataclass(frozen=True)
class TrafficPath:
    """Node ids, graph waypoints (None: free position) and edge lengths of a path."""

    node_ids: tuple[str, ...]
    waypoints: tuple[str | None, ...]
    lengths_m: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.node_ids:
            raise TrafficPlanError("path: needs at least one node")
        if len(self.waypoints) != len(self.node_ids):
            raise TrafficPlanError("path: one waypoint (or None) per node")
        if len(self.lengths_m) != len(self.node_ids) - 1:
            raise TrafficPlanError("path: one length per edge")

    def __len__(self) -> int:
        return len(self.node_ids)

    @classmethod
    def from_compiled(cls, compiled: CompiledMission) -> TrafficPath:
        """The path of a compiled mission, node for node."""
        return cls(
            node_ids=tuple(n.node_id for n in compiled.nodes),
            waypoints=tuple(compiled.node_waypoints),
            lengths_m=tuple(float(e.length or 0.0) for e in compiled.edges),
        )

    @classmethod
    def from_waypoints(cls, waypoint_ids: Sequence[str], site: SiteResources) -> TrafficPath:
        """A path straight along graph waypoints (lengths are straight-line distances)."""
        for i, wp in enumerate(waypoint_ids):
            if wp not in site.waypoints:
                raise TrafficPlanError(f"path node {i}: no waypoint {wp!r} in the site")
        return cls(
            node_ids=tuple(waypoint_ids),
            waypoints=tuple(waypoint_ids),
            lengths_m=tuple(site.distance_m(u, v) for u, v in itertools.pairwise(waypoint_ids)),
        )


@dataclass(frozen=True)
class PathResources:
    """A path resolved against a site: what each node and edge needs, where it may stop."""

    path: TrafficPath
    anchors: tuple[str, ...]
    """The waypoint whose space each node takes."""
    occupies: tuple[frozenset[str], ...]
    """Per node: resources held while the robot stands there or heads for it."""
    traverses: tuple[frozenset[str], ...]
    """Per edge: resources held while the robot drives it."""
    stoppable: tuple[bool, ...]
    """Per node: whether a release may end there."""
    offsets_m: tuple[float, ...]
    """Per node: distance along the path from node 0."""
    lifts: tuple[str | None, ...]
    """Per edge: the lift ridden on it, if any."""

    @property
    def last(self) -> int:
        """Index of the last node."""
        return len(self.anchors) - 1

    def needed(self, first: int, last: int) -> frozenset[str]:
        """Everything a robot at node ``first`` released through node ``last`` holds."""
        out: set[str] = set(self.occupies[first])
        for i in range(first, last):
            out |= self.traverses[i]
            out |= self.occupies[i + 1]
        return frozenset(out)

    def next_step(self, released: int) -> int:
        """The node a release past ``released`` must reach at once: the next stop."""
        for i in range(released + 1, self.last + 1):
            if self.stoppable[i]:
                return i
        return self.last

    def step_needs(self, released: int, until: int) -> list[str]:
        """Resources of the step ``released`` -> ``until``, in path order, no repeats."""
        out: list[str] = []
        for i in range(released, until):
            for group in (self.traverses[i], self.occupies[i + 1]):
                for resource in sorted(group):
                    if resource not in out:
                        out.append(resource)
        return out


def resolve_path(
    path: TrafficPath,
    site: SiteResources,
    *,
    holding_max_nodes: int,
    holding_max_m: float,
) -> PathResources:
    """Check ``path`` against the site and work out its resources and stops."""
    anchors = _anchors(path, site)
    occupies = tuple(site.place_resources(a) for a in anchors)
    traverses: list[frozenset[str]] = []
    lifts: list[str | None] = []
    for i, (u, v) in enumerate(itertools.pairwise(path.waypoints)):
        resources, lift = _edge(i, u, v, path, site)
        traverses.append(resources)
        lifts.append(lift)
    offsets = tuple(itertools.accumulate(path.lengths_m, initial=0.0))
    stoppable = [not site.no_stop(a) for a in anchors]
    _wait_at_holding_points(
        path, site, anchors, stoppable, offsets, holding_max_nodes, holding_max_m
    )
    stoppable[0] = stoppable[-1] = True
    resolved = PathResources(
        path=path,
        anchors=anchors,
        occupies=occupies,
        traverses=tuple(traverses),
        stoppable=tuple(stoppable),
        offsets_m=offsets,
        lifts=tuple(lifts),
    )
    _check_lift_runs(resolved)
    return resolved


def _anchors(path: TrafficPath, site: SiteResources) -> tuple[str, ...]:
    for i, wp in enumerate(path.waypoints):
        if wp is not None and wp not in site.waypoints:
            raise TrafficPlanError(
                f"path node {i} ({path.node_ids[i]}): no waypoint {wp!r} in site {site.site.name!r}"
            )
    known = [wp for wp in path.waypoints if wp is not None]
    if not known:
        raise TrafficPlanError("path: no node stands on a graph waypoint")
    anchors: list[str] = []
    last: str | None = None
    for wp in path.waypoints:
        if wp is not None:
            last = wp
        anchors.append(last if last is not None else known[0])
    return tuple(anchors)


def _edge(
    i: int, u: str | None, v: str | None, path: TrafficPath, site: SiteResources
) -> tuple[frozenset[str], str | None]:
    if u is None or v is None or u == v:
        return frozenset(), None  # a hop to or from a free position, or standing still
    if site.is_ride(u, v):
        lift = site.cabin_lift[u]
        return site.place_resources(u), lift
    if not site.has_lane(u, v):
        why = "one-way the other way" if site.has_lane(v, u) else "no open lane"
        raise TrafficPlanError(
            f"path edge {i} ({path.node_ids[i]} -> {path.node_ids[i + 1]}): {why} "
            f"from {u!r} to {v!r}"
        )
    return site.lane_resources(u, v), None


def _wait_at_holding_points(
    path: TrafficPath,
    site: SiteResources,
    anchors: tuple[str, ...],
    stoppable: list[bool],
    offsets: tuple[float, ...],
    max_nodes: int,
    max_m: float,
) -> None:
    """Before a lift, make the stretch from a nearby holding point to the lobby one step."""
    i = 0
    while i < len(anchors):
        if stoppable[i]:
            i += 1
            continue
        run_start = i
        while i < len(anchors) and not stoppable[i]:
            i += 1
        if not any(anchors[k] in site.cabin_lift for k in range(run_start, i)):
            continue
        before = run_start - 1  # the node just before the lobby: the default place to wait
        for h in range(before - 1, max(before - 1 - max_nodes, -1), -1):
            if offsets[before] - offsets[h] > max_m:
                break
            wp = path.waypoints[h]
            if wp is not None and site.waypoints[wp].is_holding_point and stoppable[h]:
                for k in range(h + 1, run_start):
                    stoppable[k] = False
                break


def _check_lift_runs(resolved: PathResources) -> None:
    """One step may not take two lifts: a robot never holds two cabins."""
    start = 0
    while start < resolved.last:
        end = resolved.next_step(start)
        held = {r for r in resolved.needed(start, end) if r.startswith("lift:")}
        if len(held) > 1:
            raise TrafficPlanError(
                f"path nodes {start}..{end}: rides {', '.join(sorted(held))} with no place "
                "to wait between them"
            )
        start = end

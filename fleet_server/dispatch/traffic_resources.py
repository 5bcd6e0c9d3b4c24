"""What traffic control reserves on a site: waypoints, lanes, mutex groups, doors and lifts.

A resource is a string ``<kind>:<name>``:

- ``waypoint:<id>``: the space of one waypoint, capacity 1.
- ``lane:<a>|<b>``: every lane joining waypoints ``a`` and ``b`` (ids sorted), in either
  direction and of any nav graph: one corridor, so a head-on pass and a pass in the same
  direction are both refused. Capacity 1.
- ``mutex:<group>``: every lane of an Open-RMF ``mutex_group``, capacity 1.
- ``door:<name>``: a door, capacity 1, crossed by one robot at a time; FIFO queue.
- ``lift:<name>``: a lift cabin on every level it serves. A robot in the cabin (on any
  level) or riding holds it. Capacity 1 unless configured; FIFO queue.

A lift's *lobby* is a waypoint joined by a lane to one of its cabin waypoints. Cabins and
lobbies are no place to wait: a robot's release never ends there unless the path ends
there (see :mod:`fleet_server.dispatch.traffic_path`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from missions.sites import Lane, RobotClass, Site, Waypoint
from missions.sites.routing import routing_graph


class ResourceKind(StrEnum):
    """The kinds of reservable things."""

    WAYPOINT = "waypoint"
    LANE = "lane"
    MUTEX = "mutex"
    DOOR = "door"
    LIFT = "lift"


QUEUED_KINDS = frozenset({ResourceKind.DOOR, ResourceKind.LIFT})
"""Resources robots queue for, first come first served (issue 8 item 5)."""


def waypoint_resource(waypoint_id: str) -> str:
    """The resource of one waypoint's space."""
    return f"{ResourceKind.WAYPOINT}:{waypoint_id}"


def lane_resource(a: str, b: str) -> str:
    """The undirected resource of the lanes joining ``a`` and ``b``."""
    first, second = sorted((a, b))
    return f"{ResourceKind.LANE}:{first}|{second}"


def mutex_resource(group: str) -> str:
    """The resource of a lane mutex group."""
    return f"{ResourceKind.MUTEX}:{group}"


def door_resource(door: str) -> str:
    """The resource of a door."""
    return f"{ResourceKind.DOOR}:{door}"


def lift_resource(lift: str) -> str:
    """The resource of a lift cabin."""
    return f"{ResourceKind.LIFT}:{lift}"


def resource_kind(resource: str) -> ResourceKind:
    """The kind of a resource string (ValueError if it is not one of ours)."""
    kind, sep, _ = resource.partition(":")
    if not sep:
        raise ValueError(f"resource {resource!r} has no kind prefix")
    return ResourceKind(kind)


@dataclass(frozen=True)
class Hop:
    """A lane step the detour search may take: to ``target``, needing ``resources``."""

    target: str
    length_m: float
    resources: frozenset[str]
    lift: str | None = None


class SiteResources:
    """A site indexed for traffic control: lanes by waypoint pair, lifts, lobbies."""

    def __init__(self, site: Site, lift_capacity: Mapping[str, int] | None = None) -> None:
        self.site = site
        self.waypoints: dict[str, Waypoint] = {wp.id: wp for wp in site.all_waypoints()}
        self._lanes: dict[frozenset[str], list[Lane]] = {}
        self._directed: set[tuple[str, str]] = set()
        for level in site.levels:
            for lane in level.lanes:
                if lane.closed or lane.start == lane.end:
                    continue
                self._lanes.setdefault(frozenset((lane.start, lane.end)), []).append(lane)
                self._directed.add((lane.start, lane.end))
                if lane.bidirectional:
                    self._directed.add((lane.end, lane.start))
        self.cabin_lift: dict[str, str] = {}
        """Cabin waypoint id -> lift name."""
        for lift in site.lifts:
            for ids in lift.waypoints.values():
                for wp_id in ids:
                    self.cabin_lift[wp_id] = lift.name
        self.lobby_lifts: dict[str, frozenset[str]] = self._lobbies()
        """Lobby waypoint id -> the lifts whose cabin it leads to."""
        capacity = dict(lift_capacity or {})
        lift_names = {lift.name for lift in site.lifts}
        unknown = sorted(set(capacity) - lift_names)
        if unknown:
            raise ValueError(f"lift_capacity: no lift {unknown[0]!r} in site {site.name!r}")
        for name, value in capacity.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"lift_capacity.{name}: must be an integer >= 1, got {value!r}")
        self.lift_capacity = {name: capacity.get(name, 1) for name in lift_names}
        self._hops: dict[RobotClass | None, dict[str, tuple[Hop, ...]]] = {}

    def _lobbies(self) -> dict[str, frozenset[str]]:
        lobbies: dict[str, set[str]] = {}
        for pair in self._lanes:
            for cabin in pair:
                lift = self.cabin_lift.get(cabin)
                if lift is None:
                    continue
                for other in pair - {cabin}:
                    if other not in self.cabin_lift:
                        lobbies.setdefault(other, set()).add(lift)
        return {wp: frozenset(lifts) for wp, lifts in lobbies.items()}

    # -- lookups -------------------------------------------------------------------------

    def capacity(self, resource: str) -> int:
        """How many robots may hold ``resource`` at once."""
        if resource_kind(resource) is ResourceKind.LIFT:
            return self.lift_capacity.get(resource.partition(":")[2], 1)
        return 1

    def has_lane(self, u: str, v: str) -> bool:
        """Whether some open lane lets a robot drive from ``u`` to ``v`` (one-way honoured)."""
        return (u, v) in self._directed

    def is_ride(self, u: str, v: str) -> bool:
        """Whether ``u`` -> ``v`` is a lift ride: cabin waypoints of one lift, two levels."""
        lift = self.cabin_lift.get(u)
        return (
            lift is not None
            and self.cabin_lift.get(v) == lift
            and self.waypoints[u].level != self.waypoints[v].level
        )

    def lanes_between(self, u: str, v: str) -> tuple[Lane, ...]:
        """The open lanes joining ``u`` and ``v`` (either direction)."""
        return tuple(self._lanes.get(frozenset((u, v)), ()))

    def lane_resources(self, u: str, v: str) -> frozenset[str]:
        """What driving between ``u`` and ``v`` holds: the lane, its mutex groups and doors."""
        found = {lane_resource(u, v)}
        for lane in self._lanes.get(frozenset((u, v)), ()):
            if lane.mutex_group:
                found.add(mutex_resource(lane.mutex_group))
            if lane.door:
                found.add(door_resource(lane.door))
        return frozenset(found)

    def place_resources(self, waypoint_id: str) -> frozenset[str]:
        """What standing on a waypoint holds: its space, or the lift for a cabin waypoint."""
        lift = self.cabin_lift.get(waypoint_id)
        if lift is not None:
            # The cabin is one space on every level: whoever is in it, on any floor, has it.
            return frozenset({lift_resource(lift)})
        return frozenset({waypoint_resource(waypoint_id)})

    def no_stop(self, waypoint_id: str) -> bool:
        """Cabins and lobbies: a robot may pass or ride but must not wait there."""
        return waypoint_id in self.cabin_lift or waypoint_id in self.lobby_lifts

    def is_refuge(self, waypoint_id: str) -> bool:
        """A holding point or parking spot a robot may be sent to out of the way."""
        wp = self.waypoints[waypoint_id]
        return (wp.is_holding_point or wp.is_parking_spot) and not self.no_stop(waypoint_id)

    def distance_m(self, u: str, v: str) -> float:
        """Straight-line distance between two waypoints (0 across levels: a lift ride)."""
        a, b = self.waypoints[u], self.waypoints[v]
        if a.level != b.level:
            return 0.0
        return math.hypot(a.x - b.x, a.y - b.y)

    def hops(self, u: str, robot_class: RobotClass | None = None) -> Iterable[Hop]:
        """Steps out of ``u`` along lanes and lift rides, for detour searches.

        With a robot class, only the lanes and lifts its routes may use (nav graph,
        zones); without, every open lane and every lift.
        """
        table = self._hops.get(robot_class)
        if table is None:
            table = self._index_hops(robot_class)
            self._hops[robot_class] = table
        return table.get(u, ())

    def _index_hops(self, robot_class: RobotClass | None) -> dict[str, tuple[Hop, ...]]:
        if robot_class is None:
            lanes = sorted(self._directed)
            rides = sorted(
                (u, v) for u in self.cabin_lift for v in self.cabin_lift if self.is_ride(u, v)
            )
        else:
            graph = routing_graph(self.site, robot_class)
            pairs = [(graph.ids[i], graph.ids[j], e.lift) for (i, j), e in graph.edges.items()]
            lanes = sorted((u, v) for u, v, lift in pairs if lift is None)
            rides = sorted((u, v) for u, v, lift in pairs if lift is not None)
        out: dict[str, list[Hop]] = {}
        for u, v in lanes:
            resources = self.lane_resources(u, v) | self.place_resources(v)
            out.setdefault(u, []).append(Hop(v, self.distance_m(u, v), resources))
        for u, v in rides:
            lift = self.cabin_lift[u]
            out.setdefault(u, []).append(Hop(v, 0.0, self.place_resources(v), lift))
        return {u: tuple(hops) for u, hops in out.items()}

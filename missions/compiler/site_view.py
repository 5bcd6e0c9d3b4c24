"""A site as one robot sees it: which waypoints it may use, lanes, zones, routes.

Every lookup that can fail on a mission's name raises :class:`MissionCompileError` naming
the mission field the name came from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from missions.compiler.errors import MissionCompileError
from missions.compiler.robot import RobotProfile
from missions.sites import (
    Lane,
    Level,
    Route,
    RouteNotFoundError,
    Site,
    Waypoint,
    Zone,
    ZoneKind,
    resolve_waypoint,
    route,
    travel_time_matrix,
)
from missions.sites.geometry import point_in_polygon
from missions.sites.routing import routing_graph, zone_blocks

Point = tuple[float, float]


@dataclass(frozen=True)
class ZoneRef:
    """A zone and the level it is drawn on."""

    level: Level
    zone: Zone

    def contains(self, x: float, y: float) -> bool:
        """Whether (x, y) on this level lies inside the zone."""
        return point_in_polygon((x, y), self.zone.polygon, self.zone.holes)


class SiteView:
    """Lookups over one site for one robot."""

    def __init__(self, site: Site, robot: RobotProfile) -> None:
        self.site = site
        self.robot = robot
        self.robot_class = robot.robot_class
        graph = routing_graph(site, self.robot_class)
        self.blocked = graph.blocked
        self.waypoints = {wp.id: wp for wp in site.all_waypoints()}
        # Waypoints with at least one usable lane (or lift) and outside forbidden zones:
        # the only ones a route can start or end on.
        self.usable = frozenset(
            graph.ids[i] for pair in graph.edges for i in pair if graph.ids[i] not in graph.blocked
        )
        self._lanes = self._index_lanes()

    # -- names --------------------------------------------------------------------------

    def waypoint(self, ref: str, field: str) -> Waypoint:
        """The waypoint a mission names (id or unique name), usable by this robot."""
        try:
            wp = resolve_waypoint(self.site, ref)
        except RouteNotFoundError as exc:
            raise MissionCompileError(field, str(exc)) from exc
        if wp.id in self.blocked:
            raise MissionCompileError(
                field,
                f"waypoint {ref!r} lies in a zone robot kind {self.robot.kind!r} may not enter",
            )
        if wp.id not in self.usable:
            raise MissionCompileError(
                field, f"waypoint {ref!r} is on no lane robot {self.robot.serial_number!r} may use"
            )
        return wp

    def level(self, name: str, field: str) -> Level:
        """The level a mission names."""
        try:
            return self.site.level(name)
        except KeyError:
            known = ", ".join(level.name for level in self.site.levels)
            raise MissionCompileError(
                field, f"no level {name!r} in site {self.site.name!r} (levels: {known})"
            ) from None

    def zone(self, name: str, field: str) -> ZoneRef:
        """The zone (room) a mission names; it must be unique in the site."""
        found = [
            ZoneRef(level, zone)
            for level in self.site.levels
            for zone in level.zones
            if zone.name == name
        ]
        if not found:
            raise MissionCompileError(field, f"no zone {name!r} in site {self.site.name!r}")
        if len(found) > 1:
            levels = ", ".join(ref.level.name for ref in found)
            raise MissionCompileError(field, f"zone name {name!r} is ambiguous (levels {levels})")
        ref = found[0]
        if zone_blocks(ref.zone, self.robot_class):
            raise MissionCompileError(
                field,
                f"zone {name!r} is {ref.zone.kind.value} for robot kind {self.robot.kind!r}",
            )
        return ref

    # -- geometry -------------------------------------------------------------------------

    def usable_in(self, ref: ZoneRef) -> list[Waypoint]:
        """Usable waypoints inside a zone, in site order."""
        return [
            wp for wp in ref.level.waypoints if wp.id in self.usable and ref.contains(wp.x, wp.y)
        ]

    def nearest_usable(
        self, level: Level, x: float, y: float, *, among: list[Waypoint] | None = None
    ) -> Waypoint | None:
        """The usable waypoint of ``level`` (or of ``among``) nearest to (x, y)."""
        candidates = among if among is not None else level.waypoints
        best: Waypoint | None = None
        best_d = math.inf
        for wp in candidates:
            if wp.id not in self.usable or wp.level != level.name:
                continue
            d = math.hypot(wp.x - x, wp.y - y)
            if d < best_d:
                best, best_d = wp, d
        return best

    def uv_allowed_here(self, level: Level, x: float, y: float) -> bool:
        """UV may run at (x, y) unless the level has UV-allowed zones and none holds it."""
        allowed = [z for z in level.zones if z.kind is ZoneKind.UV_ALLOWED]
        return not allowed or any(point_in_polygon((x, y), z.polygon, z.holes) for z in allowed)

    # -- lanes and routes --------------------------------------------------------------------

    def _index_lanes(self) -> dict[tuple[str, str], Lane]:
        """The lane a route takes from u to v: the fastest usable one, a door lane on ties."""
        best: dict[tuple[str, str], Lane] = {}
        nav_graph = self.robot_class.nav_graph
        for level in self.site.levels:
            for lane in level.lanes:
                if lane.closed or (nav_graph is not None and lane.graph != nav_graph):
                    continue
                pairs = [(lane.start, lane.end)]
                if lane.bidirectional:
                    pairs.append((lane.end, lane.start))
                for pair in pairs:
                    old = best.get(pair)
                    if old is None or _lane_rank(lane) > _lane_rank(old):
                        best[pair] = lane
        return best

    def lane(self, u: str, v: str) -> Lane | None:
        """The lane from waypoint u to v, if one exists."""
        return self._lanes.get((u, v))

    def route(self, from_wp: str, to_wp: str, *, from_field: str, to_field: str) -> Route:
        """Fastest route; unreachable → an error naming both ends and their fields."""
        try:
            return route(self.site, from_wp, to_wp, robot=self.robot_class)
        except RouteNotFoundError as exc:
            raise MissionCompileError(
                to_field,
                f"no route from {self._label(from_wp)} ({from_field}) to "
                f"{self._label(to_wp)} ({to_field}) for robot kind {self.robot.kind!r}",
            ) from exc

    def _label(self, wp_id: str) -> str:
        wp = self.waypoints.get(wp_id)
        return f"{wp.name!r} [{wp_id}]" if wp is not None and wp.name else repr(wp_id)

    def travel_times(self, ids: list[str]) -> npt.NDArray[np.float64]:
        """Fastest travel times between the given waypoints (inf where unreachable)."""
        _, matrix = travel_time_matrix(self.site, self.robot_class, waypoint_ids=ids)
        return np.asarray(matrix)


def _lane_rank(lane: Lane) -> tuple[float, bool]:
    return (lane.speed_limit_m_s or math.inf, bool(lane.door))

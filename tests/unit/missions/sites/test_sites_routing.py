"""Routing: cross-floor routes through lifts, lane rules, zones, and the travel-time matrix."""

from __future__ import annotations

import math
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from missions.sites import (
    GeoReference,
    Lane,
    Level,
    Lift,
    RobotClass,
    RouteNotFoundError,
    Site,
    Waypoint,
    Zone,
    ZoneKind,
    import_rmf_building,
    route,
    travel_time_matrix,
)

RMF = Path(__file__).resolve().parents[3] / "fixtures" / "maps" / "rmf"
GUIDE = RobotClass(kind="guide", max_speed_m_s=1.0)


@pytest.fixture(scope="module")
def clinic() -> Site:
    return import_rmf_building(RMF / "clinic.building.yaml", kind="hospital")


def _reference_graph(site: Site, robot: RobotClass) -> nx.DiGraph:
    """Independent build of the routing graph, for comparison."""
    graph = nx.DiGraph()
    where = {wp.id: wp for wp in site.all_waypoints()}
    graph.add_nodes_from(where)
    for level in site.levels:
        for lane in level.lanes:
            a, b = where[lane.start], where[lane.end]
            speed = min(robot.max_speed_m_s, lane.speed_limit_m_s or math.inf)
            weight = math.dist((a.x, a.y), (b.x, b.y)) / speed
            pairs = [(a.id, b.id), (b.id, a.id)] if lane.bidirectional else [(a.id, b.id)]
            for u, v in pairs:
                if not graph.has_edge(u, v) or graph[u][v]["weight"] > weight:
                    graph.add_edge(u, v, weight=weight)
    order = [lvl.name for lvl in sorted(site.levels, key=lambda lvl: lvl.elevation_m)]
    for lift in site.lifts:
        for la, ids_a in lift.waypoints.items():
            for lb, ids_b in lift.waypoints.items():
                if la == lb:
                    continue
                floors = abs(order.index(la) - order.index(lb))
                for u in ids_a:
                    for v in ids_b:
                        graph.add_edge(
                            u, v, weight=lift.wait_time_s + lift.travel_time_per_floor_s * floors
                        )
    return graph


def test_clinic_cross_floor_route_uses_a_lift(clinic: Site) -> None:
    start = next(wp for wp in clinic.level("L1").waypoints if wp.name == "L1_left_treatment_1")
    goal = next(wp for wp in clinic.level("L2").waypoints if wp.name == "L2_right_nurse_center")
    result = route(clinic, start.name, goal.name, robot=GUIDE)
    assert result.waypoints[0] == start.id and result.waypoints[-1] == goal.id
    assert len(result.lift_rides) == 1
    ride = result.lift_rides[0]
    lift = next(lf for lf in clinic.lifts if lf.name == ride.lift)
    assert (ride.from_level, ride.to_level) == ("L1", "L2")
    assert ride.board_waypoint in lift.waypoints["L1"]
    assert ride.alight_waypoint in lift.waypoints["L2"]
    i = result.waypoints.index(ride.board_waypoint)
    assert result.waypoints[i + 1] == ride.alight_waypoint
    assert ride.time_s == lift.wait_time_s + lift.travel_time_per_floor_s
    # Time and distance add up along the returned path.
    where = {wp.id: wp for wp in clinic.all_waypoints()}
    distance = sum(
        math.dist((where[u].x, where[u].y), (where[v].x, where[v].y))
        for u, v in zip(result.waypoints, result.waypoints[1:], strict=False)
        if where[u].level == where[v].level
    )
    assert result.distance_m == pytest.approx(distance)
    assert result.travel_time_s == pytest.approx(distance / GUIDE.max_speed_m_s + ride.time_s)
    reference = nx.dijkstra_path_length(_reference_graph(clinic, GUIDE), start.id, goal.id)
    assert result.travel_time_s == pytest.approx(reference)


def test_matrix_matches_networkx_on_clinic(clinic: Site) -> None:
    ids, matrix = travel_time_matrix(clinic, GUIDE)
    reference = dict(nx.all_pairs_dijkstra_path_length(_reference_graph(clinic, GUIDE)))
    expected = np.array([[reference[a].get(b, np.inf) for b in ids] for a in ids])
    assert np.isfinite(matrix).all()
    np.testing.assert_allclose(matrix, expected, rtol=1e-12, atol=1e-9)


def test_matrix_is_cached_by_content_and_read_only(clinic: Site) -> None:
    ids, first = travel_time_matrix(clinic, GUIDE)
    again_ids, again = travel_time_matrix(Site.model_validate_json(clinic.model_dump_json()), GUIDE)
    assert again is first and again_ids == ids
    assert not first.flags.writeable
    _, slow = travel_time_matrix(clinic, RobotClass(kind="guide", max_speed_m_s=0.5))
    assert slow is not first
    # Walking time doubles; lift time does not.
    assert np.all(slow >= first - 1e-9)


def test_matrix_subset_matches_full_matrix(clinic: Site) -> None:
    ids, full = travel_time_matrix(clinic, GUIDE)
    subset = [ids[5], ids[70], ids[0]]
    sub_ids, sub = travel_time_matrix(clinic, GUIDE, waypoint_ids=subset)
    assert sub_ids == tuple(subset)
    pick = [ids.index(w) for w in subset]
    np.testing.assert_allclose(sub, full[np.ix_(pick, pick)])


def test_nav_graph_restriction(clinic: Site) -> None:
    robot = RobotClass(kind="cleaner", max_speed_m_s=1.0, nav_graph=1)
    ids, matrix = travel_time_matrix(clinic, robot)
    on_graph_1 = {
        end
        for lvl in clinic.levels
        for la in lvl.lanes
        if la.graph == 1
        for end in (la.start, la.end)
    }
    outside = [i for i, w in enumerate(ids) if w not in on_graph_1]
    inside = [i for i, w in enumerate(ids) if w in on_graph_1]
    assert outside and inside
    assert np.isinf(matrix[np.ix_(inside, outside)]).all()
    assert np.isfinite(matrix[np.ix_(inside, inside)]).all()


# --- lane rules and zones on a small hand-made site ------------------------------------------


def _square(zones: tuple[Zone, ...] = ()) -> Site:
    """A(0,0) -> B(10,0) one-way; B-C limited to 0.5 m/s; C-D; D-A; A-C closed."""
    wps = tuple(
        Waypoint(id=i, name=i.lower(), level="G", x=x, y=y)
        for i, x, y in (("A", 0, 0), ("B", 10, 0), ("C", 10, 10), ("D", 0, 10))
    )
    lanes = (
        Lane(start="A", end="B", bidirectional=False),
        Lane(start="B", end="C", speed_limit_m_s=0.5),
        Lane(start="C", end="D"),
        Lane(start="D", end="A"),
        Lane(start="A", end="C", closed=True),
    )
    level = Level(name="G", waypoints=wps, lanes=lanes, zones=zones)
    return Site(
        name="square",
        kind="bank",
        levels=(level,),
        geo_reference=GeoReference(anchor_lon=114.0, anchor_lat=22.5),
    )


def test_one_way_speed_limit_and_closed_lane() -> None:
    site = _square()
    assert route(site, "A", "B", robot=GUIDE).travel_time_s == pytest.approx(10.0)
    back = route(site, "B", "A", robot=GUIDE)
    # Not against the one-way lane, not through the closed diagonal: B-C at 0.5 m/s.
    assert back.waypoints == ("B", "C", "D", "A")
    assert back.travel_time_s == pytest.approx(20.0 + 10.0 + 10.0)
    assert back.distance_m == pytest.approx(30.0)
    slow = RobotClass(kind="guide", max_speed_m_s=0.25)
    assert route(site, "B", "A", robot=slow).travel_time_s == pytest.approx(120.0)


def test_keep_out_zone_applies_to_listed_kinds() -> None:
    around_d = ((-1.0, 9.0), (1.0, 9.0), (1.0, 11.0), (-1.0, 11.0))
    site = _square(
        (Zone(name="lab", kind=ZoneKind.KEEP_OUT, polygon=around_d, robot_kinds=("uv",)),)
    )
    uv = RobotClass(kind="uv", max_speed_m_s=1.0)
    with pytest.raises(RouteNotFoundError):
        route(site, "B", "A", robot=uv)
    with pytest.raises(RouteNotFoundError, match="zone"):
        route(site, "B", "D", robot=uv)
    assert route(site, "B", "A", robot=GUIDE).waypoints == ("B", "C", "D", "A")


def test_restricted_zone_crossing_a_lane_needs_authorisation() -> None:
    # A strip across the middle of lane C-D; no waypoint inside it.
    strip = ((4.0, 9.0), (6.0, 9.0), (6.0, 11.0), (4.0, 11.0))
    site = _square((Zone(name="ward_3", kind=ZoneKind.RESTRICTED, polygon=strip),))
    with pytest.raises(RouteNotFoundError):
        route(site, "B", "A", robot=GUIDE)
    allowed = RobotClass(kind="guide", max_speed_m_s=1.0, authorized_zones=frozenset({"ward_3"}))
    assert route(site, "B", "A", robot=allowed).waypoints == ("B", "C", "D", "A")
    quiet = _square((Zone(name="q", kind=ZoneKind.QUIET, polygon=strip),))
    assert route(quiet, "B", "A", robot=GUIDE).waypoints == ("B", "C", "D", "A")


def test_lift_time_counts_floors() -> None:
    levels = []
    for i, name in enumerate(("B1", "G", "F1")):
        wps = (
            Waypoint(id=f"{name}:lobby", level=name, x=0.0, y=0.0),
            Waypoint(id=f"{name}:cab", level=name, x=5.0, y=0.0),
        )
        levels.append(
            Level(
                name=name,
                elevation_m=4.0 * i,
                waypoints=wps,
                lanes=(Lane(start=wps[0].id, end=wps[1].id),),
            )
        )
    lift = Lift(
        name="east",
        levels=("B1", "G", "F1"),
        x=5.0,
        y=0.0,
        cabin_width_m=2.0,
        cabin_depth_m=2.0,
        wait_time_s=20.0,
        travel_time_per_floor_s=6.0,
        waypoints={"B1": ("B1:cab",), "G": ("G:cab",), "F1": ("F1:cab",)},
    )
    site = Site(
        name="tower",
        kind="hospital",
        levels=tuple(levels),
        lifts=(lift,),
        geo_reference=GeoReference(anchor_lon=114.0, anchor_lat=22.5),
    )
    result = route(site, "B1:lobby", "F1:lobby", robot=GUIDE)
    assert result.waypoints == ("B1:lobby", "B1:cab", "F1:cab", "F1:lobby")
    assert result.travel_time_s == pytest.approx(5.0 + 20.0 + 2 * 6.0 + 5.0)
    assert result.lift_rides[0].lift == "east"


def test_waypoint_lookup_errors(clinic: Site) -> None:
    with pytest.raises(RouteNotFoundError, match="no waypoint"):
        route(clinic, "nowhere", "L1:363", robot=GUIDE)
    site = _square()
    assert route(site, "a", "b", robot=GUIDE).waypoints == ("A", "B")  # by name

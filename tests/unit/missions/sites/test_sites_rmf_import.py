"""Open-RMF importer against the three public fixtures, with counts checked by hand.

How the expected counts were obtained (from the YAML text, not through our importer):
``sec L lanes`` below prints the lines of section ``lanes`` of level ``L``::

    sec() { awk -v L="  $LEVEL:" -v S="    $1:" '$0==L{l=1;next} /^  [^ ]/{l=0}
            l && $0==S{s=1;next} l && /^    [^ ]/{s=0} l&&s' FILE; }

- lanes:   ``sec lanes | grep -c '^      - \\['`` (one line per listed lane)
- doors:   ``sec doors | grep -c '^      - \\['``
- chargers: ``sec vertices | grep -c 'is_charger: \\[4, true\\]'``
- lane waypoints: the distinct first two numbers of every lane line
  (``grep -oP '^      - \\[\\K[0-9]+, [0-9]+' | tr ',' '\\n' | sort -un | wc -l``)
- named: of those vertex indices, the vertex lines (0-based order in ``sec vertices``)
  whose name is not ``""``.
- lifts: ``grep -A200 '^lifts:' FILE | grep -cP '^  [a-z_0-9]+:$'``

clinic: L1 91 lanes, 76 doors, 2 chargers, 55 lane waypoints, 18 named;
        L2 78 lanes, 56 doors, 2 chargers, 40 lane waypoints, 12 named; 4 lifts.
office: L1 30 lanes, 3 doors, 2 chargers, 29 lane waypoints, 14 named; no lifts.
campus: L1 154 lanes, 0 doors, 3 chargers (a 4th vertex has is_charger false),
        145 lane waypoints, 18 named (10 more named vertices lie on no lane); no lifts.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from missions.sites import Site, import_rmf_building, import_site, site_summary

RMF = Path(__file__).resolve().parents[3] / "fixtures" / "maps" / "rmf"

EXPECTED = {
    "clinic": {
        "lifts": 4,
        "levels": [
            {
                "name": "L1",
                "waypoints": 55,
                "named_waypoints": 18,
                "lanes": 91,
                "doors": 76,
                "chargers": 2,
            },
            {
                "name": "L2",
                "waypoints": 40,
                "named_waypoints": 12,
                "lanes": 78,
                "doors": 56,
                "chargers": 2,
            },
        ],
    },
    "office": {
        "lifts": 0,
        "levels": [
            {
                "name": "L1",
                "waypoints": 29,
                "named_waypoints": 14,
                "lanes": 30,
                "doors": 3,
                "chargers": 2,
            },
        ],
    },
    "campus": {
        "lifts": 0,
        "levels": [
            {
                "name": "L1",
                "waypoints": 145,
                "named_waypoints": 18,
                "lanes": 154,
                "doors": 0,
                "chargers": 3,
            },
        ],
    },
}


@pytest.fixture(scope="module")
def clinic() -> Site:
    return import_rmf_building(RMF / "clinic.building.yaml", kind="hospital")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_summary_counts_match_hand_counts(name: str) -> None:
    summary = site_summary(import_site(RMF / f"{name}.building.yaml"))
    assert summary["levels"] == EXPECTED[name]["levels"]
    assert summary["lifts"] == EXPECTED[name]["lifts"]
    assert summary["zones"] == 0
    assert set(summary) == {"name", "kind", "levels", "lifts", "zones", "bbox_wgs84"}


def test_summary_shape_and_bbox(clinic: Site) -> None:
    summary = site_summary(clinic)
    assert summary["name"] == "clinic"
    assert summary["kind"] == "hospital"
    w, s, e, n = summary["bbox_wgs84"]
    assert w < e and s < n
    for wp in clinic.all_waypoints():
        lon, lat = clinic.geo_reference.to_wgs84(wp.x, wp.y)
        assert w <= lon <= e and s <= lat <= n


def test_pixels_scale_by_measurement_and_flip_y() -> None:
    office = import_rmf_building(RMF / "office.building.yaml")
    doc = yaml.safe_load((RMF / "office.building.yaml").read_text())
    level = doc["levels"]["L1"]
    vertices = level["vertices"]
    ratios = []
    for a, b, params in level["measurements"]:
        (ax, ay), (bx, by) = vertices[a][:2], vertices[b][:2]
        ratios.append(params["distance"][1] / math.hypot(ax - bx, ay - by))
    scale = sum(ratios) / len(ratios)
    plan = office.levels[0].floor_plan
    assert plan is not None
    assert plan.scale_m_per_px == pytest.approx(scale, rel=1e-12)
    assert (plan.width_px, plan.height_px) == (3047, 1717)
    charger = next(wp for wp in office.all_waypoints() if wp.name == "tinyRobot1_charger")
    u, v = 1232.421, 658.56700000000001  # that vertex's pixel position in the file
    assert charger.x == pytest.approx(u * scale)
    assert charger.y == pytest.approx(-v * scale)
    assert plan.level_to_pixel(charger.x, charger.y) == pytest.approx((u, v))


def test_vertex_flags_and_extra_params() -> None:
    office = import_rmf_building(RMF / "office.building.yaml")
    by_name = {wp.name: wp for wp in office.all_waypoints() if wp.name}
    charger = by_name["tinyRobot2_charger"]
    assert (charger.is_charger, charger.is_holding_point, charger.is_parking_spot) == (
        True,
        True,
        True,
    )
    assert charger.params["spawn_robot_type"] == "Open-RMF/TinyRobot"
    pantry = by_name["pantry"]
    assert (pantry.is_charger, pantry.is_holding_point, pantry.is_parking_spot) == (
        False,
        True,
        False,
    )
    assert pantry.params["pickup_dispenser"] == "coke_dispenser"
    assert by_name["supplies"].is_parking_spot


def test_lane_params_are_read(rmf_copy: Callable[..., Path]) -> None:
    def edit(text: str) -> str:
        # First lane of the office map: make it one-way, limited, in a mutex group, oriented;
        # and give vertex 39 (presupplies) a dock.
        text = text.replace(
            '- [39, 40, {bidirectional: [4, true], demo_mock_floor_name: [1, ""], '
            'demo_mock_lift_name: [1, ""], graph_idx: [2, 0], mutex: [1, ""], '
            'orientation: [1, ""], speed_limit: [3, 0]}]',
            "- [39, 40, {bidirectional: [4, false], graph_idx: [2, 0], mutex: [1, aisle_a], "
            "orientation: [1, forward], speed_limit: [3, 0.5]}]",
        )
        return text.replace(
            "presupplies, {is_parking_spot: [4, false]}",
            "presupplies, {is_parking_spot: [4, false], dock_name: [1, dock_7]}",
        )

    site = import_rmf_building(rmf_copy("office", edit))
    lane = next(la for la in site.levels[0].lanes if (la.start, la.end) == ("L1:39", "L1:40"))
    assert lane.bidirectional is False
    assert lane.speed_limit_m_s == 0.5
    assert lane.mutex_group == "aisle_a"
    assert lane.orientation == "forward"
    assert lane.graph == 0
    others = [la for la in site.levels[0].lanes if la is not lane]
    assert all(la.bidirectional and la.speed_limit_m_s is None for la in others)
    dock = next(wp for wp in site.all_waypoints() if wp.id == "L1:39")
    assert dock.dock_name == "dock_7"


def test_lanes_record_the_door_they_cross() -> None:
    office = import_rmf_building(RMF / "office.building.yaml")
    crossing = {(la.start, la.end): la.door for la in office.levels[0].lanes if la.door}
    # Lanes 49-64 and 46-66 pass through coe_door (35-37) and hardware_door (18-17).
    assert crossing == {("L1:49", "L1:64"): "coe_door", ("L1:46", "L1:66"): "hardware_door"}


def test_nav_graph_index_is_kept(clinic: Site) -> None:
    graphs = {la.graph for lvl in clinic.levels for la in lvl.lanes}
    assert graphs == {0, 1}
    # L2 lists lane 291-281 twice, once per graph; both are kept as listed.
    twins = [
        la.graph for la in clinic.level("L2").lanes if (la.start, la.end) == ("L2:291", "L2:281")
    ]
    assert sorted(twins) == [0, 1]


def test_doors_walls_and_floors(clinic: Site) -> None:
    l1 = clinic.level("L1")
    door = next(d for d in l1.doors if d.name == "L1_clinic_a")
    assert door.kind == "double_sliding"
    assert math.dist(door.start, door.end) > 1.0
    assert len(l1.walls) == 360
    assert all(w.height_m == 2.5 for w in l1.walls)
    assert len(l1.floors) == 2


def test_clinic_levels_and_lifts(clinic: Site) -> None:
    assert [(lvl.name, lvl.elevation_m) for lvl in clinic.levels] == [("L1", 0.0), ("L2", 10.0)]
    lifts = {lift.name: lift for lift in clinic.lifts}
    assert set(lifts) == {"lift_1", "lift_2", "lift_24", "lift_25"}
    lift = lifts["lift_1"]
    assert lift.levels == ("L1", "L2")
    assert lift.level_doors == {"L1": ("lift_1_door",), "L2": ("lift_1_door",)}
    assert (lift.cabin_width_m, lift.cabin_depth_m) == (2.5, 3.0)
    assert [d.name for d in lift.doors] == ["lift_1_door"]
    # Lane vertices 370 (L1) and 281 (L2) sit at the lift's drawn position (1600, 276).
    assert lift.waypoints == {"L1": ("L1:370",), "L2": ("L2:281",)}
    assert lifts["lift_25"].waypoints == {"L1": ("L1:363",), "L2": ("L2:280",)}
    # lift_2 and lift_24 have cabin vertices, but no lane reaches them.
    assert lifts["lift_2"].waypoints == {}
    assert lifts["lift_24"].waypoints == {}


def test_second_level_aligned_by_fiducials(clinic: Site) -> None:
    l1, l2 = clinic.level("L1").floor_plan, clinic.level("L2").floor_plan
    assert l1 is not None and l2 is not None
    # Both levels share five identical fiducials, so L2 maps exactly onto L1.
    assert l2.scale_m_per_px == pytest.approx(l1.scale_m_per_px, rel=1e-12)
    assert l2.rotation_rad == pytest.approx(0.0, abs=1e-12)
    assert l2.translation_m == pytest.approx((0.0, 0.0), abs=1e-9)


def test_campus_wgs84_vertices_become_local_metres() -> None:
    campus = import_rmf_building(RMF / "campus.building.yaml")
    geo = campus.geo_reference
    doc = yaml.safe_load((RMF / "campus.building.yaml").read_text())
    vertices = doc["levels"]["L1"]["vertices"]
    index = next(i for i, v in enumerate(vertices) if v[3] == "room_2")
    lon, lat = vertices[index][:2]
    room = next(wp for wp in campus.all_waypoints() if wp.name == "room_2")
    assert room.id == f"L1:{index}" and room.is_charger
    assert geo.from_wgs84(lon, lat) == pytest.approx((room.x, room.y), abs=1e-9)
    # Campus spans ~320 m x 250 m around its centre anchor.
    xs = [wp.x for wp in campus.all_waypoints()]
    assert 300 < max(xs) - min(xs) < 340
    assert campus.levels[0].floor_plan is None


def test_waypoint_ids_unique_and_lanes_resolve(clinic: Site) -> None:
    ids = [wp.id for wp in clinic.all_waypoints()]
    assert len(ids) == len(set(ids))
    for level in clinic.levels:
        names = {wp.id for wp in level.waypoints}
        assert all(la.start in names and la.end in names for la in level.lanes)


def test_json_round_trip_is_lossless(clinic: Site) -> None:
    again = Site.model_validate_json(clinic.model_dump_json())
    assert again == clinic
    assert again.model_dump_json() == clinic.model_dump_json()


def test_name_and_kind_override() -> None:
    site = import_site(RMF / "office.building.yaml", name="Bank HQ", kind="bank")
    assert (site.name, site.kind.value) == ("Bank HQ", "bank")
    assert site.source_file == "office.building.yaml"
    assert site.source_format == "rmf_building"


def test_geo_anchor_places_pixel_maps() -> None:
    site = import_site(RMF / "office.building.yaml", geo_anchor=(121.4737, 31.2304))
    assert site.geo_reference.to_wgs84(0.0, 0.0) == pytest.approx((121.4737, 31.2304), abs=1e-12)

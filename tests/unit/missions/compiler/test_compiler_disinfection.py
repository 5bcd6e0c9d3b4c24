"""UV-C and spray disinfection: dwell times from the dose model, rooms, report plans."""

from __future__ import annotations

import json
from typing import Any

import pytest

from missions.compiler import (
    DWELL_DEVIATION_XY_M,
    CompiledMission,
    RobotProfile,
    StartPose,
    compile_mission,
    planned_dwell_s,
)
from missions.report import ActionOutcome, build_disinfection_report
from missions.sites import Site
from missions.sites.geometry import point_in_polygon
from missions.types import DisinfectionMission, parse_mission
from missions.uv_dose import LampModel, uv_dwell_seconds
from missions.vda5050 import Action
from tests.support.vda_schemas import schema_errors
from tests.unit.missions.compiler.compiler_support import (
    TREATMENT_ROOM_1,
    WARD_L2,
    make_robot,
    wire,
)


def params(action: Action) -> dict[str, Any]:
    return {p.key: p.value for p in action.action_parameters or []}


def disinfection(**fields: Any) -> DisinfectionMission:
    mission = parse_mission({"kind": "disinfection", "site": "clinic", **fields})
    assert isinstance(mission, DisinfectionMission)
    return mission


def compile_at(site: Site, mission: DisinfectionMission, robot: RobotProfile) -> CompiledMission:
    return compile_mission(
        mission, site, robot, start=StartPose(waypoint="L1_left_nurse_center"), order_id="d1"
    )


def uv_actions(compiled: CompiledMission) -> list[tuple[int, Action]]:
    return [
        (i, a)
        for i, node in enumerate(compiled.nodes)
        for a in node.actions
        if a.action_type in ("uvDisinfect", "sprayDisinfect")
    ]


def test_planned_dwell_rounds_up_with_the_timing_margin() -> None:
    assert planned_dwell_s(3.745) == 3.8
    assert planned_dwell_s(3.75) == 3.8
    assert planned_dwell_s(3.76) == 3.9
    assert planned_dwell_s(10.0) == 10.1


def test_uv_waypoint_dwell_follows_the_dose_model(clinic: Site, robot: RobotProfile) -> None:
    # The worked figure: 2.67 mW/cm² at 1 m, 37.3 mJ/cm² at 3 m takes ≈ 125.7 s.
    mission = disinfection(
        method="uv",
        targets=[{"waypoint": "L1_left_treatment_1"}, {"waypoint": "L1_right_treatment"}],
        target_dose_mj_cm2=37.3,
        distance_m=3.0,
    )
    compiled = compile_at(clinic, mission, robot)
    lamp = LampModel(irradiance_at_1m_mw_cm2=2.67)
    needed = uv_dwell_seconds(37.3, lamp, 3.0)
    assert 125 < needed < 126
    found = uv_actions(compiled)
    assert [compiled.node_waypoints[i] for i, _ in found] == ["L1:384", "L1:409"]
    for _, action in found:
        assert action.blocking_type == "HARD"
        assert params(action) == {
            "lamp": "dwell",
            "dwellS": planned_dwell_s(needed),
            "targetDoseMjCm2": 37.3,
            "distanceM": 3.0,
            "irradianceAt1mMwCm2": 2.67,
        }
    [point, _] = compiled.dwell_points
    assert point.dwell_s == pytest.approx(125.8)
    assert point.predicted_dose_mj_cm2 == pytest.approx(2.67 / 9 * 125.8, abs=1e-3)
    assert point.predicted_dose_mj_cm2 >= 37.3
    assert [p.label for p in compiled.planned_points] == [
        "L1_left_treatment_1",
        "L1_right_treatment",
    ]
    assert compiled.planned_points[0].action_id == found[0][1].action_id
    assert compiled.estimated_duration_s > 2 * 125.8
    assert not schema_errors("order", wire(compiled.order()))


def test_the_missions_lamp_overrides_the_robots(clinic: Site, robot: RobotProfile) -> None:
    mission = disinfection(
        method="uv",
        targets=[{"waypoint": "L1_left_treatment_1"}],
        lamp={"irradiance_at_1m_mw_cm2": 5.0},
    )
    [(_, action)] = uv_actions(compile_at(clinic, mission, robot))
    assert params(action)["irradianceAt1mMwCm2"] == 5.0
    assert params(action)["dwellS"] == planned_dwell_s(10.0 / 5.0)


def test_uv_point_target_stands_at_the_point_joined_to_the_graph(
    clinic: Site, robot: RobotProfile
) -> None:
    mission = disinfection(method="uv", targets=[{"x": 10.0, "y": -12.5, "level": "L1"}])
    compiled = compile_at(clinic, mission, robot)
    [(i, _)] = uv_actions(compiled)
    node = compiled.nodes[i]
    assert node.node_position is not None
    assert (node.node_position.x, node.node_position.y) == (10.0, -12.5)
    assert node.node_position.allowed_deviation_xy == DWELL_DEVIATION_XY_M
    assert compiled.node_waypoints[i] is None
    assert compiled.node_waypoints[i - 1] == "L1:384"  # the nearest waypoint it hangs off


def test_uv_room_dwell_points_are_free_nodes_around_a_waypoint_in_the_room(
    clinic_rooms: Site, robot: RobotProfile
) -> None:
    mission = disinfection(
        method="uv",
        targets=[{"room": "treatment_1"}],
        target_dose_mj_cm2=20,
        dwell_points_per_room=3,
    )
    compiled = compile_at(clinic_rooms, mission, robot)
    plan = compiled.room_plans["treatment_1"]
    assert plan.meets_target and plan.min_dose_mj_cm2 >= 20
    found = uv_actions(compiled)
    used = [p for p in plan.dwell_points if p.dwell_s > 0]
    assert len(found) == len(used) >= 1
    first = found[0][0]
    assert compiled.node_waypoints[first - 1] == "L1:384"  # the waypoint inside the room
    for i, action in found:
        node = compiled.nodes[i]
        assert compiled.node_waypoints[i] is None and node.node_position is not None
        assert point_in_polygon((node.node_position.x, node.node_position.y), TREATMENT_ROOM_1)
        p = params(action)
        assert p["roomId"] == "treatment_1" and p["distanceM"] == 1.0
        assert p["targetDoseMjCm2"] == pytest.approx(2.67 * float(p["dwellS"]), abs=1e-5)
    for planned in compiled.planned_points:
        assert planned.room == "treatment_1" and planned.room_dwell_index is not None
        point = plan.dwell_points[planned.room_dwell_index]
        assert (planned.x, planned.y, planned.planned_dwell_s) == (point.x, point.y, point.dwell_s)
    assert sorted(p.room_dwell_index or 0 for p in compiled.planned_points) == [
        k for k, p in enumerate(plan.dwell_points) if p.dwell_s > 0
    ]
    assert {d.node_id for d in compiled.dwell_points} == {
        compiled.nodes[i].node_id for i, _ in found
    }
    assert not schema_errors("order", wire(compiled.order()))


def test_room_plan_and_planned_points_make_a_passing_report(
    clinic_rooms: Site, robot: RobotProfile
) -> None:
    mission = disinfection(
        method="uv",
        targets=[{"room": "treatment_1"}, {"room": "ward_l2"}],
        dwell_points_per_room=4,
    )
    compiled = compile_at(clinic_rooms, mission, robot)
    assert set(compiled.room_plans) == {"treatment_1", "ward_l2"}

    def outcome(point_action_id: str, dwell: float) -> ActionOutcome:
        result = {"v": 1, "deliveredDoseMjCm2": 2.67 * dwell, "dwellS": dwell, "distanceM": 1.0}
        return ActionOutcome(point_action_id, "FINISHED", json.dumps(result))

    full = [outcome(p.action_id, p.planned_dwell_s or 0.0) for p in compiled.planned_points]
    report = build_disinfection_report(mission, compiled.planned_points, full, compiled.room_plans)
    assert report.passed and {r.room for r in report.rooms} == {"treatment_1", "ward_l2"}
    short = [outcome(p.action_id, 0.0) for p in compiled.planned_points[:1]] + full[1:]
    failed = build_disinfection_report(mission, compiled.planned_points, short, compiled.room_plans)
    assert not failed.passed


def test_a_room_without_waypoints_hangs_off_the_nearest_one(
    clinic_rooms: Site, robot: RobotProfile
) -> None:
    mission = disinfection(method="uv", targets=[{"room": "ward_l2"}])
    compiled = compile_at(clinic_rooms, mission, robot)
    found = uv_actions(compiled)
    anchor = compiled.node_waypoints[found[0][0] - 1]
    assert anchor is not None and anchor.startswith("L2:")
    for i, _ in found:
        position = compiled.nodes[i].node_position
        assert position is not None and position.map_id == "L2"
        assert point_in_polygon((position.x, position.y), WARD_L2)


def test_spray_volume_is_rate_times_volume(clinic_rooms: Site, robot: RobotProfile) -> None:
    mission = disinfection(
        method="spray",
        agent="hydrogen_peroxide_3pct",
        rate_ml_per_m3=8,
        room_volume_m3=60,
        contact_time_s=600,
        re_entry_time_s=1800,
        targets=[
            {"room": "treatment_1"},
            {"waypoint": "L1_right_treatment", "volume_m3": 45},
            {"room": "ward_l2"},
        ],
    )
    compiled = compile_at(clinic_rooms, mission, make_robot(spray_rate_ml_s=5.0))
    found = uv_actions(compiled)
    assert [params(a)["volumeMl"] for _, a in found] == [480.0, 360.0, 480.0]
    assert params(found[0][1]) == {
        "agent": "hydrogen_peroxide_3pct",
        "volumeMl": 480.0,
        "rateMlPerM3": 8.0,
        "roomVolumeM3": 60.0,
        "contactTimeS": 600.0,
        "reEntryTimeS": 1800.0,
        "roomId": "treatment_1",
    }
    # A room with a waypoint inside is sprayed from it; the empty ward from a free spot.
    assert compiled.node_waypoints[found[0][0]] == "L1:384"
    assert compiled.node_waypoints[found[2][0]] is None
    assert [d.as_json()["volume_ml"] for d in compiled.dwell_points] == [480.0, 360.0, 480.0]
    assert all(d.predicted_dose_mj_cm2 is None for d in compiled.dwell_points)
    assert [d.dwell_s for d in compiled.dwell_points] == [96.0, 72.0, 96.0]
    assert [p.planned_volume_ml for p in compiled.planned_points] == [480.0, 360.0, 480.0]
    assert compiled.planned_points[0].room == "treatment_1"
    assert not schema_errors("order", wire(compiled.order()))

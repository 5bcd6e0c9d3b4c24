"""Quiet hours: speech and spraying left out where and when a zone must stay quiet."""

from __future__ import annotations

from typing import Any

import pytest

from missions.compiler import (
    CompiledMission,
    QuietHours,
    RobotProfile,
    StartPose,
    compile_mission,
    spraying_silenced,
)
from missions.report import ActionOutcome, build_disinfection_report
from missions.sites import Site
from missions.types import DisinfectionMission, MissionSpec, parse_mission
from tests.unit.missions.compiler.compiler_support import make_robot

ALWAYS = ((-1.0, 1e9),)
TREATMENT_WAYPOINT = "L1_left_treatment_1"
"""Lies inside the room `treatment_1` of `clinic_rooms`."""


def _compile(site: Site, mission: MissionSpec, quiet: QuietHours | None = None) -> CompiledMission:
    return compile_mission(
        mission,
        site,
        make_robot(spray_rate_ml_s=5.0),
        start=StartPose(waypoint="L1_left_nurse_center"),
        order_id="q1",
        quiet=quiet,
    )


def _spoken(compiled: CompiledMission) -> list[str]:
    return [
        str({p.key: p.value for p in a.action_parameters or []}["text"])
        for n in compiled.nodes
        for a in n.actions
        if a.action_type == "speak"
    ]


def _patrol() -> MissionSpec:
    return parse_mission(
        {
            "kind": "patrol",
            "site": "clinic",
            "checkpoints": [
                {"waypoint": "L1_right_nurse_center", "speak_on_arrival": "outside"},
                {"waypoint": TREATMENT_WAYPOINT, "speak_on_arrival": "in the room"},
            ],
        }
    )


def _spray(*rooms: str) -> DisinfectionMission:
    mission = parse_mission(
        {
            "kind": "disinfection",
            "site": "clinic",
            "method": "spray",
            "agent": "hydrogen_peroxide_3pct",
            "rate_ml_per_m3": 8,
            "room_volume_m3": 60,
            "contact_time_s": 600,
            "re_entry_time_s": 1800,
            "targets": [{"room": room} for room in rooms],
        }
    )
    assert isinstance(mission, DisinfectionMission)
    return mission


def test_speech_in_a_quiet_zone_is_left_out_and_elsewhere_kept(clinic_rooms: Site) -> None:
    loud = _compile(clinic_rooms, _patrol())
    assert _spoken(loud) == ["outside", "in the room"]
    quiet = _compile(clinic_rooms, _patrol(), QuietHours({"treatment_1": ALWAYS}))
    assert _spoken(quiet) == ["outside"]
    assert quiet.quiet_suppressed == ("speak",)
    # The rest of the order is the same: the robot still goes and checks.
    assert [n.node_id for n in quiet.nodes] == [n.node_id for n in loud.nodes]
    assert sum(a.action_type == "patrolCheck" for n in quiet.nodes for a in n.actions) == 2


def test_only_windows_the_robot_is_there_for_count(clinic_rooms: Site) -> None:
    """The window is matched against the estimated arrival, with room for running late."""
    loud = _compile(clinic_rooms, _patrol())
    arrival = _arrival(loud, TREATMENT_WAYPOINT)
    assert arrival > 10

    def spoken(start: float, end: float) -> list[str]:
        quiet = QuietHours({"treatment_1": ((start, end),)})
        return _spoken(_compile(clinic_rooms, _patrol(), quiet))

    assert spoken(0, arrival / 2) == ["outside", "in the room"]  # over before it arrives
    assert spoken(arrival * 1.5, arrival * 3) == ["outside", "in the room"]  # after it left
    assert spoken(arrival - 1, arrival + 1) == ["outside"]
    assert spoken(arrival * 1.2, arrival * 3) == ["outside"]  # it may be 25 % late
    assert spoken(0, arrival / 2) == ["outside", "in the room"]
    strict = QuietHours({"treatment_1": ((arrival * 1.2, arrival * 3),)}, delay_allowance=0)
    assert _spoken(_compile(clinic_rooms, _patrol(), strict)) == ["outside", "in the room"]


def _arrival(compiled: CompiledMission, waypoint: str) -> float:
    """Seconds until the robot reaches `waypoint` (edge times and actions on the way)."""
    elapsed = 0.0
    for index, node in enumerate(compiled.nodes):
        if index > 0:
            edge = compiled.edges[index - 1]
            elapsed += (edge.length or 0.0) / (edge.max_speed or 1.0)
        if compiled.node_waypoints[index] is not None and node.node_description == waypoint:
            return elapsed
        for action in node.actions:
            dwell = {p.key: p.value for p in action.action_parameters or []}.get("dwellS", 0.0)
            elapsed += float(dwell) if isinstance(dwell, int | float) else 0.0
    raise AssertionError(f"{waypoint} not on the path")


def test_a_spray_in_quiet_hours_is_left_out_and_the_report_says_so(clinic_rooms: Site) -> None:
    mission = _spray("treatment_1", "ward_l2")
    compiled = _compile(clinic_rooms, mission, QuietHours({"treatment_1": ALWAYS}))
    sprays = [a for n in compiled.nodes for a in n.actions if a.action_type == "sprayDisinfect"]
    assert [{p.key: p.value for p in a.action_parameters or []}["roomId"] for a in sprays] == [
        "ward_l2"
    ]
    assert compiled.quiet_suppressed == ("sprayDisinfect",) and not spraying_silenced(compiled)
    # Both rooms stay in the plan; the silenced one under an id no action has.
    assert [p.room for p in compiled.planned_points] == ["ward_l2", "treatment_1"]
    silenced = compiled.planned_points[1].action_id
    assert silenced == "q1-quiet-001-sprayDisinfect"
    done = [
        ActionOutcome(action_id=a.action_id, action_status="FINISHED", result_description=None)
        for a in sprays
    ]
    report = build_disinfection_report(mission, list(compiled.planned_points), done)
    assert not report.passed
    assert [(p.room, p.status) for p in report.points] == [
        ("ward_l2", "FINISHED"),
        ("treatment_1", None),  # never sprayed: it fails the report
    ]
    assert not report.points[1].passed


def test_a_spray_mission_wholly_in_quiet_hours_is_silenced(clinic_rooms: Site) -> None:
    quiet = QuietHours({"treatment_1": ALWAYS, "ward_l2": ALWAYS})
    compiled = _compile(clinic_rooms, _spray("treatment_1", "ward_l2"), quiet)
    assert spraying_silenced(compiled)
    assert not spraying_silenced(_compile(clinic_rooms, _spray("treatment_1", "ward_l2")))
    # A patrol that only loses its speech is not held back.
    patrol = _compile(clinic_rooms, _patrol(), QuietHours({"treatment_1": ALWAYS}))
    assert not spraying_silenced(patrol)


@pytest.mark.parametrize(
    ("windows", "allowance"),
    [({"treatment_1": ((5.0, 5.0),)}, 0.25), ({"treatment_1": ((9.0, 1.0),)}, 0.25), ({}, -1.0)],
)
def test_bad_quiet_hours_are_refused(windows: dict[str, Any], allowance: float) -> None:
    with pytest.raises(ValueError, match=r"windows|delay_allowance"):
        QuietHours(windows, delay_allowance=allowance)


def test_unknown_zones_silence_nothing(clinic_rooms: Site, robot: RobotProfile) -> None:
    quiet = QuietHours({"no such zone": ALWAYS})
    assert _spoken(_compile(clinic_rooms, _patrol(), quiet)) == ["outside", "in the room"]

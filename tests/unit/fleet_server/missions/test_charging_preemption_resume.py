"""Charging rules, preemption choice and what is left of a stopped mission (clinic map)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from pydantic import ValidationError

from fleet_server.dispatch import Priority
from fleet_server.missions.allocation_link import WaitingMission, mission_footprint
from fleet_server.missions.charging import (
    ChargerBook,
    ChargingClass,
    ChargingPolicy,
    charge_plan,
    charged,
    final_node,
    needs_charge,
    occupied_chargers,
    pick_charger,
    site_chargers,
)
from fleet_server.missions.preemption import RunningWork, choose_victim
from fleet_server.missions.resume import order_id_for, what_is_left
from missions.compiler import RobotProfile, StartPose, compile_mission
from missions.sites import Site, import_site
from missions.types import Capability, DisinfectionMission, parse_mission
from missions.vda5050 import ActionStatus

CLINIC = Path(__file__).resolve().parents[3] / "fixtures" / "maps" / "rmf" / "clinic.building.yaml"


@pytest.fixture(scope="module")
def clinic() -> Site:
    return import_site(CLINIC, kind="hospital")


def _profile(*caps: Capability) -> RobotProfile:
    return RobotProfile(
        manufacturer="sim",
        serial_number="r1",
        kind="service_robot",
        capabilities=caps,
        max_speed_m_s=1.0,
        uv_irradiance_at_1m_mw_cm2=2.67,
    )


# -- charging ------------------------------------------------------------------------------


def test_charging_class_refuses_a_resume_level_below_the_threshold() -> None:
    with pytest.raises(ValidationError, match="resume_pct"):
        ChargingClass(threshold_pct=50, resume_pct=40)
    with pytest.raises(ValidationError, match="reserve_pct"):
        ChargingClass(threshold_pct=20, reserve_pct=30)


def test_policy_per_robot_kind_and_thresholds() -> None:
    uv = ChargingClass(threshold_pct=40, resume_pct=95, reserve_pct=20)
    policy = ChargingPolicy(classes={"uv_robot": uv})
    assert policy.for_kind("uv_robot") is uv
    assert policy.for_kind("guide") == ChargingClass()
    assert needs_charge(39.9, uv) and not needs_charge(40.0, uv)
    assert not needs_charge(None, uv)  # nothing reported yet: no trip on a guess
    assert charged(95.0, uv) and not charged(94.9, uv) and not charged(None, uv)


def test_a_charger_is_held_by_one_robot_at_a_time() -> None:
    book = ChargerBook()
    a, b = ("sim", "a"), ("sim", "b")
    book.reserve("clinic", "c1", a)
    with pytest.raises(ValueError, match="held by a"):
        book.reserve("clinic", "c1", b)
    book.reserve("clinic", "c2", a)  # moving to another charger gives up the first
    assert book.reservations("clinic") == {"c2": a}
    book.reserve("clinic", "c1", b)
    book.release(a)
    assert book.reservations("clinic") == {"c1": b}
    assert book.charger_of(b) == ("clinic", "c1")


def test_pick_charger_takes_the_nearest_one_nobody_holds_or_stands_on() -> None:
    book = ChargerBook()
    me, other, parked = ("sim", "me"), ("sim", "other"), ("sim", "parked")
    seconds = {"near": 10.0, "middle": 20.0, "far": 30.0, "cut_off": float("inf")}
    book.reserve("s", "near", other)
    assert pick_charger(me, seconds, "s", book, {"middle": parked}) == "far"
    assert pick_charger(me, seconds, "s", book, {}) == "middle"
    book.reserve("s", "middle", me)
    assert pick_charger(me, seconds, "s", book, {"middle": me}) == "middle"
    assert pick_charger(me, {"cut_off": float("inf")}, "s", book, {}) is None


def test_charge_plan_drives_to_the_charger_and_starts_charging_there(clinic: Site) -> None:
    chargers = site_chargers(clinic)
    assert len(chargers) == 4
    charger = next(wp for wp in clinic.all_waypoints() if wp.is_charger and wp.level == "L1")
    plan = charge_plan(
        clinic,
        _profile(Capability.UV_DISINFECTION),
        StartPose(waypoint="L1_left_nurse_center"),
        charger.id,
        "charge-1",
    )
    order = plan.order()
    assert order.nodes[-1].node_id == final_node(plan)[0]
    assert plan.node_waypoints[-1] == charger.id
    assert [a.action_type for a in order.nodes[-1].actions] == ["startCharging"]
    kinds = {a.action_type for n in order.nodes for a in n.actions}
    assert "patrolCheck" not in kinds
    standing = occupied_chargers(clinic, [(("sim", "x"), charger.x + 0.2, charger.y, "L1")])
    assert standing == {charger.id: ("sim", "x")}
    assert occupied_chargers(clinic, [(("sim", "x"), charger.x, charger.y, "L2")]) == {}


# -- preemption ----------------------------------------------------------------------------


def _work(
    name: str, priority: Priority, *, kind: str = "patrol", battery: float = 90.0, at: str = "a"
) -> RunningWork:
    return RunningWork(
        mission_id=uuid.uuid4(),
        kind=kind,
        priority=priority,
        robot=("sim", name),
        capabilities=frozenset({"patrol"}),
        waypoint=at,
        battery_pct=battery,
        drain_pct_per_s=0.1,
        reserve_pct=15.0,
    )


def _emergency(**kw: object) -> WaitingMission:
    fields: dict[str, object] = {
        "mission_id": uuid.uuid4(),
        "capability": "patrol",
        "priority": Priority.EMERGENCY,
        "entry": "e",
        "exit": "e",
        "duration_s": 100.0,
    }
    fields.update(kw)
    return WaitingMission(**fields)  # type: ignore[arg-type]


TRAVEL = {("a", "e"): 50.0, ("b", "e"): 10.0}


def test_the_lowest_priority_mission_gives_way_then_the_nearest() -> None:
    high = _work("high", Priority.HIGH, at="b")
    normal_far = _work("normal-far", Priority.NORMAL, at="a")
    normal_near = _work("normal-near", Priority.NORMAL, at="b")
    assert choose_victim(_emergency(), [high, normal_far], TRAVEL, {}) is normal_far
    assert choose_victim(_emergency(), [normal_far, normal_near], TRAVEL, {}) is normal_near
    low = _work("low", Priority.LOW, at="a")
    assert choose_victim(_emergency(), [normal_near, low, high], TRAVEL, {}) is low


def test_emergencies_guidance_incapable_and_flat_robots_never_give_way() -> None:
    candidates = [
        _work("other-emergency", Priority.EMERGENCY),
        _work("guiding", Priority.LOW, kind="guidance"),
        # 50 s there + 100 s work + 40 s back at 0.1 %/s = 19 %: 30 % leaves less than 15 %.
        _work("flat", Priority.LOW, battery=30.0),
    ]
    assert choose_victim(_emergency(), candidates, TRAVEL, {"e": 40.0}) is None
    uv = _emergency(capability="uv_disinfection")
    assert choose_victim(uv, [_work("patroller", Priority.LOW)], TRAVEL, {}) is None
    enough = _work("enough", Priority.LOW, battery=40.0)
    assert choose_victim(_emergency(), [*candidates, enough], TRAVEL, {"e": 40.0}) is enough


# -- what is left ------------------------------------------------------------------------


def test_a_uv_round_resumes_at_the_first_target_not_done_and_carries_the_rest(
    clinic: Site,
) -> None:
    spec = parse_mission(
        {
            "kind": "disinfection",
            "site": clinic.name,
            "method": "uv",
            "target_dose_mj_cm2": 10,
            "targets": [
                {"waypoint": "L1_left_negative_air_pressure"},
                {"waypoint": "L1_sub_waiting_area_1"},
                {"waypoint": "L1_sub_waiting_area_3"},
            ],
        }
    )
    compiled = compile_mission(
        spec,
        clinic,
        _profile(Capability.UV_DISINFECTION),
        start=StartPose(waypoint="L1_left_nurse_center"),
        order_id="m1",
    )
    first, second, third = (p.action_id for p in compiled.planned_points)
    statuses = {first: ActionStatus.FINISHED, second: ActionStatus.RUNNING}
    left = what_is_left(compiled, statuses, {first: "dose ok"}, None)
    assert isinstance(left.spec, DisinfectionMission)
    assert [t.waypoint for t in left.spec.targets] == [
        "L1_sub_waiting_area_1",
        "L1_sub_waiting_area_3",
    ]
    assert [p.action_id for p in left.carried_points] == [first]
    assert left.carried_outcomes[0].result_description == "dose ok"
    assert order_id_for("m1", left) == "m1-part1"
    # The second part stops after its first target: the carried part grows.
    again = compile_mission(
        left.spec,
        clinic,
        _profile(Capability.UV_DISINFECTION),
        start=StartPose(waypoint="L1_left_nurse_center"),
        order_id=order_id_for("m1", left),
    )
    done = {again.planned_points[0].action_id: ActionStatus.FINISHED}
    later = what_is_left(again, done, {}, left)
    assert isinstance(later.spec, DisinfectionMission)
    assert [t.waypoint for t in later.spec.targets] == ["L1_sub_waiting_area_3"]
    assert len(later.carried_points) == 2 and later.part == 2
    assert third not in {p.action_id for p in later.carried_points}


def test_a_patrol_restarts_its_current_round(clinic: Site) -> None:
    spec = parse_mission(
        {
            "kind": "patrol",
            "site": clinic.name,
            "checkpoints": ["L1_left_treatment_1", "L1_sub_waiting_area_3"],
            "rounds": 3,
            "dwell_s": 1,
        }
    )
    compiled = compile_mission(
        spec,
        clinic,
        _profile(Capability.PATROL),
        start=StartPose(waypoint="L1_left_nurse_center"),
        order_id="p1",
    )
    checks = [
        a.action_id for n in compiled.nodes for a in n.actions if a.action_type == "patrolCheck"
    ]
    assert len(checks) == 6
    # Round 1 done, round 2 half done: round 2 starts again from its first checkpoint.
    statuses = dict.fromkeys(checks[:3], ActionStatus.FINISHED)
    left = what_is_left(compiled, statuses, {}, None)
    assert left.spec.rounds == 2  # type: ignore[union-attr]
    assert "restarts round 2" in left.note
    assert what_is_left(compiled, {}, {}, None).spec.rounds == 3  # type: ignore[union-attr]


def test_footprint_is_where_the_work_starts_and_ends(clinic: Site) -> None:
    spec = parse_mission(
        {
            "kind": "patrol",
            "site": clinic.name,
            "checkpoints": ["L1_left_treatment_1", "L1_sub_waiting_area_3"],
            "dwell_s": 5,
        }
    )
    compiled = compile_mission(
        spec,
        clinic,
        _profile(Capability.PATROL),
        start=StartPose(waypoint="L1_left_nurse_center"),
        order_id="f1",
    )
    names = {wp.id: wp.name for wp in clinic.all_waypoints()}
    footprint = mission_footprint(compiled, 12.0)
    assert footprint is not None
    assert names[footprint.entry] == "L1_left_treatment_1"
    assert names[footprint.exit] == "L1_sub_waiting_area_3"
    assert footprint.duration_s == pytest.approx(compiled.estimated_duration_s - 12.0)

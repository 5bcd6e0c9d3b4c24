"""Properties of the runtime's allocation wrapper (`plan_site`) on random fleets (hypothesis).

No robot gets a mission it lacks the capability or the battery for; no mission is planned
twice; an emergency never waits behind a normal mission (neither in a queue nor behind the
mission a robot runs now); charging robots get emergencies only; preferred and pinned
robots are honoured.
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleet_server.dispatch import AllocationConfig, Priority
from fleet_server.missions.allocation_link import (
    FleetRobot,
    SitePlan,
    WaitingMission,
    plan_site,
)

CAPABILITIES = ("patrol", "uv_disinfection", "guidance")
FAST = AllocationConfig(iterations=30, time_budget_s=None)
NOW = datetime(2026, 11, 29, tzinfo=UTC)


@st.composite
def sites(draw: st.DrawFn) -> tuple[list[str], np.ndarray, list[str]]:
    size = draw(st.integers(2, 7))
    ids = [f"wp{i}" for i in range(size)]
    points = draw(
        st.lists(st.tuples(st.floats(0, 100), st.floats(0, 100)), min_size=size, max_size=size)
    )
    xy = np.array(points)
    travel = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    if draw(st.booleans()):  # an unreachable waypoint
        travel[:, size - 1] = math.inf
        travel[size - 1, size - 1] = 0.0
    chargers = draw(st.lists(st.sampled_from(ids), max_size=2, unique=True))
    return ids, travel, chargers


@st.composite
def fleets(draw: st.DrawFn, ids: list[str]) -> list[FleetRobot]:
    count = draw(st.integers(0, 6))
    robots = []
    for i in range(count):
        busy = draw(st.none() | st.sampled_from(list(Priority)))
        robots.append(
            FleetRobot(
                robot_id=i + 1,
                key=("sim", f"r{i}"),
                capabilities=frozenset(
                    draw(st.lists(st.sampled_from(CAPABILITIES), min_size=1, unique=True))
                ),
                waypoint=draw(st.sampled_from(ids)),
                battery_pct=draw(st.none() | st.floats(0, 100)),
                drain_pct_per_s=draw(st.sampled_from([0.0, 0.05, 0.2, 1.0])),
                reserve_pct=draw(st.sampled_from([0.0, 10.0, 20.0])),
                available_in_s=0.0 if busy is None else draw(st.floats(0, 300)),
                busy_priority=busy,
                charging=draw(st.booleans()) if busy is None else False,
            )
        )
    return robots


@st.composite
def missions(draw: st.DrawFn, ids: list[str], robots: list[FleetRobot]) -> list[WaitingMission]:
    count = draw(st.integers(0, 8))
    serials = [r.serial for r in robots] + ["nobody"]
    found = []
    for _ in range(count):
        pinned = None
        if robots and draw(st.integers(0, 9)) == 0:
            pinned = draw(st.sampled_from(robots)).key
        deadline = draw(st.none() | st.floats(-100, 2000))
        found.append(
            WaitingMission(
                mission_id=uuid.UUID(int=draw(st.integers(1, 2**64))),
                capability=draw(st.sampled_from(CAPABILITIES)),
                priority=draw(st.sampled_from(list(Priority))),
                entry=draw(st.sampled_from([*ids, "elsewhere"])),
                exit=draw(st.sampled_from(ids)),
                duration_s=draw(st.floats(0, 600)),
                earliest_start_s=draw(st.sampled_from([0.0, 0.0, 120.0])),
                deadline_s=deadline,
                waiting_s=draw(st.floats(0, 3600)),
                preferred_robot=draw(st.none() | st.sampled_from(serials)),
                pinned_robot=pinned,
            )
        )
    unique = {m.mission_id: m for m in found}
    return list(unique.values())


@st.composite
def instances(
    draw: st.DrawFn,
) -> tuple[list[FleetRobot], list[WaitingMission], list[str], np.ndarray, list[str]]:
    ids, travel, chargers = draw(sites())
    robots = draw(fleets(ids))
    waiting = draw(missions(ids, robots))
    return robots, waiting, ids, travel, chargers


def _return_s(
    ids: list[str], travel: np.ndarray, chargers: list[str], robot: FleetRobot
) -> dict[str, float]:
    """Seconds from each waypoint to the nearest charger (or back to the robot's place)."""
    at = {w: i for i, w in enumerate(ids)}
    targets = [at[c] for c in chargers] or [at[robot.waypoint]]
    return {w: float(min(travel[at[w], t] for t in targets)) for w in ids}


def _assert_battery(
    robot: FleetRobot,
    queue: list[WaitingMission],
    ids: list[str],
    travel: np.ndarray,
    chargers: list[str],
) -> None:
    if robot.battery_pct is None or robot.drain_pct_per_s == 0 or not queue:
        return
    at = {w: i for i, w in enumerate(ids)}
    back = _return_s(ids, travel, chargers, robot)
    used_s, place = 0.0, robot.waypoint
    for mission in queue:
        used_s += float(travel[at[place], at[mission.entry]]) + mission.duration_s
        place = mission.exit
        left = robot.battery_pct - robot.drain_pct_per_s * (used_s + back[place])
        assert left >= robot.reserve_pct - 1e-6, (
            f"{robot.serial} would reach a charger with {left:.2f} % after {mission.mission_id}"
        )


def _check(
    plan: SitePlan,
    robots: list[FleetRobot],
    waiting: list[WaitingMission],
    ids: list[str],
    travel: np.ndarray,
    chargers: list[str],
) -> None:
    by_key = {r.key: r for r in robots}
    by_id = {m.mission_id: m for m in waiting}
    placed = [item.mission_id for queue in plan.queues.values() for item in queue]
    assert len(placed) == len(set(placed)), "a mission is planned twice"
    assert set(placed) | set(plan.unassigned) == set(by_id)
    assert not set(placed) & set(plan.unassigned)
    main = {r.serial for r in robots if not r.charging}
    for key, queue in plan.queues.items():
        robot = by_key[key]
        missions_here = [by_id[item.mission_id] for item in queue]
        for mission in missions_here:
            assert mission.capability in robot.capabilities
            if mission.pinned_robot is not None:
                assert key == mission.pinned_robot
            elif mission.preferred_robot in main and not robot.charging:
                assert robot.serial == mission.preferred_robot
            emergency = mission.priority is Priority.EMERGENCY
            if robot.charging:
                assert emergency, "a charging robot was given normal work"
                assert key in plan.charging_for_emergency
            if emergency and mission.pinned_robot is None:
                assert robot.busy_priority in (None, Priority.EMERGENCY), (
                    "an emergency waits behind the normal mission its robot runs"
                )
        kinds = [m.priority is Priority.EMERGENCY for m in missions_here]
        assert kinds == sorted(kinds, reverse=True), "an emergency waits behind normal work"
        starts = [item.start_s for item in queue]
        assert starts == sorted(starts)
        for item, mission in zip(queue, missions_here, strict=True):
            assert item.start_s >= mission.earliest_start_s - 1e-9
            assert item.finish_s >= item.start_s + mission.duration_s - 1e-6
        _assert_battery(robot, missions_here, ids, travel, chargers)
    for mission_id, reason in plan.unassigned.items():
        if by_id[mission_id].entry == "elsewhere":
            assert reason == "unknown_waypoint"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_plans_keep_capability_battery_uniqueness_and_emergency_rules(
    instance: tuple[list[FleetRobot], list[WaitingMission], list[str], np.ndarray, list[str]],
) -> None:
    robots, waiting, ids, travel, chargers = instance
    plan = plan_site("site", NOW, robots, waiting, ids, travel, chargers, FAST)
    _check(plan, robots, waiting, ids, travel, chargers)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_an_idle_capable_robot_with_charge_never_leaves_a_mission_waiting(
    instance: tuple[list[FleetRobot], list[WaitingMission], list[str], np.ndarray, list[str]],
) -> None:
    """Fairness: an unassigned mission has no free, eligible robot that could do it alone."""
    robots, waiting, ids, travel, chargers = instance
    plan = plan_site("site", NOW, robots, waiting, ids, travel, chargers, FAST)
    at = {w: i for i, w in enumerate(ids)}
    main = {r.serial for r in robots if not r.charging}
    for mission in waiting:
        if mission.mission_id not in plan.unassigned or mission.entry not in at:
            continue
        for robot in robots:
            # Free: running nothing, not charging, and given nothing by this plan (a robot
            # planned for one mission may be unable to reach the next from where it ends).
            idle = (
                robot.busy_priority is None
                and not robot.charging
                and not plan.queues.get(robot.key)
            )
            preferred_ok = mission.preferred_robot not in main or (
                robot.serial == mission.preferred_robot
            )
            pinned_ok = mission.pinned_robot in (None, robot.key)
            if not (idle and preferred_ok and pinned_ok):
                continue
            if mission.capability not in robot.capabilities:
                continue
            leg = float(travel[at[robot.waypoint], at[mission.entry]])
            if not math.isfinite(leg):
                continue
            if robot.battery_pct is not None and robot.drain_pct_per_s > 0:
                back = _return_s(ids, travel, chargers, robot)[mission.exit]
                need = robot.drain_pct_per_s * (leg + mission.duration_s + back)
                if robot.battery_pct - need < robot.reserve_pct:
                    continue
            raise AssertionError(f"{robot.serial} idles while {mission.mission_id} waits")


def test_an_emergency_goes_to_a_free_robot_not_behind_a_busy_nearer_one() -> None:
    ids = ["a", "b"]
    travel = np.array([[0.0, 100.0], [100.0, 0.0]])
    busy = FleetRobot(
        1, ("sim", "busy"), frozenset({"patrol"}), "a", 90.0, 0.0, 10.0, 5.0, Priority.NORMAL
    )
    free = FleetRobot(2, ("sim", "free"), frozenset({"patrol"}), "b", 90.0, 0.0, 10.0)
    emergency = WaitingMission(uuid.uuid4(), "patrol", Priority.EMERGENCY, "a", "a", 10.0)
    plan = plan_site("s", NOW, [busy, free], [emergency], ids, travel, (), FAST)
    assert [i.mission_id for i in plan.queues[free.key]] == [emergency.mission_id]
    assert plan.queues[busy.key] == ()


def test_an_emergency_nobody_free_can_take_is_unassigned_for_preemption() -> None:
    ids = ["a"]
    busy = FleetRobot(
        1, ("sim", "busy"), frozenset({"patrol"}), "a", 90.0, 0.0, 10.0, 5.0, Priority.LOW
    )
    emergency = WaitingMission(uuid.uuid4(), "patrol", Priority.EMERGENCY, "a", "a", 10.0)
    plan = plan_site("s", NOW, [busy], [emergency], ids, np.zeros((1, 1)), (), FAST)
    assert emergency.mission_id in plan.unassigned


def test_a_charging_robot_takes_an_emergency_only_when_its_battery_allows() -> None:
    ids = ["a", "charger"]
    travel = np.array([[0.0, 60.0], [60.0, 0.0]])
    emergency = WaitingMission(uuid.uuid4(), "patrol", Priority.EMERGENCY, "a", "a", 100.0)
    normal = WaitingMission(uuid.uuid4(), "patrol", Priority.NORMAL, "a", "a", 100.0)

    def charging(battery: float) -> FleetRobot:
        return FleetRobot(
            1, ("sim", "c"), frozenset({"patrol"}), "charger", battery, 0.1, 15.0, charging=True
        )

    plan = plan_site(
        "s", NOW, [charging(80.0)], [emergency, normal], ids, travel, ["charger"], FAST
    )
    assert [i.mission_id for i in plan.queues[("sim", "c")]] == [emergency.mission_id]
    assert normal.mission_id in plan.unassigned
    assert plan.charging_for_emergency == {("sim", "c")}
    # 60 + 100 + 60 s at 0.1 %/s is 22 %: with 30 % and a 15 % reserve it cannot go.
    low = plan_site("s", NOW, [charging(30.0)], [emergency], ids, travel, ["charger"], FAST)
    assert low.unassigned[emergency.mission_id] == "battery"
    assert not low.charging_for_emergency

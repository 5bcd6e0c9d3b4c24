"""Waits-for cycles: found once every robot in them stands still, and broken so all finish."""

from __future__ import annotations

import pytest

from fleet_server.dispatch.traffic import (
    DeadlockUnresolved,
    TrafficConfig,
    TrafficError,
    TrafficManager,
    TrafficPath,
)
from fleet_server.dispatch.traffic_deadlock import find_cycles
from missions.sites import RobotClass, route
from tests.unit.fleet_server.traffic.traffic_support import (
    Stepper,
    corridor_site,
    fixture_site,
    lane,
    make_site,
    ring_site,
    waypoint_path,
    wp,
)

CORRIDOR = corridor_site(6)
EAST = tuple(f"c{i}" for i in range(6))
WEST = tuple(reversed(EAST))


def head_on(site: object = CORRIDOR) -> TrafficManager:
    m = TrafficManager(site, check_invariants=True)  # type: ignore[arg-type]
    m.plan("a", waypoint_path(m.resources.site, *EAST), priority=1)
    m.plan("b", waypoint_path(m.resources.site, *WEST), priority=0)
    return m


def test_find_cycles_reports_each_cycle_once_from_its_smallest_robot() -> None:
    assert find_cycles({"b": "a", "a": "b", "c": "a"}) == [("a", "b")]
    assert find_cycles({"x": "y", "y": "z", "z": "x", "w": "x"}) == [("x", "y", "z")]
    assert find_cycles({"a": "b", "b": "c"}) == []
    assert find_cycles({"a": "b", "b": "a", "c": "d", "d": "c"}) == [("a", "b"), ("c", "d")]


def test_a_cycle_counts_as_deadlock_only_once_everyone_in_it_stands_still() -> None:
    m = head_on()
    stepper = Stepper(m, resolve=False)
    stepper.tick()  # a: c1 .. c3 reserved, b stops at c4
    assert m.released_through("a") == 3 and m.released_through("b") == 1
    assert m.waits_for() == {"a": "b", "b": "a"}
    assert m.detect_deadlock() == []  # a still drives its base: it may yet free c3
    while not m.detect_deadlock():
        stepper.tick()
    assert m.detect_deadlock() == [("a", "b")]
    assert (m.current_node("a"), m.current_node("b")) == (3, 1)


def test_head_on_in_a_corridor_the_lower_priority_robot_steps_into_a_pocket() -> None:
    m = head_on()
    stepper = Stepper(m)
    positions: list[tuple[int, int]] = []
    while len(stepper.outcome.finished) < 2 and stepper.outcome.ticks < 200:
        stepper.tick()
        if "a" in m.robots and "b" in m.robots:
            positions.append((stepper.position["a"], stepper.position["b"]))
    outcome = stepper.outcome
    assert sorted(outcome.finished) == ["a", "b"]
    assert len(outcome.resolutions) == 1
    resolution = outcome.resolutions[0]
    assert resolution.robot == "b"  # priority 0 against 1
    assert resolution.cycle == ("a", "b")
    assert resolution.refuge == "h4"
    assert resolution.detour == ("h4",)
    assert resolution.path.node_ids == ("c4", "h4", "c4", "c3", "c2", "c1", "c0")
    assert resolution.resume_index == 1 and resolution.new_index(1) == 2


def test_the_robot_that_stepped_aside_waits_until_the_others_are_past() -> None:
    m = head_on()
    stepper = Stepper(m)
    while not stepper.outcome.resolutions:
        stepper.tick()
    b_back_on_c4_while_a_before_it = []
    while len(stepper.outcome.finished) < 2 and stepper.outcome.ticks < 200:
        stepper.tick()
        if "b" in m.robots and m.path("b").anchors[stepper.position["b"]] == "c4":
            a_at = m.path("a").anchors[stepper.position["a"]] if "a" in m.robots else "gone"
            if a_at in ("c3", "c4"):
                b_back_on_c4_while_a_before_it.append(a_at)
        at_refuge = "b" in m.robots and m.path("b").anchors[stepper.position["b"]] == "h4"
        if at_refuge and "a" in m.robots and m.current_node("a") < 4:
            # At the refuge: released no further while a still needs c4.
            assert m.path("b").anchors[m.released_through("b")] == "h4"
    assert b_back_on_c4_while_a_before_it == []
    assert sorted(stepper.outcome.finished) == ["a", "b"]


def test_three_robots_in_a_ring_the_lowest_priority_one_gives_way() -> None:
    site = ring_site()
    m = TrafficManager(site, check_invariants=True)
    m.plan("a", waypoint_path(site, "r0", "r1", "r2"), priority=2)
    m.plan("b", waypoint_path(site, "r1", "r2", "r0"), priority=0)
    m.plan("c", waypoint_path(site, "r2", "r0", "r1"), priority=1)
    for robot in ("a", "b", "c"):
        assert m.request_release(robot, 0) == 0
    assert m.detect_deadlock() == [("a", "b", "c")]
    outcome = Stepper(m).run(100)
    assert sorted(outcome.finished) == ["a", "b", "c"]
    assert [r.robot for r in outcome.resolutions] == ["b"]
    assert outcome.resolutions[0].refuge == "p1"


def test_no_refuge_in_reach_is_reported_not_guessed() -> None:
    bare = corridor_site(6, pockets=False)
    m = head_on(bare)
    stepper = Stepper(m, resolve=False)
    while not m.detect_deadlock():
        stepper.tick()
    with pytest.raises(DeadlockUnresolved, match="none of them"):
        m.resolve(("a", "b"))
    m.check_invariants()


def test_resolving_robots_that_are_not_deadlocked_is_refused() -> None:
    m = head_on()
    with pytest.raises(TrafficError, match="not deadlocked"):
        m.resolve(("a", "b"))


def test_head_on_on_the_clinic_corridor_both_finish() -> None:
    clinic = fixture_site("clinic")
    robot = RobotClass(kind="robot", max_speed_m_s=1.0)
    there = route(clinic, "L1_left_nurse_center", "L1_right_nurse_center", robot=robot)
    m = TrafficManager(clinic, TrafficConfig(), check_invariants=True)
    m.plan("a", TrafficPath.from_waypoints(there.waypoints, m.resources), robot_class=robot)
    back = tuple(reversed(there.waypoints))
    m.plan("b", TrafficPath.from_waypoints(back, m.resources), robot_class=robot, priority=1)
    outcome = Stepper(m).run(500)
    assert sorted(outcome.finished) == ["a", "b"]
    assert outcome.deadlocks_seen >= 1
    assert outcome.resolutions[0].robot == "a"
    assert m.resources.is_refuge(outcome.resolutions[0].refuge or "")


def test_a_robot_queued_behind_the_cycle_makes_room_when_no_member_can_move() -> None:
    # a heads east; b and c head west, c right behind b. Both pockets are past c.
    points = [wp(f"c{i}", 3.0 * i, 0.0) for i in range(7)]
    points += [wp("h5", 15.0, 3.0, holding=True), wp("g5", 15.0, -3.0, holding=True)]
    lanes = [lane(f"c{i}", f"c{i + 1}") for i in range(6)] + [
        lane("c5", "h5"),
        lane("c5", "g5"),
    ]
    site = make_site(points, lanes)
    m = TrafficManager(site, check_invariants=True)
    m.plan("a", waypoint_path(site, *(f"c{i}" for i in range(7))), priority=2)
    m.plan("b", waypoint_path(site, "c4", "c3", "c2", "c1", "c0"), priority=0)
    m.plan("c", waypoint_path(site, "c5", "c4", "c3", "c2", "c1"), priority=1)
    outcome = Stepper(m).run(300)
    assert sorted(outcome.finished) == ["a", "b", "c"]
    first = outcome.resolutions[0]
    assert first.cycle == ("a", "b") and first.robot == "c"  # neither a nor b could move
    assert {r.refuge for r in outcome.resolutions} == {"h5", "g5"}


def test_without_holding_points_any_waypoint_off_everybodys_way_will_do() -> None:
    points = [wp(f"c{i}", 3.0 * i, 0.0) for i in range(6)] + [wp("side", 12.0, 3.0)]
    lanes = [lane(f"c{i}", f"c{i + 1}") for i in range(5)] + [lane("c4", "side")]
    site = make_site(points, lanes)
    m = head_on(site)
    outcome = Stepper(m).run(200)
    assert sorted(outcome.finished) == ["a", "b"]
    assert [r.refuge for r in outcome.resolutions] == ["side"]


def test_stepping_aside_does_not_jump_the_queue_for_a_door() -> None:
    # The nearest pocket p is behind door dx, for which q_robot queues; a must take the
    # far pocket q instead.
    points = [wp(f"c{i}", 3.0 * i, 0.0) for i in range(4)]
    points += [wp("p", 6.0, 3.0, holding=True), wp("q", 0.0, 3.0, holding=True)]
    points += [
        wp(n, x, y) for n, x, y in (("e0", 20, 0), ("e1", 23, 0), ("f0", 20, 5), ("f1", 23, 5))
    ]
    lanes = [lane("c0", "c1"), lane("c1", "c2"), lane("c2", "c3"), lane("c0", "q")]
    lanes += [lane("c2", "p", door="dx"), lane("e0", "e1", door="dx"), lane("f0", "f1", door="dx")]
    site = make_site(points, lanes)
    m = TrafficManager(site, check_invariants=True)
    m.plan("h_robot", waypoint_path(site, "f0", "f1"))
    assert m.request_release("h_robot", 0) == 1  # holds the door, stays put
    m.plan("q_robot", waypoint_path(site, "e0", "e1"))
    assert m.request_release("q_robot", 0) == 0
    assert m.queue("door:dx") == ("q_robot",)
    m.release_all("h_robot")  # the door is free, but q_robot is first in line for it
    m.plan("a", waypoint_path(site, "c1", "c2", "c3"), priority=1)
    m.plan("b", waypoint_path(site, "c3", "c2", "c1", "c0"), priority=0)
    assert m.request_release("a", 0) == 1
    assert m.request_release("b", 0) == 0
    m.on_progress("a", 1)
    assert m.request_release("a", 1) == 1
    assert m.detect_deadlock() == [("a", "b")]
    resolution = m.resolve(("a", "b"))
    assert (resolution.robot, resolution.refuge) == ("a", "q")  # b is boxed in
    assert resolution.detour == ("c1", "c0", "q", "c0", "c1")

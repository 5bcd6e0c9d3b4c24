"""TrafficLink: missions released as their path is reserved, idle robots making way,
deadlocks broken with a new order, reservations freed when a mission ends.

Every test runs real agents' order executors on kinematic bodies (`link_support.LinkWorld`),
orders travelling as JSON through the real OrderPublisher and states back through the real
LiveFleet; the world checks after every tick that no resource is over capacity and that no
two robots come close.
"""

from __future__ import annotations

import json

import pytest

from fleet_server.alarms.model import ClearAlarms, RaiseAlarm
from fleet_server.dispatch.traffic import TrafficConfig, TrafficPath
from fleet_server.fleet.live_state import LiveFleet
from fleet_server.fleet.orders import OrderPublisher
from fleet_server.fleet.progress import MissionProgress
from fleet_server.missions.traffic_link import TrafficLink
from missions.compiler import StartPose, compile_mission
from missions.sites import Site
from missions.types import parse_mission
from missions.vda5050 import decode_instant_actions, decode_order
from tests.unit.fleet_server.missions.link_support import (
    MANUFACTURER,
    SITE_ID,
    LinkWorld,
    Wire,
    orders_to,
    patrol_to,
    profile,
    under_way,
)
from tests.unit.fleet_server.traffic.traffic_support import fixture_site


@pytest.fixture(scope="module")
def clinic() -> Site:
    return fixture_site("clinic")


def instant_to(world: LinkWorld, serial: str) -> list[str]:
    return [
        a.action_type
        for topic, payload in world.wire.sent
        if topic.endswith(f"/{serial}/instantActions")
        for a in decode_instant_actions(payload).actions
    ]


def test_every_robot_of_the_site_stands_on_its_waypoint(clinic: Site) -> None:
    world = LinkWorld(clinic, {"r1": "L1:416", "r2": "L1:398"})
    snap = json.loads(json.dumps(world.link.snapshot(SITE_ID)))
    assert {(r["robot"], r["resource"]) for r in snap["reservations"]} == {
        ("acme/r1", "waypoint:L1:416"),
        ("acme/r2", "waypoint:L1:398"),
    }
    assert {r["role"] for r in snap["robots"]} == {"standing"}
    assert snap["counters"]["reservation_conflicts"] == 0
    assert world.link.snapshot("elsewhere")["reservations"] == []


def test_the_base_ends_before_an_idle_robot_which_makes_way(clinic: Site) -> None:
    # a drives L1:396 -> 444 -> 416 -> 399 -> ... -> 403; idle stands on 416.
    world = LinkWorld(clinic, {"a": "L1:396", "idle": "L1:416"})
    prepared = world.start("a", "L1:403", "m-a")
    assert prepared.node_waypoints[2] == "L1:416"
    assert prepared.initial_release == 1  # through L1:444, not into the idle robot
    world.step()
    assert world.link.busy((MANUFACTURER, "idle"))  # sent out of the way
    way = orders_to(world, "idle")
    assert len(way) == 1 and way[0][0].startswith("idle-way-")
    world.run(300)
    assert world.done == ["a"]
    counters = world.link.counters
    assert counters.make_way == 1
    assert counters.reservation_conflicts == counters.errors == 0
    # a got its path in several updates of one order, each released further.
    sent = orders_to(world, "a")
    assert [u for _, u, _ in sent] == list(range(len(sent))) and len(sent) >= 3
    assert [r for _, _, r in sent] == sorted(r for _, _, r in sent)
    assert {o for o, _, _ in sent} == {"m-a"}
    # The idle robot waits at a refuge now, out of the way, and a stands at its goal.
    idle_at = world.standing_waypoint("idle")
    assert (
        clinic_waypoint(clinic, idle_at).is_holding_point
        or clinic_waypoint(clinic, idle_at).is_parking_spot
    )
    holds = world.manager.holds("acme/a")
    assert holds == {"waypoint:L1:403"}
    assert not world.link.busy((MANUFACTURER, "idle"))
    assert world.closest_m > 0.4


def test_a_queue_into_a_dead_end_empties_from_its_far_end(clinic: Site) -> None:
    # L1:401 -> 402 -> 403 (the right nurse centre) is a dead end. s stands at its end;
    # c drives in first, then b, then a, all for the nurse centre: b stops at 402, a at
    # 401, c at 399. Only a queue emptied from its far end lets s out.
    world = LinkWorld(clinic, {"s": "L1:403", "a": "L1:399", "b": "L1:401", "c": "L1:394"})
    for serial in ("c", "b", "a"):
        world.start(serial, "L1:403", f"m-{serial}")
    world.run(600)
    assert sorted(world.done) == ["a", "b", "c"]
    counters = world.link.counters
    assert counters.backed_out >= 2  # more than the robot right behind the blocker
    assert counters.reservation_conflicts == counters.errors == 0
    assert counters.deadlocks_unresolved == 0


def test_robots_waiting_for_an_offline_robot_raise_an_alarm_and_go_around_it(
    clinic: Site,
) -> None:
    # w drives L1:396 -> 444 -> 416 -> 399 -> 401 -> 402 -> 403; s stands on 399, offline.
    # The clinic's loop 416 -> 421 -> ... -> 405 -> 401 leads around it.
    world = LinkWorld(clinic, {"w": "L1:396", "s": "L1:399"})
    world.disconnect("s")
    world.start("w", "L1:403", "m-w")
    for _ in range(40):  # 8 s: waiting, not yet for long
        world.step()
    assert world.alarms == [] and world.rerouted == []
    world.run(600)
    assert world.done == ["w"]
    counters = world.link.counters
    assert counters.stalls == 1 and counters.detours == 1
    assert counters.reservation_conflicts == counters.errors == 0
    raised = [a for a in world.alarms if isinstance(a, RaiseAlarm)]
    cleared = [a for a in world.alarms if isinstance(a, ClearAlarms)]
    assert len(raised) == 1 and len(cleared) == 1
    alarm = raised[0]
    assert alarm.code == "traffic.stalled" and alarm.site_id == SITE_ID
    assert alarm.robot == (MANUFACTURER, "s")
    assert "acme/s stands offline at L1:399" in alarm.message and "acme/w" in alarm.message
    assert cleared[0].dedup_key == alarm.dedup_key
    # w took a new order the other way, and s keeps its place.
    ((key, new_order),) = world.rerouted
    assert key == (MANUFACTURER, "w") and new_order.startswith("m-w-x")
    around = next(
        decode_order(payload)
        for topic, payload in world.wire.sent
        if topic.endswith("/w/order") and decode_order(payload).order_id == new_order
    )
    passed = [n.node_id for n in around.nodes]
    assert "L1:399" not in passed and "L1:421" in passed and passed[-1] == "L1:403"
    assert world.standing_waypoint("w") == "L1:403"
    assert world.manager.holds("acme/s") == {"waypoint:L1:399"}


def test_a_robot_stopped_by_a_fatal_error_with_no_way_around_is_alarmed_until_it_moves(
    clinic: Site,
) -> None:
    # s stands in the dead end L1:401 -> 402 -> 403 with its emergency stop pressed; w
    # wants 403: no way around, w waits (no conflict) with the alarm up until s can move.
    world = LinkWorld(clinic, {"w": "L1:399", "s": "L1:402"})
    world.robots["s"].surroundings.emergency_stop = True
    world.step()
    world.start("w", "L1:403", "m-w")
    for _ in range(100):  # 20 s
        world.step()
    counters = world.link.counters
    assert counters.stalls == 1 and counters.detours == 0
    (alarm,) = world.alarms
    assert isinstance(alarm, RaiseAlarm)
    assert "acme/s stands stopped by a FATAL error at L1:402" in alarm.message
    assert "acme/w waits for it" in alarm.message
    assert world.done == [] and world.standing_waypoint("w") == "L1:401"
    world.robots["s"].surroundings.emergency_stop = False
    world.run(600)
    assert world.done == ["w"]
    assert [type(a) for a in world.alarms] == [RaiseAlarm, ClearAlarms]
    assert counters.stalls == 1
    assert counters.reservation_conflicts == counters.errors == 0


def test_after_a_restart_a_robot_under_way_is_planned_again_from_where_it_is(
    clinic: Site,
) -> None:
    # a drives L1:396 -> 444 -> 416 -> 399 -> 401 -> 402 -> 403; the server restarts on
    # the way and b, sent after the restart, follows a to L1:399.
    world = LinkWorld(clinic, {"a": "L1:396", "b": "L1:394"})
    prepared = world.start("a", "L1:403", "m-a")
    for _ in range(70):
        world.step()
    node, released, update_id = under_way(world, "a")
    assert 0 < node < released < len(prepared.nodes) - 1
    link = world.restart()
    assert link.resume(SITE_ID, (MANUFACTURER, "a"), prepared, node=node, released=released)
    manager = link.manager(SITE_ID)
    assert manager is not None
    wanted = {f"waypoint:{wp}" for wp in prepared.node_waypoints[node : released + 1]}
    assert wanted <= manager.holds("acme/a")
    sent = len(orders_to(world, "a"))
    world.start("b", "L1:399", "m-b")
    world.run(600)
    assert sorted(world.done) == ["a", "b"]
    # a's release went on from where it stood: the same order, the next orderUpdateIds.
    after = orders_to(world, "a")[sent:]
    assert after and {o for o, _, _ in after} == {"m-a"}
    assert [u for _, u, _ in after] == list(range(update_id + 1, update_id + 1 + len(after)))
    counters = link.counters
    assert counters.reservation_conflicts == counters.errors == counters.unmanaged == 0


def test_a_resumed_robot_whose_released_path_another_holds_is_planned_once_it_is_free(
    clinic: Site,
) -> None:
    world = LinkWorld(clinic, {"a": "L1:396"})
    prepared = world.start("a", "L1:403", "m-a")
    for _ in range(70):
        world.step()
    node, released, _ = under_way(world, "a")
    link = world.restart()
    manager = link.manager(SITE_ID)
    assert manager is not None
    # Something else holds a waypoint a was released to (in the table, not in a's way).
    taken = prepared.node_waypoints[released]
    assert taken is not None
    manager.plan("ghost", TrafficPath.from_waypoints([taken], manager.resources))
    assert link.resume(SITE_ID, (MANUFACTURER, "a"), prepared, node=node, released=released)
    standing = manager.holds("acme/a")
    assert len(standing) == 1 and f"waypoint:{taken}" not in standing  # where it stands
    world.step()
    assert manager.holds("acme/a") == standing  # still waiting for the ghost's place
    manager.release_all("ghost")
    world.run(600)
    assert world.done == ["a"]
    assert link.counters.reservation_conflicts == link.counters.errors == 0


def clinic_waypoint(site: Site, ident: str):  # type: ignore[no-untyped-def]
    return next(wp for wp in site.all_waypoints() if wp.id == ident)


def test_head_on_through_the_lift_one_robot_steps_aside_and_both_finish(clinic: Site) -> None:
    world = LinkWorld(clinic, {"a": "L1_left_nurse_center", "b": "L2_left_nurse_center"})
    world.start("a", "L2_north_counter", "m-a")
    world.start("b", "L1_right_nurse_center", "m-b")
    world.run(900)
    assert sorted(world.done) == ["a", "b"]
    counters = world.link.counters
    assert counters.deadlocks_detected >= 1
    assert counters.deadlocks_resolved >= 1 and counters.reroutes >= 1
    assert counters.deadlocks_unresolved == 0
    assert counters.reservation_conflicts == counters.errors == 0
    # The robot that stepped aside was cancelled and got a new order; progress followed it.
    (key, new_order), *_ = world.rerouted
    assert "cancelOrder" in instant_to(world, key[1])
    assert new_order.startswith(f"m-{key[1]}-x")
    assert any(o == new_order for o, _, _ in orders_to(world, key[1]))


def test_a_cancelled_mission_frees_its_path_once_the_robot_stands(clinic: Site) -> None:
    world = LinkWorld(clinic, {"a": "L1:396", "b": "L1:398"})
    world.start("a", "L1:403", "m-a")
    for _ in range(10):
        world.step()
    assert len(world.manager.holds("acme/a")) > 1
    # The runtime cancels: the mission is no longer running, the robot gets cancelOrder.
    world.running.pop((MANUFACTURER, "a"))
    world.progress.forget((MANUFACTURER, "a"))
    world.orders.send_instant_actions(MANUFACTURER, "a", cancel("c-1"))
    world.deliver()
    for _ in range(10):
        world.step()
    here = world.standing_waypoint("a")
    assert world.manager.holds("acme/a") == {f"waypoint:{here}"}
    assert world.link.snapshot(SITE_ID)["robots"][0]["role"] == "standing"
    # b now drives through where a's path was.
    world.start("b", "L1:403", "m-b")
    world.run(300)
    assert "b" in world.done


def cancel(action_id: str):  # type: ignore[no-untyped-def]
    from tests.support.orders import action, instant

    return instant(action("cancelOrder", action_id))


def test_a_robot_standing_where_another_holds_waits_at_node_zero(clinic: Site) -> None:
    live = LiveFleet(1e9)
    wire = Wire()
    link = TrafficLink(OrderPublisher(wire, live, "uagv"), live, MissionProgress())
    link.add_site(SITE_ID, clinic)
    compiled_a = patrol_to(clinic, "a", "L1:396", "L1:403", "m-a")
    first = link.start(SITE_ID, (MANUFACTURER, "a"), compiled_a)
    assert first.initial_release >= 2  # through L1:416
    compiled_b = patrol_to(clinic, "b", "L1:416", "L1:398", "m-b")
    held = link.start(SITE_ID, (MANUFACTURER, "b"), compiled_b)
    assert held.initial_release == 0
    assert link.counters.starts_deferred == 1
    link.tick()
    assert link.counters.reservation_conflicts == 0


def test_a_site_without_a_table_runs_free_and_is_counted(clinic: Site) -> None:
    live = LiveFleet(1e9)
    link = TrafficLink(OrderPublisher(Wire(), live, "uagv"), live, MissionProgress())
    compiled = patrol_to(clinic, "a", "L1:396", "L1:403", "m-a")
    assert link.start("nowhere", (MANUFACTURER, "a"), compiled) is compiled
    assert link.counters.unmanaged == 1


def test_bad_lookahead_is_refused_naming_the_field() -> None:
    with pytest.raises(ValueError, match="lookahead_nodes"):
        TrafficConfig(lookahead_nodes=0)
    with pytest.raises(ValueError, match="stall_alarm_s"):
        TrafficConfig(stall_alarm_s=-1)


def test_a_guidance_meeting_point_before_a_lift_is_a_stop(clinic: Site) -> None:
    # From the holding point L1:431 the path runs 432, 388 (the meeting point), 387, ...
    # to the lift lobby: without a stop at the meeting point the robot would wait at the
    # holding point for good, its release capped before the lift's stretch.
    link, _ = bare_link(clinic)
    mission = parse_mission(
        {"kind": "guidance", "site": "clinic", "from": "L1:388", "to": "L2_north_counter"}
    )
    guide = profile("g").model_copy(update={"capabilities": ("guidance",)})
    compiled = compile_mission(
        mission, clinic, guide, start=StartPose(waypoint="L1:431"), order_id="m-g"
    )
    assert compiled.meeting_node_index == 2
    prepared = link.start(SITE_ID, (MANUFACTURER, "g"), compiled)
    assert prepared.initial_release == 2
    assert link.set_release_cap((MANUFACTURER, "g"), None)
    manager = link.manager(SITE_ID)
    assert manager is not None and manager.released_through("acme/g") > 2


def bare_link(site: Site) -> tuple[TrafficLink, Wire]:
    live = LiveFleet(1e9)
    wire = Wire()
    link = TrafficLink(
        OrderPublisher(wire, live, "uagv"), live, MissionProgress(), check_invariants=True
    )
    link.add_site(SITE_ID, site)
    return link, wire

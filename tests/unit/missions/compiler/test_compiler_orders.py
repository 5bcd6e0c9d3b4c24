"""Compiled orders: routing, lifts, doors, speeds, actions, base/horizon and updates."""

from __future__ import annotations

import math
from typing import Any

import pytest

from missions.compiler import CompiledMission, RobotProfile, StartPose, compile_mission
from missions.sites import Site, Zone, ZoneKind, route
from missions.types import parse_mission
from missions.vda5050 import Action, Order
from tests.support.vda_schemas import schema_errors
from tests.unit.missions.compiler.compiler_support import edit_levels, make_robot, wire, with_zones


def params(action: Action) -> dict[str, Any]:
    return {p.key: p.value for p in action.action_parameters or []}


def actions_of(compiled: CompiledMission, action_type: str) -> list[tuple[int, Action]]:
    return [
        (i, a)
        for i, node in enumerate(compiled.nodes)
        for a in node.actions
        if a.action_type == action_type
    ]


def guidance(**fields: Any) -> Any:
    body = {
        "kind": "guidance",
        "site": "clinic",
        "from": "L1_left_nurse_center",
        "to": "L2_north_counter",
        "language": "en",
    }
    return parse_mission({**body, **fields})


def patrol(**fields: Any) -> Any:
    body = {"kind": "patrol", "site": "building", "checkpoints": ["patrol_A1", "patrol_C"]}
    return parse_mission({**body, **fields})


def test_guidance_across_floors_calls_the_lift_before_boarding(
    clinic: Site, robot: RobotProfile
) -> None:
    compiled = compile_mission(
        guidance(),
        clinic,
        robot,
        start=StartPose(waypoint="L1_right_nurse_center"),
        order_id="g1",
    )
    maps = [n.node_position.map_id for n in compiled.nodes if n.node_position]
    change = next(i for i in range(1, len(maps)) if maps[i] != maps[i - 1])
    assert set(maps[:change]) == {"L1"} and set(maps[change:]) == {"L2"}
    # The cabin node on L1, then the cabin node on L2: the edge between them is the ride.
    assert compiled.node_waypoints[change - 1 : change + 1] == ("L1:370", "L2:281")
    assert compiled.edges[change - 1].edge_description == "lift lift_1: L1 to L2"
    [(where, call)] = actions_of(compiled, "callLift")
    assert where == change - 2  # the node before the cabin: wait outside for the lift
    assert params(call) == {"liftName": "lift_1", "toMapId": "L2"}
    assert call.blocking_type == "HARD"
    assert compiled.on_no_show == "return_to_start"
    assert not schema_errors("order", wire(compiled.order()))


def test_guidance_waits_and_speaks_at_from_then_leads_slowly_to_to(
    clinic: Site, robot: RobotProfile
) -> None:
    mission = guidance(max_speed_m_s=0.4, wait_for_person_timeout_s=90)
    compiled = compile_mission(
        mission, clinic, robot, start=StartPose(waypoint="L1_right_nurse_center"), order_id="g2"
    )
    meet = compiled.meeting_node_index
    assert meet is not None and compiled.node_waypoints[meet] == "L1:398"
    kinds = [(a.action_type, params(a)) for a in compiled.nodes[meet].actions]
    assert kinds[:3] == [
        ("speak", {"text": "Hello, I will show you the way.", "language": "en"}),
        ("guideWaitForPerson", {"timeoutS": 90.0}),
        ("speak", {"text": "Please follow me.", "language": "en"}),
    ]
    last = compiled.nodes[-1]
    assert compiled.node_waypoints[-1] == "L2:299"
    assert [params(a) for a in last.actions] == [
        {"text": "We have arrived. Take care.", "language": "en"}
    ]
    assert {e.max_speed for e in compiled.edges[:meet]} == {1.0}  # driving to the meeting
    assert {e.max_speed for e in compiled.edges[meet:]} == {0.4}  # leading a person


def test_edge_speed_is_the_lowest_of_lane_robot_and_mission(clinic: Site) -> None:
    def slow_lanes(level: Any) -> dict[str, Any]:
        lanes = tuple(
            lane.model_copy(update={"speed_limit_m_s": 0.3}) if i % 3 == 0 else lane
            for i, lane in enumerate(level.lanes)
        )
        return {"lanes": lanes}

    site = edit_levels(clinic, slow_lanes)
    robot = make_robot(max_speed_m_s=0.8)
    compiled = compile_mission(
        guidance(max_speed_m_s=0.5),
        site,
        robot,
        start=StartPose(waypoint="L1_right_nurse_center"),
        order_id="g3",
    )
    meet = compiled.meeting_node_index
    assert meet is not None
    limits: dict[tuple[str, str], float] = {}
    for level in site.levels:
        for lane in level.lanes:
            pairs = [(lane.start, lane.end)] + [(lane.end, lane.start)] * lane.bidirectional
            for pair in pairs:
                limit = lane.speed_limit_m_s or math.inf
                limits[pair] = max(limits.get(pair, 0.0), limit)
    seen_slow = False
    for i, edge in enumerate(compiled.edges):
        pair = (compiled.node_waypoints[i], compiled.node_waypoints[i + 1])
        lane_limit = limits.get(pair, math.inf)  # none for the lift ride
        mission_cap = 0.5 if i >= meet else math.inf
        assert edge.max_speed == min(lane_limit, mission_cap, 0.8), (i, pair)
        seen_slow |= edge.max_speed == 0.3
    assert seen_slow


def test_every_door_crossing_is_preceded_by_open_door(clinic: Site, robot: RobotProfile) -> None:
    compiled = compile_mission(
        guidance(), clinic, robot, start=StartPose(waypoint="L1_right_nurse_center"), order_id="g4"
    )
    doors: dict[tuple[str, str], str] = {}
    for level in clinic.levels:
        for lane in level.lanes:
            if lane.door:
                doors[(lane.start, lane.end)] = doors[(lane.end, lane.start)] = lane.door
    crossings = [
        (i, doors[(compiled.node_waypoints[i], compiled.node_waypoints[i + 1])])
        for i in range(len(compiled.edges))
        if (compiled.node_waypoints[i], compiled.node_waypoints[i + 1]) in doors
    ]
    assert len(crossings) >= 2
    opened = [(i, params(a)["doorName"]) for i, a in actions_of(compiled, "openDoor")]
    assert opened == crossings
    for i, door in crossings:
        assert compiled.edges[i].edge_description == f"through door {door}"
        # Mission actions first: the door is opened when the robot is about to go through.
        assert compiled.nodes[i].actions[-1].action_type == "openDoor"


def test_route_follows_the_site_router(clinic: Site, robot: RobotProfile) -> None:
    compiled = compile_mission(
        guidance(), clinic, robot, start=StartPose(waypoint="L1_right_nurse_center"), order_id="g5"
    )
    meet = compiled.meeting_node_index
    assert meet is not None
    leg1 = route(clinic, "L1_right_nurse_center", "L1_left_nurse_center", robot=robot.robot_class)
    leg2 = route(clinic, "L1_left_nurse_center", "L2_north_counter", robot=robot.robot_class)
    assert compiled.node_waypoints[: meet + 1] == leg1.waypoints
    assert compiled.node_waypoints[meet:] == leg2.waypoints
    driving = sum((e.length or 0.0) / (e.max_speed or 1.0) for e in compiled.edges)
    lift = sum(r.time_s for r in leg2.lift_rides)
    assert compiled.estimated_duration_s == pytest.approx(driving + lift, abs=0.01)


def test_patrol_checkpoints_get_checks_in_the_agent_vocabulary(
    office: Site, robot: RobotProfile
) -> None:
    mission = patrol(
        checkpoints=[
            "patrol_A1",
            {"waypoint": "patrol_C", "dwell_s": 30, "checks": [{"temperature_below": 45}]},
        ],
        dwell_s=12,
        checks=["door_closed", "no_person", "smoke_absent", "no_intruder"],
        speak_on_arrival="Security patrol",
    )
    compiled = compile_mission(
        mission, office, robot, start=StartPose(waypoint="patrol_B"), order_id="p1"
    )
    checks = actions_of(compiled, "patrolCheck")
    assert [compiled.node_waypoints[i] for i, _ in checks] == ["L1:41", "L1:55"]
    assert params(checks[0][1]) == {
        "dwellS": 12.0,
        "checks": ["door_closed", "no_person", "smoke_absent", "no_intruder"],
    }
    assert params(checks[1][1]) == {"dwellS": 30.0, "checks": [{"temperature_below": 45.0}]}
    spoken = actions_of(compiled, "speak")
    assert [i for i, _ in spoken] == [i for i, _ in checks]
    assert params(spoken[0][1]) == {"text": "Security patrol"}  # the agent's default language
    for i, _ in checks:
        types = [a.action_type for a in compiled.nodes[i].actions]
        assert types.index("speak") < types.index("patrolCheck")
    driving = sum((e.length or 0.0) / (e.max_speed or 1.0) for e in compiled.edges)
    assert compiled.estimated_duration_s == pytest.approx(driving + 12 + 30, abs=0.01)


def test_patrol_rounds_are_unrolled(office: Site, robot: RobotProfile) -> None:
    compiled = compile_mission(
        patrol(rounds=3), office, robot, start=StartPose(waypoint="patrol_B"), order_id="p2"
    )
    visits = [compiled.node_waypoints[i] for i, _ in actions_of(compiled, "patrolCheck")]
    assert visits == ["L1:41", "L1:55"] * 3
    assert not compiled.repeat_until_stopped


def test_patrol_until_stopped_is_one_repeatable_round(office: Site, robot: RobotProfile) -> None:
    compiled = compile_mission(
        patrol(rounds="until_stopped"),
        office,
        robot,
        start=StartPose(waypoint="patrol_B"),
        order_id="p3",
    )
    visits = [compiled.node_waypoints[i] for i, _ in actions_of(compiled, "patrolCheck")]
    assert visits == ["L1:41", "L1:55"]
    assert compiled.repeat_until_stopped
    assert compiled.end_pose == StartPose(waypoint="L1:55")
    again = compile_mission(
        patrol(rounds="until_stopped"), office, robot, start=compiled.end_pose, order_id="p3-2"
    )
    assert again.node_waypoints[0] == "L1:55" and again.node_waypoints[-1] == "L1:55"


def test_zone_sweep_visits_each_waypoint_of_the_zone_once(
    office: Site, robot: RobotProfile
) -> None:
    east = Zone(
        name="east_wing",
        kind=ZoneKind.QUIET,
        polygon=((14.5, -3.0), (22.0, -3.0), (22.0, -12.0), (14.5, -12.0)),
    )
    site = with_zones(office, {"L1": [east]})
    inside = {wp.id for wp in site.level("L1").waypoints if 14.5 < wp.x < 22.0 and -12 < wp.y < -3}
    compiled = compile_mission(
        parse_mission({"kind": "patrol", "site": "building", "zone": "east_wing", "dwell_s": 5}),
        site,
        robot,
        start=StartPose(waypoint="patrol_A1"),
        order_id="p4",
    )
    visits = [compiled.node_waypoints[i] for i, _ in actions_of(compiled, "patrolCheck")]
    assert sorted(visits) == sorted(inside) and len(visits) == len(set(visits))
    # The tour is no worse than visiting in site order.
    site_order = sorted(inside, key=lambda w: [wp.id for wp in site.all_waypoints()].index(w))
    naive = sum(
        route(site, a, b, robot=robot.robot_class).travel_time_s
        for a, b in zip(["L1:41", *site_order], site_order, strict=False)
    )
    assert compiled.estimated_duration_s - 5 * len(visits) <= naive + 1e-6


def test_start_position_off_the_graph_becomes_the_first_node(
    office: Site, robot: RobotProfile
) -> None:
    far = compile_mission(
        patrol(), office, robot, start=StartPose(x=9.0, y=-8.5, level="L1"), order_id="p5"
    )
    first = far.nodes[0]
    assert first.node_id == "start" and far.node_waypoints[0] is None
    assert first.node_position is not None
    assert (first.node_position.x, first.node_position.y) == (9.0, -8.5)
    assert far.node_waypoints[1] is not None  # then onto the nearest waypoint
    near = compile_mission(
        patrol(), office, robot, start=StartPose(x=10.2, y=-7.1, level="L1"), order_id="p6"
    )
    assert near.nodes[0].node_id == "L1:41"  # patrol_A1 is within the deviation range


def test_action_ids_are_unique_and_carry_the_order_id(clinic: Site, robot: RobotProfile) -> None:
    compiled = compile_mission(
        guidance(), clinic, robot, start=StartPose(waypoint="L1_right_nurse_center"), order_id="g6"
    )
    ids = [a.action_id for n in compiled.nodes for a in n.actions]
    assert len(ids) == len(set(ids)) >= 5
    assert all(i.startswith("g6-") for i in ids)


# ---------------------------------------------------------------------- base and horizon


@pytest.fixture
def long_patrol(office: Site, robot: RobotProfile) -> CompiledMission:
    mission = patrol(checkpoints=["patrol_A1", "patrol_C", "patrol_D1", "patrol_B"], rounds=2)
    return compile_mission(
        mission, office, robot, start=StartPose(waypoint="patrol_B"), order_id="p7"
    )


def released(order: Order) -> list[int]:
    return [n.sequence_id for n in order.nodes if n.released]


def test_order_releases_everything_by_default(long_patrol: CompiledMission) -> None:
    order = long_patrol.order(header_id=7)
    assert order.header_id == 7 and order.order_update_id == 0
    assert all(n.released for n in order.nodes) and all(e.released for e in order.edges)
    assert [n.sequence_id for n in order.nodes] == list(range(0, 2 * len(order.nodes), 2))
    assert [e.sequence_id for e in order.edges] == list(range(1, 2 * len(order.edges), 2))
    assert (order.manufacturer, order.serial_number, order.version) == ("acme", "r1", "2.1.0")


def test_updates_extend_the_base_from_the_stitching_node(long_patrol: CompiledMission) -> None:
    count = len(long_patrol.nodes)
    assert count > 12
    compiled = long_patrol.with_initial_release(4)
    first = compiled.order()
    assert released(first) == [0, 2, 4, 6, 8]
    assert [e.released for e in first.edges] == [True] * 4 + [False] * (count - 5)
    assert all(not n.actions for n in first.nodes if not n.released)  # horizon: no actions
    update = compiled.order_update(1, 9)
    assert update.order_id == first.order_id and update.order_update_id == 1
    assert update.nodes[0] == first.nodes[4]  # the stitching node, resent unchanged
    assert released(update) == list(range(8, 20, 2))
    assert update.edges[0].sequence_id == 9 and update.edges[0].released
    last = compiled.next_order_update(None)
    assert last.order_update_id == 2 and last.nodes[0] == update.nodes[5]
    assert all(n.released for n in last.nodes) and last.nodes[-1].sequence_id == 2 * (count - 1)
    assert [a.action_id for n in last.nodes[1:] for a in n.actions] == [
        a.action_id for n in long_patrol.nodes[10:] for a in n.actions
    ]
    for order in (first, update, last):
        assert not schema_errors("order", wire(order))


def test_a_resent_update_is_identical_and_the_base_cannot_shrink(
    long_patrol: CompiledMission,
) -> None:
    compiled = long_patrol.with_initial_release(3)
    with pytest.raises(ValueError, match="initial order"):
        compiled.order_update(1, 5)
    compiled.order()
    one = compiled.order_update(1, 6)
    again = compiled.order_update(1, 6, timestamp=one.timestamp)
    assert again == one
    with pytest.raises(ValueError, match="was issued releasing through node 6"):
        compiled.order_update(1, 7)
    with pytest.raises(ValueError, match="the next orderUpdateId is 2"):
        compiled.order_update(3, 8)
    with pytest.raises(ValueError, match="cannot change"):
        compiled.order_update(2, 5)
    with pytest.raises(ValueError, match="release_until"):
        compiled.order_update(2, len(compiled.nodes))
    assert compiled.released_through == 6 and compiled.last_update_id == 1


def test_release_until_at_compile_time(office: Site, robot: RobotProfile) -> None:
    compiled = compile_mission(
        patrol(),
        office,
        robot,
        start=StartPose(waypoint="patrol_B"),
        order_id="p8",
        release_until=0,
    )
    order = compiled.order()
    assert released(order) == [0] and not any(e.released for e in order.edges)
    with pytest.raises(ValueError, match="release_until"):
        compile_mission(
            patrol(),
            office,
            robot,
            start=StartPose(waypoint="patrol_B"),
            order_id="p9",
            release_until=10_000,
        )


def test_robot_profile_names_the_routing_class() -> None:
    robot = make_robot(kind="guide", nav_graph=1, authorized_zones=["pharmacy"])
    robot_class = robot.robot_class
    assert (robot_class.kind, robot_class.nav_graph) == ("guide", 1)
    assert robot_class.authorized_zones == frozenset({"pharmacy"})

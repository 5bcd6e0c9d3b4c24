"""Property tests: random missions on the fixture sites, released in random steps.

For every compiled mission and every release schedule:

- each order validates against the official 2.1.0 order schema and the agent's structure
  check; node sequenceIds are even and consecutive, edge ones odd and between their nodes;
- the base never changes: a node or edge released in update k is, in every later update,
  either identical or absent because it lies behind that update's stitching node; the
  stitching node is the previous decision point; the agent's order book accepts each
  update as a stitch;
- the released parts of all orders put together are exactly the compiled sequence;
- every node action stands on a node of the routed path: consecutive graph nodes are
  joined by a lane or lift the robot may use, free positions hang off the waypoint before
  them, and each mission action sits where the mission put it; the agent's handlers
  accept every action's parameters.
"""

from __future__ import annotations

import json
import math
from functools import cache
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from missions.compiler import (
    CompiledMission,
    MissionCompileError,
    RobotProfile,
    StartPose,
    compile_mission,
)
from missions.compiler.site_view import SiteView
from missions.sites import Site, Zone, ZoneKind, import_site
from missions.types import MissionSpec, parse_mission
from missions.vda5050 import Edge, Node, Order, encode
from robot_agent.actions import ORDER_ACTIONS, ActionContext
from robot_agent.orders import Decision, OrderBook, check_structure
from sim.adapter import SimAdapter
from sim.kinematic import KinematicRobot
from tests.support.vda_schemas import schema_errors
from tests.unit.missions.compiler.compiler_support import (
    RMF,
    TREATMENT_ROOM_1,
    WARD_L2,
    make_robot,
    with_zones,
)

CHECKS: list[Any] = [
    "door_closed",
    "no_person",
    "smoke_absent",
    "no_intruder",
    {"temperature_below": 45},
]


@cache
def site(name: str) -> Site:
    clinic = import_site(RMF / "clinic.building.yaml")
    if name == "clinic":
        # Rooms drawn in as quiet zones, so UV may run anywhere on the clinic.
        return with_zones(
            clinic,
            {
                "L1": [Zone(name="treatment_1", kind=ZoneKind.QUIET, polygon=TREATMENT_ROOM_1)],
                "L2": [Zone(name="ward_l2", kind=ZoneKind.QUIET, polygon=WARD_L2)],
            },
        )
    return import_site(RMF / "office.building.yaml")


@cache
def view(name: str) -> SiteView:
    return SiteView(site(name), make_robot())


def usable(name: str) -> list[str]:
    return sorted(view(name).usable)


@st.composite
def patrol(draw: st.DrawFn, name: str) -> dict[str, Any]:
    checkpoints = draw(st.lists(st.sampled_from(usable(name)), min_size=1, max_size=6))
    body: dict[str, Any] = {
        "kind": "patrol",
        "checkpoints": checkpoints,
        "rounds": draw(st.one_of(st.integers(1, 3), st.just("until_stopped"))),
        "dwell_s": draw(st.floats(0, 120)),
        "checks": draw(st.lists(st.sampled_from(CHECKS), max_size=3)),
    }
    if draw(st.booleans()):
        body["speak_on_arrival"] = "Patrol"
    return body


@st.composite
def guidance(draw: st.DrawFn, name: str) -> dict[str, Any]:
    frm, to = draw(st.lists(st.sampled_from(usable(name)), min_size=2, max_size=2, unique=True))
    return {
        "kind": "guidance",
        "from": frm,
        "to": to,
        "language": draw(st.sampled_from(["zh-CN", "en"])),
        "max_speed_m_s": draw(st.floats(0.1, 1.0)),
        "wait_for_person_timeout_s": draw(st.floats(1, 600)),
    }


@st.composite
def target(draw: st.DrawFn, name: str) -> dict[str, Any]:
    kinds = (["room"] if name == "clinic" else []) + ["point", "waypoint"]
    kind = draw(st.sampled_from(kinds))
    if kind == "waypoint":
        return {"waypoint": draw(st.sampled_from(usable(name)))}
    if kind == "room":
        return {"room": draw(st.sampled_from(["treatment_1", "ward_l2"]))}
    wp = view(name).waypoints[draw(st.sampled_from(usable(name)))]
    dx, dy = draw(st.floats(-2, 2)), draw(st.floats(-2, 2))
    return {"x": round(wp.x + dx, 3), "y": round(wp.y + dy, 3), "level": wp.level}


@st.composite
def disinfection(draw: st.DrawFn, name: str) -> dict[str, Any]:
    targets = draw(st.lists(target(name), min_size=1, max_size=4))
    rooms = [t["room"] for t in targets if "room" in t]
    if len(rooms) != len(set(rooms)):
        targets = [t for t in targets if "room" not in t] or [{"waypoint": usable(name)[0]}]
    if draw(st.booleans()):
        return {
            "kind": "disinfection",
            "method": "uv",
            "targets": targets,
            "target_dose_mj_cm2": draw(st.floats(1, 120)),
            "distance_m": draw(st.floats(0.3, 3)),
            "dwell_points_per_room": draw(st.integers(1, 5)),
        }
    return {
        "kind": "disinfection",
        "method": "spray",
        "targets": targets,
        "agent": "hydrogen_peroxide_3pct",
        "rate_ml_per_m3": draw(st.floats(0.5, 20)),
        "room_volume_m3": draw(st.floats(5, 300)),
        "contact_time_s": 600,
        "re_entry_time_s": 1800,
    }


@st.composite
def start(draw: st.DrawFn, name: str) -> StartPose:
    wp = view(name).waypoints[draw(st.sampled_from(usable(name)))]
    if draw(st.booleans()):
        return StartPose(waypoint=wp.id)
    dx, dy = draw(st.floats(-3, 3)), draw(st.floats(-3, 3))
    return StartPose(x=wp.x + dx, y=wp.y + dy, level=wp.level)


@st.composite
def case(draw: st.DrawFn) -> tuple[str, MissionSpec, RobotProfile, StartPose]:
    name = draw(st.sampled_from(["clinic", "office"]))
    body = draw(st.one_of(patrol(name), guidance(name), disinfection(name)))
    body["site"] = site(name).name
    robot = make_robot(max_speed_m_s=draw(st.floats(0.2, 1.5)))
    return name, parse_mission(body), robot, draw(start(name))


def schedule(draw: st.DrawFn, compiled: CompiledMission) -> list[int]:
    """Release points: the initial one, then increasing ones up to the last node."""
    last = len(compiled.nodes) - 1
    cuts = draw(st.lists(st.integers(0, last), min_size=1, max_size=6))
    # Equal neighbours are updates that release nothing new (a horizon-only update).
    return [*sorted(cuts), last]


def orders_for(compiled: CompiledMission, points: list[int]) -> list[Order]:
    compiled = compiled.with_initial_release(points[0])
    orders = [compiled.order(header_id=0)]
    for k, point in enumerate(points[1:], start=1):
        orders.append(compiled.order_update(k, point, header_id=k))
    return orders


def actions_count(compiled: CompiledMission, action_type: str) -> int:
    return sum(a.action_type == action_type for n in compiled.nodes for a in n.actions)


def released_elements(order: Order) -> list[Node | Edge]:
    return [n for n in order.nodes if n.released] + [e for e in order.edges if e.released]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_orders_are_consistent_and_the_base_never_changes(data: st.DataObject) -> None:
    name, mission, robot, pose = data.draw(case())
    compiled = compile_mission(mission, site(name), robot, start=pose, order_id="prop")
    event(f"{name} {mission.kind}")
    event(f"rooms: {len(compiled.room_plans)}, lift rides: {actions_count(compiled, 'callLift')}")
    orders = orders_for(compiled, schedule(data.draw, compiled))
    book = OrderBook()
    for k, order in enumerate(orders):
        body = json.loads(encode(order))
        assert not schema_errors("order", body), schema_errors("order", body)
        check_structure(order)  # the agent's own validation (§6.6.1)
        first = order.nodes[0].sequence_id
        assert [n.sequence_id for n in order.nodes] == list(
            range(first, first + 2 * len(order.nodes), 2)
        )
        assert all(not n.actions for n in order.nodes if not n.released)
        if k == 0:
            assert first == 0
            start = order.nodes[0].node_position
            assert start is not None
            assert book.decide(order, (start.x, start.y, start.map_id), busy=False) is (
                Decision.NEW
            )
            book.take_new(order)
        else:
            previous = orders[k - 1]
            decision = [n for n in previous.nodes if n.released][-1]
            assert order.nodes[0] == decision  # the stitching node, unchanged
            assert book.decide(order, (0.0, 0.0, ""), busy=True) is Decision.UPDATE
            book.take_update(order)
        while book.next_node() is not None:  # drive the base to the decision point
            node = book.next_node()
            assert node is not None
            book.traverse(node)
        for later in orders[k + 1 :]:
            stitch = later.nodes[0].sequence_id
            by_seq: dict[int, Node | Edge] = {n.sequence_id: n for n in later.nodes}
            by_seq.update({e.sequence_id: e for e in later.edges})
            for element in released_elements(order):
                again = by_seq.get(element.sequence_id)
                if again is None:
                    assert element.sequence_id < stitch
                else:
                    assert again == element
    # Put together, the released parts are the compiled sequence.
    nodes = {n.sequence_id: n for o in orders for n in o.nodes if n.released}
    edges = {e.sequence_id: e for o in orders for e in o.edges if e.released}
    assert [nodes[2 * i] for i in range(len(compiled.nodes))] == list(compiled.nodes)
    assert [edges[2 * i + 1] for i in range(len(compiled.edges))] == list(compiled.edges)
    ids = [a.action_id for n in compiled.nodes for a in n.actions]
    assert len(ids) == len(set(ids))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_action_stands_on_the_routed_path(data: st.DataObject) -> None:
    name, mission, robot, pose = data.draw(case())
    try:
        compiled = compile_mission(mission, site(name), robot, start=pose, order_id="path")
    except MissionCompileError as exc:  # pragma: no cover - the fixture graphs are connected
        raise AssertionError(f"a connected site refused a mission: {exc}") from exc
    look = SiteView(site(name), robot)
    wps = compiled.node_waypoints
    cabins = {
        (a, b)
        for lift in site(name).lifts
        for la, ids_a in lift.waypoints.items()
        for lb, ids_b in lift.waypoints.items()
        if la != lb
        for a in ids_a
        for b in ids_b
    }
    for i, edge in enumerate(compiled.edges):
        a, b = wps[i], wps[i + 1]
        assert edge.start_node_id == compiled.nodes[i].node_id
        assert edge.end_node_id == compiled.nodes[i + 1].node_id
        assert edge.max_speed is not None and 0 < edge.max_speed <= robot.max_speed_m_s
        if a is not None and b is not None:
            assert look.lane(a, b) is not None or (a, b) in cabins, (a, b)
            assert a in look.usable and b in look.usable
        else:
            # A free position joins a graph waypoint on its own level, or another position.
            pa, pb = compiled.nodes[i].node_position, compiled.nodes[i + 1].node_position
            assert pa is not None and pb is not None and pa.map_id == pb.map_id
    agent = ActionContext(adapter=SimAdapter(KinematicRobot()), monotonic=lambda: 0.0)
    for node in compiled.nodes:
        for action in node.actions:  # the agent reads every parameter (else: orderError)
            ORDER_ACTIONS[action.action_type](action, agent)
    kinds = [[a.action_type for a in n.actions] for n in compiled.nodes]
    body = mission.model_dump(by_alias=True)
    if body["kind"] == "patrol":
        visits = [wps[i] for i, k in enumerate(kinds) for t in k if t == "patrolCheck"]
        wanted = [look.waypoint(c["waypoint"], "c").id for c in body["checkpoints"]]
        rounds = 1 if body["rounds"] == "until_stopped" else body["rounds"]
        assert visits == wanted * rounds
    elif body["kind"] == "guidance":
        meet = compiled.meeting_node_index
        assert meet is not None and wps[meet] == body["from"]
        assert "guideWaitForPerson" in kinds[meet]
        assert wps[-1] == body["to"] and kinds[-1][0] == "speak"
        assert all(e.max_speed is not None for e in compiled.edges[meet:])
        assert all(
            (e.max_speed or 0) <= body["max_speed_m_s"] + 1e-12 for e in compiled.edges[meet:]
        )
    else:
        found = [i for i, k in enumerate(kinds) for t in k if t.endswith("Disinfect")]
        assert len(found) == len(compiled.dwell_points) == len(compiled.planned_points)
        for i, point in zip(found, compiled.dwell_points, strict=True):
            position = compiled.nodes[i].node_position
            assert position is not None and point.node_id == compiled.nodes[i].node_id
            assert math.isclose(position.x, point.x) and math.isclose(position.y, point.y)
        labels = {p.label for p in compiled.planned_points}
        for t in body["targets"]:
            if t.get("waypoint") is not None:
                assert t["waypoint"] in labels
                assert any(wps[i] == t["waypoint"] for i in found)
    for i, actions in enumerate(kinds):
        if "callLift" in actions:
            lift_edges = [
                j for j in (i + 1, i) if j < len(wps) - 1 and (wps[j], wps[j + 1]) in cabins
            ]
            assert lift_edges, f"callLift on node {i} is not before a lift ride"

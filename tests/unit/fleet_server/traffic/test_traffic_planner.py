"""ReleasePlanner: initial release, order updates on progress, and two real agents in lockstep.

The lockstep tests drive compiled clinic missions through two onboard-agent executors on
simulated bodies (the orders travel as JSON), feed each traversed node back to the planner
and deliver the updates it returns, as the server will.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass, field

import pytest

from fleet_server.dispatch.traffic import Resolution, TrafficConfig, TrafficManager, TrafficPath
from fleet_server.dispatch.traffic_release import ReleasePlanner, Reroute, rerouted_mission
from missions.compiler import CompiledMission, RobotProfile, StartPose, compile_mission
from missions.sites import Site
from missions.types import parse_mission
from missions.vda5050 import ActionStatus, Order, decode_order, encode
from robot_agent.actions import ActionContext
from robot_agent.executor import OrderExecutor
from robot_agent.orders import Decision, check_structure
from sim.adapter import SimAdapter, SimSurroundings
from sim.kinematic import KinematicRobot
from tests.support.orders import action, instant
from tests.unit.fleet_server.traffic.traffic_support import fixture_site
from tests.unit.missions.compiler.compiler_support import clinic_with_rooms

BY_NODES = TrafficConfig(lookahead_nodes=3, lookahead_m=100.0)


def profile(serial: str) -> RobotProfile:
    return RobotProfile.model_validate(
        {
            "manufacturer": "acme",
            "serial_number": serial,
            "kind": "service_robot",
            "capabilities": ["patrol"],
            "max_speed_m_s": 1.0,
        }
    )


def patrol(site: Site, serial: str, start: str, goal: str) -> CompiledMission:
    mission = parse_mission(
        {
            "kind": "patrol",
            "site": site.name,
            "checkpoints": [goal],
            "dwell_s": 1,
            "checks": ["door_closed"],
        }
    )
    return compile_mission(
        mission, site, profile(serial), start=StartPose(waypoint=start), order_id=f"{serial}-p"
    )


@pytest.fixture(scope="module")
def clinic() -> Site:
    return fixture_site("clinic")


# -- the planner on its own ---------------------------------------------------------------


def test_start_releases_what_is_reserved_and_updates_only_when_the_release_advances(
    clinic: Site,
) -> None:
    planner = ReleasePlanner(TrafficManager(clinic, BY_NODES, check_invariants=True))
    compiled = patrol(clinic, "r1", "L1_left_nurse_center", "L1_right_nurse_center")
    prepared = planner.start("r1", compiled)
    assert prepared.initial_release == 3 < len(compiled.nodes) - 1
    first = prepared.order()
    assert [n.released for n in first.nodes] == [True] * 4 + [False] * (len(first.nodes) - 4)
    assert planner.on_node("r1", 0) == []  # nothing new
    updates = planner.on_node("r1", 1)
    assert [(robot, o.order_update_id) for robot, o in updates] == [("r1", 1)]
    update = updates[0][1]
    assert update.nodes[0].sequence_id == 6  # stitched at the old decision point
    assert [n.sequence_id for n in update.nodes if n.released] == [6, 8]
    assert planner.on_node("r1", 1) == []
    assert planner.compiled("r1") is prepared


def test_one_robot_moving_on_frees_the_way_for_another(clinic: Site) -> None:
    manager = TrafficManager(clinic, BY_NODES, check_invariants=True)
    planner = ReleasePlanner(manager)
    a = planner.start("a", patrol(clinic, "a", "L1:396", "L1:403"))  # 396 444 416 399 ...
    b = planner.start("b", patrol(clinic, "b", "L1:398", "L1:403"), priority=1)  # 398 397 396 ...
    assert a.initial_release == 3
    assert b.initial_release == 1  # 396 is a's
    a.order()
    b.order()
    assert manager.waits_for() == {"b": "a"}
    updates = planner.on_node("a", 1)  # a left 396 behind
    assert [(robot, o.order_update_id) for robot, o in updates] == [("b", 1), ("a", 1)]
    planner.on_node("a", 3)
    planner.on_node("a", 5)
    planner.finish("a")  # a stands at node 5 (L1:402), keeping it
    assert manager.holds("a") == {"waypoint:L1:402"}
    assert manager.path("a").last == 0
    snap = json.loads(json.dumps(planner.snapshot()))
    assert [row["robot"] for row in snap["robots"]] == ["a", "b"]
    assert snap["robots"][0]["order_id"] is None
    planner.finish("a", keep_standing=False)  # a left the site
    assert "a" not in manager.robots
    snap = json.loads(json.dumps(planner.snapshot()))
    assert [row["robot"] for row in snap["robots"]] == ["b"]
    assert snap["robots"][0]["order_id"] == "b-p"
    assert snap["robots"][0]["order_update_id"] == 2
    assert snap["robots"][0]["awaiting_order"] is False


def test_a_release_cap_holds_guidance_at_the_meeting_point(clinic: Site) -> None:
    mission = parse_mission(
        {
            "kind": "guidance",
            "site": "clinic",
            "from": "L1_left_nurse_center",
            "to": "L1_right_nurse_center",
        }
    )
    compiled = compile_mission(
        mission,
        clinic,
        profile("g").model_copy(update={"capabilities": ("guidance",)}),
        start=StartPose(waypoint="L1:395"),
        order_id="g",
    )
    meeting = compiled.meeting_node_index
    assert meeting is not None and meeting > 0
    planner = ReleasePlanner(TrafficManager(clinic, check_invariants=True))
    prepared = planner.start("g", compiled, release_cap=meeting)
    prepared.order()
    for node in range(meeting + 1):
        for _, order in planner.on_node("g", node):
            assert max(n.sequence_id for n in order.nodes if n.released) <= 2 * meeting
    assert planner.manager.released_through("g") == meeting
    updates = planner.set_release_cap("g", None)
    assert updates and planner.manager.released_through("g") > meeting


def test_a_rerouted_mission_is_a_valid_order_with_fresh_action_ids(clinic: Site) -> None:
    compiled = patrol(clinic, "r1", "L1_left_nurse_center", "L1_right_nurse_center")
    manager = TrafficManager(clinic)
    path = TrafficPath.from_compiled(compiled)
    r = 4  # stands on L1:416; steps aside to L1:400 (off L1:399) and back
    resolution = Resolution(
        robot="r1",
        cycle=("r1", "x"),
        refuge="L1:400",
        detour=("L1:399", "L1:400", "L1:399"),
        resume_index=r,
        path=TrafficPath(
            node_ids=(path.node_ids[r], "L1:399", "L1:400", "L1:399", *path.node_ids[r:]),
            waypoints=(path.waypoints[r], "L1:399", "L1:400", "L1:399", *path.waypoints[r:]),
            lengths_m=(0.0,) * 4 + path.lengths_m[r:],
        ),
    )
    new = rerouted_mission(compiled, resolution, manager.resources, order_id="r1-p-x1")
    order = new.order()
    check_structure(order)
    assert [n.node_id for n in order.nodes] == list(resolution.path.node_ids)
    assert new.node_waypoints == resolution.path.waypoints
    ids = [a.action_id for n in new.nodes for a in n.actions]
    assert ids and all(i.startswith("r1-p-x1-") for i in ids)
    old_ids = {a.action_id for n in compiled.nodes for a in n.actions}
    assert not old_ids & set(ids)
    planned = {p.action_id for p in new.planned_points}
    assert planned <= set(ids) | old_ids


def test_going_around_a_robot_that_cannot_move_leaves_out_no_work(clinic: Site) -> None:
    manager = TrafficManager(clinic, BY_NODES, check_invariants=True)
    planner = ReleasePlanner(manager)
    manager.plan("s", TrafficPath.from_waypoints(["L1:399"], manager.resources))
    avoid = manager.holds("s")

    def new_id(robot: str, compiled: CompiledMission) -> str:
        return f"{compiled.order_id}-x1"

    # A checkpoint where s stands: w cannot leave it out, so it has no way around.
    work_there = parse_mission(
        {"kind": "patrol", "site": clinic.name, "checkpoints": ["L1:399", "L1:403"]}
    )
    compiled = compile_mission(
        work_there, clinic, profile("w"), start=StartPose(waypoint="L1:416"), order_id="w-1"
    )
    assert planner.start("w", compiled).initial_release == 0
    assert planner.bypass("w", avoid, new_id) is None
    assert manager.path("w").path == TrafficPath.from_compiled(compiled)

    # Only passing there: w goes around by the loop and on from L1:401.
    passing = patrol(clinic, "w", "L1:416", "L1:403")
    planner.start("w", passing)
    reroute = planner.bypass("w", avoid, new_id)
    assert reroute is not None and reroute.compiled is not None and reroute.order is not None
    rejoin = passing.node_waypoints.index("L1:401")
    assert reroute.resolution.rejoin_index == rejoin and reroute.resolution.refuge is None
    new = reroute.compiled
    check_structure(reroute.order)
    assert new.node_waypoints == manager.path("w").path.waypoints
    assert new.node_waypoints[0] == "L1:416" and "L1:399" not in new.node_waypoints
    assert new.node_waypoints[-len(passing.nodes) + rejoin :] == passing.node_waypoints[rejoin:]
    after = len(reroute.resolution.detour) + 1
    assert [[a.action_type for a in n.actions] for n in new.nodes[after:]] == [
        [a.action_type for a in n.actions] for n in passing.nodes[rejoin:]
    ]
    ids = [a.action_id for n in new.nodes for a in n.actions]
    assert ids and all(i.startswith("w-p-x1-") for i in ids)
    assert not manager.holds("w") & avoid and manager.released_through("w") > 0


# -- two real agents in lockstep ------------------------------------------------------------


@dataclass
class Robot:
    """A simulated body with the real order executor; orders arrive as JSON."""

    name: str
    compiled: CompiledMission
    t: float = 0.0
    body: KinematicRobot = field(init=False)
    world: SimSurroundings = field(default_factory=SimSurroundings)
    ex: OrderExecutor = field(init=False)
    seen_sequence: int = -1
    finished: bool = False

    def __post_init__(self) -> None:
        start = self.compiled.nodes[0].node_position
        assert start is not None
        self.body = KinematicRobot(
            x=start.x, y=start.y, map_id=start.map_id, max_speed_m_s=1.0, lift_ride_s=4.0
        )
        self.world.sensors["door_open"] = 0.0  # what patrolCheck door_closed reads
        adapter = SimAdapter(self.body, self.world)
        self.ex = OrderExecutor(ActionContext(adapter=adapter, monotonic=lambda: self.t))

    def send(self, order: Order) -> None:
        decision = self.ex.receive_order(decode_order(encode(order)))
        assert decision in (Decision.NEW, Decision.UPDATE), self.ex.errors.order

    def step(self, dt: float) -> None:
        self.t += dt
        self.body.step(dt)
        self.ex.tick()


class Lockstep:
    """Two robots, one planner; node progress in, updates (and reroutes) out."""

    def __init__(self, site: Site, missions: dict[str, CompiledMission]) -> None:
        self.manager = TrafficManager(site, check_invariants=True)
        self.planner = ReleasePlanner(self.manager)
        self.robots: dict[str, Robot] = {}
        self.reroutes: list[Reroute] = []
        self.min_gap_m = math.inf
        self.updates = 0
        self.waited: set[tuple[str, str]] = set()
        names = itertools.count(1)
        self._new_id = lambda robot, compiled: f"{compiled.order_id}-x{next(names)}"
        for priority, (name, compiled) in enumerate(missions.items()):
            prepared = self.planner.start(name, compiled, priority=priority)
            robot = Robot(name, prepared)
            robot.send(prepared.order())
            self.robots[name] = robot

    def deliver(self, updates: list[tuple[str, Order]]) -> None:
        for name, order in updates:
            self.robots[name].send(order)
            self.updates += 1

    def run(self, limit_s: float, dt: float = 0.1) -> None:
        for tick in range(round(limit_s / dt)):
            for robot in self.robots.values():
                robot.step(dt)
            for robot in self.robots.values():
                self.report(robot)
            if tick % 10 == 0:
                self.deliver(self.planner.advance())
                self.resolve()
            self.check_gap()
            if all(r.finished for r in self.robots.values()):
                return
        raise AssertionError(f"not all finished in {limit_s} s: {self.planner.snapshot()}")

    def report(self, robot: Robot) -> None:
        if robot.finished:
            return
        sequence = robot.ex.book.last_node_sequence_id
        if sequence != robot.seen_sequence:
            robot.seen_sequence = sequence
            self.deliver(self.planner.on_node(robot.name, sequence // 2))
        last = 2 * (len(robot.compiled.nodes) - 1)
        if sequence == last and not robot.ex.busy:
            robot.finished = True
            self.deliver(self.planner.finish(robot.name))

    def resolve(self) -> None:
        for reroute in self.planner.resolve_deadlocks(self._new_id):
            self.reroutes.append(reroute)
            robot = self.robots[reroute.robot]
            if reroute.order is None or reroute.compiled is None:
                continue
            robot.ex.receive_instant_actions(instant(action("cancelOrder", f"c-{robot.t}")))
            assert not robot.ex.busy
            robot.compiled = reroute.compiled
            robot.seen_sequence = -1
            robot.send(reroute.order)
            self.deliver(self.planner.order_taken(reroute.robot))

    def check_gap(self) -> None:
        for robot, blocker in self.manager.waits_for().items():
            self.waited.add((robot, blocker))
        moving = [r.body for r in self.robots.values() if not r.finished]
        if len(moving) == 2 and moving[0].map_id == moving[1].map_id:
            a, b = moving
            self.min_gap_m = min(self.min_gap_m, math.hypot(a.x - b.x, a.y - b.y))


def assert_mission_done(robot: Robot) -> None:
    statuses = {r.action.action_type: r.status for r in robot.ex.runs.values()}
    assert statuses["patrolCheck"] is ActionStatus.FINISHED
    assert not robot.ex.errors.all()
    goal = robot.compiled.nodes[-1].node_position
    assert goal is not None
    assert math.hypot(robot.body.x - goal.x, robot.body.y - goal.y) < 0.3


def test_two_agents_cross_in_the_clinic_and_both_finish(clinic: Site) -> None:
    # a crosses the L1 hall west to east; b comes down the 399-416 corridor the other way.
    run = Lockstep(
        clinic,
        {
            "a": patrol(clinic, "a", "L1_left_nurse_center", "L1_right_nurse_center"),
            "b": patrol(clinic, "b", "L1_sub_waiting_area_3", "L1:422"),
        },
    )
    run.run(300)
    for robot in run.robots.values():
        assert_mission_done(robot)
    assert run.updates >= 4  # released in steps, not all at once
    assert run.waited  # their paths did meet
    assert run.min_gap_m > 1.0


def test_two_agents_head_on_through_the_lift_break_the_deadlock(clinic: Site) -> None:
    # a goes up with lift_1, b comes down with it: they meet on the corridor that leads to
    # the lift, one of them steps aside (cancel, new order) and both finish.
    run = Lockstep(
        clinic,
        {
            "a": patrol(clinic, "a", "L1_left_nurse_center", "L2_north_counter"),
            "b": patrol(clinic, "b", "L2_left_nurse_center", "L1_right_nurse_center"),
        },
    )
    run.run(900)
    for robot in run.robots.values():
        assert_mission_done(robot)
    assert [r.compiled is not None for r in run.reroutes] == [True]
    assert run.min_gap_m > 1.0
    assert run.reroutes[0].robot == "a"  # priority 0 against 1


def test_dwell_points_off_the_graph_hold_the_waypoint_they_hang_from(clinic: Site) -> None:
    rooms = clinic_with_rooms(clinic)
    mission = parse_mission(
        {
            "kind": "disinfection",
            "site": "clinic",
            "method": "uv",
            "targets": [{"room": "treatment_1"}],
            "dwell_points_per_room": 3,
        }
    )
    uv = profile("uv").model_copy(
        update={"capabilities": ("uv_disinfection",), "uv_irradiance_at_1m_mw_cm2": 2.67}
    )
    compiled = compile_mission(
        mission, rooms, uv, start=StartPose(waypoint="L1_left_nurse_center"), order_id="uv"
    )
    free = [i for i, w in enumerate(compiled.node_waypoints) if w is None]
    assert len(free) >= 2
    manager = TrafficManager(rooms, BY_NODES, check_invariants=True)
    manager.plan("uv", compiled)
    path = manager.path("uv")
    for i in free:
        before = [w for w in compiled.node_waypoints[:i] if w is not None][-1]
        assert path.anchors[i] == before
        assert path.occupies[i] == {f"waypoint:{before}"}
    anchor = path.anchors[free[0]]
    manager.plan("other", TrafficPath.from_waypoints([anchor], manager.resources))
    here = 0
    while (release := manager.request_release("uv", here)) > here:
        here = release
        manager.on_progress("uv", here)
    assert compiled.node_waypoints[free[0] - 1] == anchor  # the hop starts at the anchor
    assert here == free[0] - 2 and manager.waits_for() == {"uv": "other"}
    # Alone, the planner releases it through every dwell point to the end.
    planner = ReleasePlanner(TrafficManager(rooms, BY_NODES, check_invariants=True))
    planner.start("uv", compiled).order()
    node = 0
    while node < len(compiled.nodes) - 1:
        node = planner.manager.released_through("uv")
        planner.on_node("uv", node)
    assert (planner.compiled("uv").last_update_id or 0) >= 2

"""Compiled orders driven through the onboard agent's executor on a simulated body.

The orders travel as JSON (encoded, then decoded as the agent's link does), the agent
accepts them, drives the simulated body along the nodes, rides the lift, opens doors,
runs every action, and the results make a disinfection report that passes.
"""

from __future__ import annotations

import json
import math

from missions.compiler import CompiledMission, RobotProfile, StartPose, compile_mission
from missions.report import ActionOutcome, build_disinfection_report
from missions.sites import Site
from missions.types import DisinfectionMission, parse_mission
from missions.vda5050 import ActionStatus, Order, decode_order, encode
from robot_agent.actions import ActionContext
from robot_agent.executor import OrderExecutor
from robot_agent.orders import Decision
from sim.adapter import SimAdapter, SimSurroundings
from sim.kinematic import KinematicRobot


class SimRobot:
    """One simulated robot standing on the first node of a compiled mission."""

    def __init__(self, compiled: CompiledMission) -> None:
        start = compiled.nodes[0].node_position
        assert start is not None
        self.t = 0.0
        self.body = KinematicRobot(
            x=start.x,
            y=start.y,
            map_id=start.map_id,
            max_speed_m_s=1.0,
            accel_m_s2=2.0,
            lift_ride_s=4.0,
        )
        self.world = SimSurroundings()
        self.adapter = SimAdapter(self.body, self.world)
        self.ex = OrderExecutor(
            ActionContext(
                adapter=self.adapter, monotonic=lambda: self.t, uv_irradiance_at_1m_mw_cm2=2.67
            )
        )

    def send(self, order: Order) -> Decision | None:
        decision = self.ex.receive_order(decode_order(encode(order)))
        assert not self.ex.errors.order, self.ex.errors.order
        return decision

    def run_until_still(self, limit_s: float, dt: float = 0.1) -> None:
        """Run until the robot stands at its decision point with no action left to run."""
        for _ in range(round(limit_s / dt)):
            self.t += dt
            self.body.step(dt)
            self.ex.tick()
            if self.at_decision_point() and self.body.speed == 0:
                return
        raise AssertionError(f"still moving after {limit_s} s at {self.ex.book.last_node_id}")

    def at_decision_point(self) -> bool:
        book = self.ex.book
        pending = [
            r for r in self.ex.runs.values() if r.node_sequence_id is not None and not r.done
        ]
        released_left = [n for n in book.nodes if n.released]
        active_here = [r for r in pending if r.node_sequence_id == book.last_node_sequence_id]
        return not released_left and not active_here

    def statuses(self) -> dict[str, ActionStatus]:
        return {k: r.status for k, r in self.ex.runs.items()}


def test_cross_floor_guidance_held_at_the_meeting_point(clinic: Site, robot: RobotProfile) -> None:
    mission = parse_mission(
        {
            "kind": "guidance",
            "site": "clinic",
            "from": "L1_left_nurse_center",
            "to": "L2_north_counter",
            "language": "en",
            "max_speed_m_s": 0.8,
        }
    )
    compiled = compile_mission(
        mission, clinic, robot, start=StartPose(waypoint="L1_right_nurse_center"), order_id="g1"
    )
    meet = compiled.meeting_node_index
    assert meet is not None
    compiled = compiled.with_initial_release(meet)
    sim = SimRobot(compiled)
    assert sim.send(compiled.order()) is Decision.NEW
    sim.run_until_still(120)
    assert sim.ex.book.last_node_sequence_id == 2 * meet  # held at the meeting point
    wait_id = next(
        a.action_id for a in compiled.nodes[meet].actions if a.action_type == "guideWaitForPerson"
    )
    assert sim.statuses()[wait_id] is ActionStatus.FINISHED
    assert sim.send(compiled.order_update(1, None)) is Decision.UPDATE
    sim.run_until_still(300)
    target = compiled.nodes[-1].node_position
    assert target is not None and sim.body.map_id == "L2"
    assert math.hypot(sim.body.x - target.x, sim.body.y - target.y) <= 0.02
    assert not sim.ex.busy and not sim.ex.errors.all()
    assert set(sim.statuses().values()) == {ActionStatus.FINISHED}
    assert [text for _, text in sim.adapter.spoken] == [
        "Hello, I will show you the way.",
        "Please follow me.",
        "We have arrived. Take care.",
    ]
    assert sim.world.lift_requests == [("lift_1", "L1", "L2")]
    assert {"L1_right_inner", "L1_left_inner"} <= set(sim.world.door_requests)


def test_patrol_released_a_few_nodes_at_a_time(office: Site, robot: RobotProfile) -> None:
    mission = parse_mission(
        {
            "kind": "patrol",
            "site": "building",
            "checkpoints": ["patrol_A1", "patrol_C", "patrol_D2"],
            "rounds": 2,
            "dwell_s": 3,
            "checks": ["door_closed", {"temperature_below": 45}],
        }
    )
    compiled = compile_mission(
        mission, office, robot, start=StartPose(waypoint="patrol_B"), order_id="p1"
    ).with_initial_release(2)
    sim = SimRobot(compiled)
    sim.world.sensors = {"temperature_c": 21.0, "door_open": 0.0}
    sim.send(compiled.order())
    updates = 0
    while True:
        sim.run_until_still(120)
        assert sim.ex.book.last_node_sequence_id == 2 * (compiled.released_through or 0)
        if compiled.released_through == len(compiled.nodes) - 1:
            break
        release = min((compiled.released_through or 0) + 3, len(compiled.nodes) - 1)
        assert sim.send(compiled.next_order_update(release)) is Decision.UPDATE
        updates += 1
    assert updates >= 5
    checks = [r for r in sim.ex.runs.values() if r.action.action_type == "patrolCheck"]
    assert len(checks) == 6 and all(r.status is ActionStatus.FINISHED for r in checks)
    assert all(json.loads(r.result or "")["anomalies"] == [] for r in checks)
    assert not sim.ex.busy and not sim.ex.errors.all()


def test_uv_room_through_the_agent_passes_the_report(
    clinic_rooms: Site, robot: RobotProfile
) -> None:
    mission = parse_mission(
        {
            "kind": "disinfection",
            "site": "clinic",
            "method": "uv",
            "targets": [{"room": "treatment_1"}, {"x": 10.0, "y": -12.5, "level": "L1"}],
            "dwell_points_per_room": 3,
        }
    )
    assert isinstance(mission, DisinfectionMission)
    compiled = compile_mission(
        mission,
        clinic_rooms,
        robot,
        start=StartPose(waypoint="L1_left_nurse_center"),
        order_id="uv1",
    )
    sim = SimRobot(compiled)
    sim.send(compiled.order())
    sim.run_until_still(600)
    assert not sim.ex.busy and not sim.ex.errors.all()
    outcomes = [
        ActionOutcome.from_action_state(state.model_dump(by_alias=True))
        for state in sim.ex.action_states()
    ]
    report = build_disinfection_report(
        mission, compiled.planned_points, outcomes, compiled.room_plans
    )
    assert report.passed, report.to_json()
    assert [r.room for r in report.rooms] == ["treatment_1"]
    assert len(report.points) == len(compiled.dwell_points) >= 2


def test_spray_parameters_are_accepted_and_dispensed(clinic: Site, robot: RobotProfile) -> None:
    mission = parse_mission(
        {
            "kind": "disinfection",
            "site": "clinic",
            "method": "spray",
            "agent": "hypochlorous_acid",
            "rate_ml_per_m3": 2,
            "room_volume_m3": 30,
            "contact_time_s": 300,
            "re_entry_time_s": 600,
            "targets": [{"waypoint": "L1_left_treatment_1"}],
        }
    )
    compiled = compile_mission(
        mission, clinic, robot, start=StartPose(waypoint="L1_left_nurse_center"), order_id="s1"
    )
    sim = SimRobot(compiled)
    sim.send(compiled.order())
    sim.run_until_still(300)
    [run] = [r for r in sim.ex.runs.values() if r.action.action_type == "sprayDisinfect"]
    assert run.status is ActionStatus.FINISHED
    assert json.loads(run.result or "")["sprayedVolumeMl"] == 60.0

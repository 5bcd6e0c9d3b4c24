"""Faults: validation, seeded random plans, and their effect on the world and the hooks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError

from missions.sites import Site
from sim.faults import FaultInjector, FaultSpec, RandomFaults, fault_plan
from sim.kinematic import Goal
from sim.models import load_models
from sim.sitemaps import load_site, map_path
from sim.world import World


@pytest.fixture(scope="module")
def clinic() -> Site:
    return load_site(map_path("clinic"))


class Hooks:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str | float]] = []

    def crash_agent(self, robot: str) -> None:
        self.calls.append(("crash", robot))

    def restart_agent(self, robot: str) -> None:
        self.calls.append(("restart", robot))

    def cut_network(self, robot: str) -> None:
        self.calls.append(("cut", robot))

    def restore_network(self, robot: str) -> None:
        self.calls.append(("restore", robot))

    def restart_broker(self, downtime_s: float) -> None:
        self.calls.append(("broker", downtime_s))


def run(world: World, injector: FaultInjector, seconds: float, dt: float = 0.5) -> None:
    for _ in range(round(seconds / dt)):
        world.step(dt)
        injector.tick()


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"kind": "robot_stuck", "at_s": 1, "duration_s": 5}, "robot"),
        ({"kind": "network_cut", "at_s": 1, "robot": "a"}, "duration_s"),
        ({"kind": "patrol_anomaly", "at_s": 1, "duration_s": 5, "anomaly": "smoke"}, "waypoint"),
        ({"kind": "battery_fault", "at_s": 1, "robot": "a"}, "drop_to_pct"),
        ({"kind": "door_stuck", "at_s": 1, "duration_s": 5}, "door"),
        ({"kind": "earthquake", "at_s": 1}, "kind"),
        ({"kind": "robot_stuck", "at_s": -1, "robot": "a", "duration_s": 1}, "at_s"),
    ],
)
def test_fault_specs_name_the_missing_or_bad_field(fields: dict[str, object], named: str) -> None:
    with pytest.raises(ValidationError, match=named):
        FaultSpec.model_validate(fields)


def test_random_faults_are_seeded_and_arrive_at_their_rate() -> None:
    spec = RandomFaults(kind="network_cut", per_hour=2.0, duration_s=(10, 60))
    robots = [f"r{i}" for i in range(5)]
    plan = fault_plan([], [spec], seed=11, horizon_s=100 * 3600, robots=robots)
    again = fault_plan([], [spec], seed=11, horizon_s=100 * 3600, robots=robots)
    other = fault_plan([], [spec], seed=12, horizon_s=100 * 3600, robots=robots)
    assert plan == again and plan != other
    assert 150 <= len(plan) <= 250  # Poisson(200): more than 7 sigma either way is a bug
    assert all(10 <= (f.duration_s or 0) <= 60 and f.robot in robots for f in plan)
    assert [f.at_s for f in plan] == sorted(f.at_s for f in plan)


def test_stuck_robots_stall_or_fail_their_goal(clinic: Site) -> None:
    world = World(clinic)
    stall, fail = world.add_robot("stall", x=10, y=-20), world.add_robot("fail", x=10, y=-22)
    for robot in (stall, fail):
        robot.set_goal(Goal(robot.x + 10, robot.y, "L1", math.inf, 0.25))
    plan = [
        FaultSpec(kind="robot_stuck", at_s=1, duration_s=20, robot="stall"),
        FaultSpec(kind="robot_stuck", at_s=1, duration_s=20, robot="fail", mode="fail"),
    ]
    injector = FaultInjector(plan, world, None)
    run(world, injector, 1.5)
    x = stall.x
    run(world, injector, 15)
    assert stall.x == x and not stall.goal_failed
    assert fail.goal_failed
    run(world, injector, 30)
    assert stall.goal_reached


def test_battery_faults_drop_drain_and_block_charging(clinic: Site) -> None:
    world = World(clinic)
    robot = world.add_robot("p", model=load_models()["patrol"])
    robot.charging = True
    plan = [
        FaultSpec(kind="battery_fault", at_s=10, robot="p", drop_to_pct=30),
        FaultSpec(
            kind="battery_fault",
            at_s=20,
            duration_s=60,
            robot="p",
            no_charge=True,
            drain_factor=5.0,
        ),
    ]
    injector = FaultInjector(plan, world, None)
    run(world, injector, 10.5)
    assert robot.battery_pct == pytest.approx(30, abs=0.1)
    run(world, injector, 10)
    charged = robot.battery_pct
    assert charged > 30  # still charging until the charger fault at 20 s
    run(world, injector, 10)
    low = robot.battery_pct
    assert low < charged and world.r.drain_factor[robot.i] == 5.0  # charger refuses, drain x5
    run(world, injector, 50)  # the fault ends at 80 s
    assert world.r.drain_factor[robot.i] == 1.0 and not world.r.charge_blocked[robot.i]
    lowest = robot.battery_pct
    run(world, injector, 20)
    assert robot.battery_pct > lowest


def test_patrol_anomalies_show_in_nearby_sensors_only(clinic: Site) -> None:
    world = World(clinic)
    patrol = load_models()["patrol"]
    ward = next(wp for wp in clinic.all_waypoints() if wp.name == "L1_right_treatment")
    near = world.add_robot("near", model=patrol, x=ward.x + 1, y=ward.y, level="L1")
    far = world.add_robot("far", model=patrol, x=ward.x - 30, y=ward.y, level="L1")
    plan = [
        FaultSpec(
            kind="patrol_anomaly",
            at_s=5,
            duration_s=30,
            anomaly="smoke",
            waypoint="L1_right_treatment",
        ),
        FaultSpec(
            kind="patrol_anomaly",
            at_s=5,
            duration_s=30,
            anomaly="high_temperature",
            waypoint="L1_right_treatment",
            value=70,
        ),
        FaultSpec(
            kind="patrol_anomaly",
            at_s=5,
            duration_s=30,
            anomaly="intruder",
            waypoint="L1_right_treatment",
        ),
    ]
    injector = FaultInjector(plan, world, None)
    assert world.read_sensors(near.i)["smoke"] == 0
    run(world, injector, 6)
    reading = world.read_sensors(near.i)
    assert (reading["smoke"], reading["temperature_c"], reading["intruder"]) == (1.0, 70.0, 1.0)
    assert reading["person"] == 1 and world.people_near(near.i) == 1
    assert world.read_sensors(far.i)["smoke"] == 0
    run(world, injector, 40)
    assert world.read_sensors(near.i)["smoke"] == 0


def test_doors_and_lifts_fail_for_a_while(clinic: Site) -> None:
    world = World(clinic)
    robot = world.add_robot("p")
    plan = [
        FaultSpec(kind="door_stuck", at_s=0, duration_s=20, door="L1_clinic_a"),
        FaultSpec(kind="lift_out_of_service", at_s=0, duration_s=20, lift="lift_1"),
    ]
    injector = FaultInjector(plan, world, None)
    run(world, injector, 10)
    assert not world.request_door("L1_clinic_a")
    assert not world.request_lift(robot.i, "lift_1", "L1", "L2")
    run(world, injector, 15)
    world.request_door("L1_clinic_a")
    run(world, injector, 5)
    assert world.request_door("L1_clinic_a")
    assert world.request_lift(robot.i, "lift_1", "L1", "L2")


def test_process_faults_go_through_the_hooks_in_order(clinic: Site) -> None:
    world = World(clinic)
    world.add_robots(2, names=["a", "b"])
    hooks = Hooks()
    plan = [
        FaultSpec(kind="agent_crash", at_s=10, duration_s=30, robot="a"),
        FaultSpec(kind="network_cut", at_s=20, duration_s=5, robot="b"),
        FaultSpec(kind="broker_restart", at_s=50, duration_s=3),
    ]
    injector = FaultInjector(plan, world, hooks)
    run(world, injector, 60)
    assert hooks.calls == [
        ("crash", "a"),
        ("cut", "b"),
        ("restore", "b"),
        ("restart", "a"),
        ("broker", 3.0),
    ]
    assert [(e.kind, e.phase) for e in injector.events][:2] == [
        ("agent_crash", "start"),
        ("network_cut", "start"),
    ]


def test_injector_names_unknown_robots_doors_and_places(clinic: Site) -> None:
    world = World(clinic)
    world.add_robot("a")
    bad = [
        (FaultSpec(kind="robot_stuck", at_s=1, duration_s=1, robot="zz"), "robot"),
        (FaultSpec(kind="door_stuck", at_s=1, duration_s=1, door="zz"), "door"),
        (FaultSpec(kind="lift_out_of_service", at_s=1, duration_s=1, lift="zz"), "lift"),
        (
            FaultSpec(
                kind="patrol_anomaly",
                at_s=1,
                duration_s=1,
                anomaly="smoke",
                waypoint="L1_sub_waiting_area_4",
            ),
            "ambiguous",
        ),
        (FaultSpec(kind="network_cut", at_s=1, duration_s=1, robot="a"), "agents"),
    ]
    for fault, named in bad:
        with pytest.raises(ValueError, match=named):
            FaultInjector([fault], world, None)
    assert np.isinf(FaultSpec(kind="broker_restart", at_s=1).end_s)

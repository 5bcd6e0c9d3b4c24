"""Building a scenario's robot side, scaling robot counts, and robot-side KPIs."""

from __future__ import annotations

import math

import pytest

from sim.faults import PROCESS_FAULTS, FaultInjector
from sim.kinematic import Goal
from sim.runner import KpiAccumulator, RunOptions, build_run, scaled_counts
from sim.scenario import load_scenario
from sim.world import World


@pytest.mark.parametrize("name", ["hospital_day", "bank_hall", "plaza_patrol"])
def test_a_run_has_one_agent_per_robot_on_distinct_start_spots(name: str) -> None:
    scenario = load_scenario(name)
    run = build_run(scenario, RunOptions(broker_url="mqtt://127.0.0.1:1"))
    serials = [r.config.serial_number for r in run.robots]
    assert serials == scenario.robot_serials() == run.world.names
    spots = {(p.start.level, round(p.start.x, 2), round(p.start.y, 2)) for p in run.placed}
    assert len(spots) == len(serials)
    for robot, placed in zip(run.robots, run.placed, strict=True):
        model = scenario.models[placed.group.kind]
        assert robot.config.robot.capabilities == list(model.capabilities)
        assert robot.body.map_id == placed.start.level
    assert run.clock.wallclock().isoformat().startswith(scenario.file.start.date().isoformat())
    assert run.fleet.injector is not None
    assert {f.robot for f in run.faults if f.robot} <= set(serials)


def test_scaling_keeps_the_mix_and_replans_faults() -> None:
    scenario = load_scenario("hospital_day")
    assert scaled_counts(scenario.file.robots, None) == [2, 2, 1]
    assert scaled_counts(scenario.file.robots, 10) == [4, 4, 2]
    assert sum(scaled_counts(scenario.file.robots, 7)) == 7
    with pytest.raises(ValueError, match="robots"):
        scaled_counts(scenario.file.robots, 2)
    run = build_run(scenario, RunOptions(robots=3, seed=5))
    assert run.world.names == ["hospital-uvc-01", "hospital-guide-01", "hospital-patrol-01"]
    assert all(f.robot in (None, *run.world.names) for f in run.faults)
    again = build_run(scenario, RunOptions(robots=3, seed=5))
    assert run.faults == again.faults


def test_kpis_count_distance_energy_charging_and_utilisation() -> None:
    world = World()
    mover, idle, charger = (world.add_robot(n) for n in ("mover", "idle", "charger"))
    world.step(1.0)  # before the accumulator: not counted
    kpis = KpiAccumulator(world)
    mover.set_goal(Goal(10.0, 0.0, "L1", math.inf, 0.25))
    charger.charging = True
    world.r.battery_wh[charger.i] = 100.0
    for _ in range(300):
        world.step(0.1)
        kpis.sample()
    rows = {row["robot"]: row for row in kpis.per_robot()}
    assert rows["mover"]["distance_m"] == pytest.approx(mover.odometer_m, abs=1e-3)
    assert rows["mover"]["distance_m"] == pytest.approx(10.0, abs=0.05)
    assert rows["idle"]["distance_m"] == 0 and rows["idle"]["utilisation"] == 0
    assert 0.3 < rows["mover"]["utilisation"] < 0.7  # 10 m at 1 m/s with ramps, in 30 s
    assert rows["idle"]["energy_wh"] == pytest.approx(36.0 * 30 / 3600, abs=1e-3)
    assert rows["charger"]["charging_s"] == pytest.approx(30.0)
    world.r.working[idle.i] = True
    for _ in range(300):
        world.step(0.1)
    summary = kpis.summary()
    assert summary["sim_seconds"] == pytest.approx(60.0)
    assert summary["robots"][1]["utilisation"] == pytest.approx(0.5, abs=0.01)
    assert summary["fleet"]["robots"] == 3


def test_the_world_side_of_a_run_repeats_exactly_for_one_seed() -> None:
    scenario = load_scenario("hospital_day")

    def day(seed: int) -> tuple[object, ...]:
        run = build_run(scenario, RunOptions(robots=5, seed=seed, faults=False))
        world = run.world
        world.wander_on_graph(range(world.n), world.roamable_nodes()[: world.n])
        plan = [
            f
            for f in scenario.plan_faults(world.names, seed)
            if f.kind not in PROCESS_FAULTS and f.kind != "broker_restart"
        ]
        injector = FaultInjector(plan, world, None)
        world.visitor_following(1)
        for _ in range(3600):  # 06:00 to 08:00, the crowds arrive at 07:00
            world.step(2.0)
            injector.tick()
        crowd = world.crowd
        assert crowd is not None and crowd.head_count().sum() > 0
        return (
            world.r.x.tolist(),
            world.r.level.tolist(),
            world.r.battery_wh.tolist(),
            crowd.x[crowd.alive].tolist(),
            int(world.visitors.outcome[1]),
            [(e.t, e.kind, e.robot, e.phase) for e in injector.events],
        )

    first = day(3)
    assert day(3) == first
    assert day(4) != first

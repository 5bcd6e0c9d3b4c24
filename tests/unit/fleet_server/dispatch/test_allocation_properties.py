"""Properties of solve_allocation on random fleets and mission sets (hypothesis)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, given, settings

from fleet_server.dispatch import (
    Allocation,
    AllocationConfig,
    AllocationProblem,
    Priority,
    UnassignedReason,
    solve_allocation,
)
from fleet_server.dispatch.problem import compile_problem
from fleet_server.dispatch.queues import FleetTables
from tests.unit.fleet_server.dispatch.dispatch_support import FAST, check_plan, problems

PROPERTY_SETTINGS = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def _index(problem: AllocationProblem) -> tuple[dict[str, int], dict[str, int]]:
    robots = {r.id: i for i, r in enumerate(problem.robots)}
    tasks = {t.id: i for i, t in enumerate(problem.tasks)}
    return robots, tasks


def _assert_hard_constraints(problem: AllocationProblem, plan: Allocation) -> None:
    robots = {r.id: r for r in problem.robots}
    tasks = {t.id: t for t in problem.tasks}
    placed = [task_id for queue in plan.queues.values() for task_id in queue]
    assert len(placed) == len(set(placed)), "a task is in two places"
    assert set(placed) | set(plan.unassigned) == set(tasks)
    assert not set(placed) & set(plan.unassigned)
    assert set(plan.queues) == set(robots)
    checked = check_plan(problem, dict(plan.queues), FAST)
    for robot_id, queue in plan.queues.items():
        robot = robots[robot_id]
        for task_id in queue:
            assert tasks[task_id].capability in robot.capabilities
        assert checked.battery_ok[robot_id], f"{robot_id} runs flat: {queue}"
        kinds = [tasks[t].priority is Priority.EMERGENCY for t in queue]
        assert kinds == sorted(kinds, reverse=True), "an emergency waits behind other work"
    for task_id, planned in plan.planned.items():
        assert math.isclose(planned.finish_s, checked.finish[task_id], rel_tol=1e-9, abs_tol=1e-6)
        deadline = tasks[task_id].deadline_s
        expected_late = 0.0 if deadline is None else max(0.0, planned.finish_s - deadline)
        assert math.isclose(planned.lateness_s, expected_late, abs_tol=1e-6)
    assert math.isclose(plan.cost, checked.cost, rel_tol=1e-9, abs_tol=1e-6)


def _assert_reasons(problem: AllocationProblem, plan: Allocation, config: AllocationConfig) -> None:
    """Every left-out task has a true reason; none could be inserted into the final plan."""
    arrays = compile_problem(problem, config)
    robot_index, task_index = _index(problem)
    queues: list[list[int]] = [[] for _ in problem.robots]
    for robot_id, queue in plan.queues.items():
        queues[robot_index[robot_id]] = [task_index[t] for t in queue]
    tables = FleetTables(arrays, queues)
    for task_id, reason in plan.unassigned.items():
        task = problem.tasks[task_index[task_id]]
        capable = [r for r in problem.robots if task.capability in r.capabilities]
        if reason is UnassignedReason.NO_CAPABLE_ROBOT:
            assert not capable
            continue
        assert capable
        costs = tables.insertion_costs(np.array([task_index[task_id]]))
        assert np.isinf(costs).all(), f"{task_id} ({reason}) fits somewhere"
        alone = FleetTables(arrays).insertion_costs(np.array([task_index[task_id]]))
        reachable = [r for r in capable if math.isfinite(problem.travel_s[r.location, task.entry])]
        if reason is UnassignedReason.UNREACHABLE:
            assert not reachable
        elif reason is UnassignedReason.BATTERY:
            assert np.isinf(alone).all()
        else:
            assert reason is UnassignedReason.BATTERY_COMMITTED
            assert not np.isinf(alone).all()


@PROPERTY_SETTINGS
@given(problems())
def test_plans_keep_every_hard_constraint(problem: AllocationProblem) -> None:
    plan = solve_allocation(problem, FAST)
    _assert_hard_constraints(problem, plan)
    _assert_reasons(problem, plan, FAST)


@PROPERTY_SETTINGS
@given(problems(metric=True))
def test_no_idle_robot_could_finish_a_planned_task_sooner(problem: AllocationProblem) -> None:
    plan = solve_allocation(problem, FAST)
    idle = [r for r in problem.robots if not plan.queues[r.id]]
    tasks = {t.id: t for t in problem.tasks}
    for task_id, planned in plan.planned.items():
        task = tasks[task_id]
        for robot in idle:
            alone = solve_allocation(AllocationProblem([robot], [task], problem.travel_s), FAST)
            if task_id in alone.planned:
                assert alone.planned[task_id].finish_s >= planned.finish_s - 1e-6, (
                    f"idle {robot.id} would finish {task_id} sooner"
                )


@settings(max_examples=40, deadline=None)
@given(problems(), problems())
def test_same_seed_same_plan(problem: AllocationProblem, other: AllocationProblem) -> None:
    config = AllocationConfig(iterations=60, time_budget_s=None, seed=7)
    first = solve_allocation(problem, config)
    solve_allocation(other, config)  # nothing carries over between calls
    second = solve_allocation(problem, config)
    assert dict(first.queues) == dict(second.queues)
    assert first.cost == second.cost


@settings(max_examples=60, deadline=None)
@given(problems())
def test_every_construction_keeps_the_constraints(problem: AllocationProblem) -> None:
    for construction in ("regret", "cheapest", "rounds"):
        config = AllocationConfig(construction=construction, iterations=0, time_budget_s=None)
        plan = solve_allocation(problem, config)
        _assert_hard_constraints(problem, plan)

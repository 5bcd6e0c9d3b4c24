"""The exact solver against brute force, and the heuristic against the exact optimum."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings

from fleet_server.dispatch import AllocationConfig, AllocationProblem, Robot, Task, solve_allocation
from fleet_server.dispatch.exact import ExactTooLarge, solve_exact
from fleet_server.dispatch.instances import load_instance
from tests.unit.fleet_server.dispatch.dispatch_support import (
    FAST,
    MATRIX,
    SHARED,
    brute_force,
    check_plan,
    problems,
)

REFERENCE = json.loads((SHARED / "reference_results.json").read_text(encoding="utf-8"))
DEFAULT = AllocationConfig(time_budget_s=None)


@settings(max_examples=60, deadline=None)
@given(problems(max_robots=3, max_tasks=4))
def test_exact_matches_brute_force(problem: AllocationProblem) -> None:
    plan = solve_exact(problem, FAST)
    count, cost = brute_force(problem, FAST)
    assert len(plan.planned) == count
    assert math.isclose(plan.cost, cost, rel_tol=1e-9, abs_tol=1e-6)
    assert math.isclose(check_plan(problem, dict(plan.queues), FAST).cost, plan.cost, abs_tol=1e-6)


@settings(max_examples=60, deadline=None)
@given(problems(max_robots=4, max_tasks=6))
def test_heuristic_never_beats_the_optimum(problem: AllocationProblem) -> None:
    optimum = solve_exact(problem, FAST)
    plan = solve_allocation(problem, FAST)
    assert len(plan.planned) <= len(optimum.planned)
    if len(plan.planned) == len(optimum.planned):
        assert plan.cost >= optimum.cost - 1e-6 * max(1.0, optimum.cost)


@pytest.mark.parametrize("name", ["r2_t4", "r2_t8", "r3_t12"])
def test_shared_small_instances(name: str) -> None:
    problem = load_instance(SHARED / f"{name}.json", MATRIX)
    optimum = solve_exact(problem)
    # The exact optimum computed elsewhere for the same matrix (reference_results.json).
    assert optimum.cost == pytest.approx(REFERENCE[name]["exact_optimum_cost"], rel=1e-8)
    plan = solve_allocation(problem, DEFAULT)
    assert not plan.unassigned
    assert plan.cost <= 1.02 * optimum.cost


def test_exact_refuses_instances_beyond_its_limit() -> None:
    robots = [Robot("r0", 0, frozenset({"patrol"}))]
    tasks = [Task(f"t{i}", "patrol", i % 3, 10.0) for i in range(14)]
    problem = AllocationProblem(robots, tasks, [[0, 5, 9], [5, 0, 4], [9, 4, 0]])
    with pytest.raises(ExactTooLarge, match="14 tasks"):
        solve_exact(problem)


def test_exact_limit_is_lower_when_waits_meet_a_binding_battery() -> None:
    robots = [Robot("r0", 0, frozenset({"patrol"}), battery=0.5, drain_per_s=0.05)]
    tasks = [Task(f"t{i}", "patrol", 1, 1.0, earliest_start_s=100.0) for i in range(9)]
    problem = AllocationProblem(robots, tasks, [[0, 1], [1, 0]])
    with pytest.raises(ExactTooLarge, match="limit of 8"):
        solve_exact(problem)

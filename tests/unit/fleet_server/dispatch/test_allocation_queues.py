"""Queue simulation and the vectorised insertion prices."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleet_server.dispatch import AllocationConfig, AllocationProblem, Priority, Robot, Task
from fleet_server.dispatch.problem import compile_problem
from fleet_server.dispatch.queues import FleetTables, queue_feasible, simulate_queue
from fleet_server.dispatch.search import SearchStats, serve_from_idle_robots
from tests.unit.fleet_server.dispatch.dispatch_support import problems

CONFIG = AllocationConfig()
LINE = [[0.0, 10.0, 20.0], [10.0, 0.0, 10.0], [20.0, 10.0, 0.0]]
"""Three places on a line, 10 s apart."""


def test_simulation_waits_for_earliest_start_and_charges_lateness() -> None:
    robot = Robot("r", 0, frozenset({"patrol"}), battery=1.0, drain_per_s=0.01, reserve=0.2)
    first = Task("a", "patrol", 1, 5.0, exit=2, earliest_start_s=30.0)
    second = Task("b", "patrol", 0, 4.0, deadline_s=50.0, priority=Priority.HIGH)
    arrays = compile_problem(AllocationProblem([robot], [first, second], LINE), CONFIG)
    run = simulate_queue(arrays, 0, (0, 1))
    # a: arrive 10, wait to 30, done 35 at place 2; b: 20 s back to 0, done 59, 9 s late.
    assert run.start == (30.0, 55.0)
    assert run.finish == (35.0, 59.0)
    assert run.wait == (20.0, 0.0)
    assert run.cost == pytest.approx(1.0 * 35.0 + 4.0 * 59.0 + 100.0 * 4.0 * 9.0)
    # 80 s of driving and working allowed; a used 15 (+20 home), then b 24 more (+0 home).
    assert run.margin == pytest.approx((45.0, 41.0))
    assert queue_feasible(arrays, 0, run)


def test_battery_that_cannot_bring_the_robot_home_is_infeasible() -> None:
    robot = Robot("r", 0, frozenset({"patrol"}), battery=0.5, drain_per_s=0.01, reserve=0.2)
    far = Task("far", "patrol", 2, 5.0)
    arrays = compile_problem(AllocationProblem([robot], [far], LINE), CONFIG)
    # 30 s allowed; 20 there + 5 work + 20 back = 45.
    assert not queue_feasible(arrays, 0, simulate_queue(arrays, 0, (0,)))
    assert np.isinf(FleetTables(arrays).insertion_costs(np.array([0]))).all()


def test_emergency_goes_before_normal_work_only() -> None:
    robot = Robot("r", 0, frozenset({"patrol"}))
    normal = Task("n", "patrol", 1, 5.0)
    urgent = Task("e", "patrol", 2, 5.0, priority=Priority.EMERGENCY)
    arrays = compile_problem(AllocationProblem([robot], [normal, urgent], LINE), CONFIG)
    tables = FleetTables(arrays, [[0]])
    costs = tables.insertion_costs(np.array([1]))[0, 0]
    assert math.isfinite(costs[0]) and math.isinf(costs[1])
    assert not simulate_queue(arrays, 0, (0, 1)).order_ok


@st.composite
def _queued(draw: st.DrawFn) -> tuple[AllocationProblem, list[list[int]]]:
    problem = draw(problems(max_robots=3, max_tasks=7))
    owners = [draw(st.integers(-1, len(problem.robots) - 1)) for _ in range(len(problem.tasks))]
    queues: list[list[int]] = [[] for _ in problem.robots]
    for task, owner in enumerate(owners):
        if owner >= 0:
            queues[owner].append(task)
    for queue in queues:
        draw(st.randoms()).shuffle(queue)
    return problem, queues


@settings(max_examples=150, deadline=None)
@given(_queued())
def test_insertion_prices_equal_resimulation(
    case: tuple[AllocationProblem, list[list[int]]],
) -> None:
    problem, queues = case
    arrays = compile_problem(problem, CONFIG)
    tables = FleetTables(arrays, queues)
    free = [j for j in range(arrays.n_tasks) if tables.robot_of[j] < 0]
    if not free:
        return
    prices = tables.insertion_costs(np.array(free))
    for u, task in enumerate(free):
        for r, run in enumerate(tables.runs):
            if not queue_feasible(arrays, r, run):
                continue  # prices assume the queue itself is feasible
            for slot in range(prices.shape[2]):
                price = prices[u, r, slot]
                if slot > len(run.queue):
                    assert math.isinf(price)
                    continue
                queue = (*run.queue[:slot], task, *run.queue[slot:])
                new = simulate_queue(arrays, r, queue)
                if queue_feasible(arrays, r, new):
                    assert price == pytest.approx(new.cost - run.cost, rel=1e-9, abs=1e-6)
                else:
                    assert math.isinf(price), (r, queue)


def test_restoring_queues_in_any_order_keeps_owners() -> None:
    robots = [Robot(f"r{i}", i, frozenset({"patrol"})) for i in range(3)]
    tasks = [Task(f"t{i}", "patrol", i % 3, 1.0) for i in range(4)]
    arrays = compile_problem(AllocationProblem(robots, tasks, LINE), CONFIG)
    tables = FleetTables(arrays, [[0, 1], [2], [3]])
    before = tables.queues()
    tables.set_queue(0, (0,))
    tables.set_queue(1, (1, 2))
    tables.set_queue(2, ())
    for robot in (0, 1, 2):  # task 1 returns to robot 0 before robot 1 lets it go
        tables.set_queue(robot, before[robot])
    assert tables.robot_of.tolist() == [0, 0, 1, 2]


def test_idle_robot_takes_the_task_it_would_finish_sooner() -> None:
    robots = [Robot("busy", 0, frozenset({"patrol"})), Robot("idle", 2, frozenset({"patrol"}))]
    tasks = [Task("first", "patrol", 0, 30.0), Task("waiting", "patrol", 2, 5.0)]
    arrays = compile_problem(AllocationProblem(robots, tasks, LINE), CONFIG)
    tables = FleetTables(arrays, [[0, 1], []])
    stats = SearchStats()
    serve_from_idle_robots(tables, stats)
    assert tables.queues() == [(0,), (1,)]
    assert stats.fairness_moves == 1


def test_idle_robot_that_would_be_later_takes_nothing() -> None:
    robots = [
        Robot("busy", 0, frozenset({"patrol"})),
        Robot("late", 2, frozenset({"patrol"}), available_from_s=500.0),
    ]
    tasks = [Task("first", "patrol", 0, 30.0), Task("waiting", "patrol", 2, 5.0)]
    arrays = compile_problem(AllocationProblem(robots, tasks, LINE), CONFIG)
    tables = FleetTables(arrays, [[0, 1], []])
    serve_from_idle_robots(tables, SearchStats())
    assert tables.queues() == [(0, 1), ()]

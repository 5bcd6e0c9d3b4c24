"""Random fleets for the allocation tests, and an independent plain-Python plan checker."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from hypothesis import strategies as st

from fleet_server.dispatch import (
    AllocationConfig,
    AllocationProblem,
    Priority,
    Robot,
    Task,
)

ROOT = Path(__file__).resolve().parents[4]
SHARED = ROOT / "bench" / "data" / "allocation"
MATRIX = SHARED / "travel_matrix_grid10x10.json"
CAPABILITIES = ("patrol", "uv", "guide")
FAST = AllocationConfig(iterations=40, time_budget_s=None)
"""Deterministic (no wall-clock cap) and quick."""


@dataclass(frozen=True)
class Checked:
    """What an independent simulation of a plan says."""

    finish: dict[str, float]
    cost: float
    battery_ok: dict[str, bool]


def weight(task: Task, config: AllocationConfig) -> float:
    """The objective weight of a task, from the documented formula."""
    return config.priority_weights[task.priority] * (1.0 + task.waiting_s / config.aging_s)


def run_queue(
    problem: AllocationProblem,
    robot: Robot,
    tasks: Sequence[Task],
    config: AllocationConfig,
    tolerance_s: float = 1e-6,
) -> tuple[list[float], float, bool]:
    """Finish times, cost and battery verdict of one queue, straight from the definitions."""
    travel = problem.travel_s
    clock = robot.available_from_s
    here = robot.location
    # Seconds of driving and working the charge above the reserve allows.
    allowance = (
        (robot.battery - robot.reserve) / robot.drain_per_s if robot.drain_per_s else math.inf
    )
    finishes: list[float] = []
    cost = 0.0
    battery_ok = True
    for task in tasks:
        leg = float(travel[here, task.entry])
        start = max(clock + leg, task.earliest_start_s)
        finish = start + task.duration_s
        allowance -= leg + task.duration_s
        here = task.exit_location
        back = float(travel[here, robot.charger_location])
        if robot.drain_per_s and not allowance - back >= -tolerance_s:
            battery_ok = False
        late = 0.0 if task.deadline_s is None else max(0.0, finish - task.deadline_s)
        cost += weight(task, config) * (finish + config.lateness_weight * late)
        finishes.append(finish)
        clock = finish
    return finishes, cost, battery_ok


def check_plan(
    problem: AllocationProblem, queues: dict[str, tuple[str, ...]], config: AllocationConfig
) -> Checked:
    """Simulate every queue of a plan given by ids."""
    tasks = {t.id: t for t in problem.tasks}
    finish: dict[str, float] = {}
    battery: dict[str, bool] = {}
    total = 0.0
    for robot in problem.robots:
        queue = [tasks[i] for i in queues.get(robot.id, ())]
        times, cost, ok = run_queue(problem, robot, queue, config)
        finish.update({t.id: f for t, f in zip(queue, times, strict=True)})
        battery[robot.id] = ok
        total += cost
    return Checked(finish=finish, cost=total, battery_ok=battery)


def brute_force(problem: AllocationProblem, config: AllocationConfig) -> tuple[int, float]:
    """(most tasks assignable, least cost for that many) over every plan: tiny instances."""
    robots, tasks = problem.robots, problem.tasks
    best = (0, 0.0)
    for owners in itertools.product(range(len(robots) + 1), repeat=len(tasks)):
        groups = [
            [t for t, o in zip(tasks, owners, strict=True) if o == r] for r in range(len(robots))
        ]
        count = sum(len(g) for g in groups)
        if count < best[0]:
            continue
        total = 0.0
        for robot, group in zip(robots, groups, strict=True):
            cheapest = math.inf
            for order in itertools.permutations(group):
                if not _order_allowed(robot, order):
                    continue
                _, cost, ok = run_queue(problem, robot, order, config, tolerance_s=1e-9)
                if ok and math.isfinite(cost):
                    cheapest = min(cheapest, cost)
            total += cheapest
        if not math.isfinite(total):
            continue
        if count > best[0] or total < best[1]:
            best = (count, total)
    return best


def _order_allowed(robot: Robot, order: Sequence[Task]) -> bool:
    if any(t.capability not in robot.capabilities for t in order):
        return False
    seen_other = False
    for task in order:
        if task.priority is Priority.EMERGENCY and seen_other:
            return False
        seen_other = seen_other or task.priority is not Priority.EMERGENCY
    return True


@st.composite
def problems(
    draw: st.DrawFn,
    *,
    max_robots: int = 5,
    max_tasks: int = 8,
    metric: bool | None = None,
) -> AllocationProblem:
    """A random fleet and mission set.

    metric=True: travel times are Euclidean distances (triangle inequality holds) and a
    task lasts at least the trip from its entry to its exit; False: arbitrary travel
    times, some unreachable; None: either.
    """
    is_metric = draw(st.booleans()) if metric is None else metric
    size = draw(st.integers(2, 9))
    travel = _metric_matrix(draw, size) if is_metric else _arbitrary_matrix(draw, size)
    robots = [_robot(draw, f"r{i}", size) for i in range(draw(st.integers(1, max_robots)))]
    tasks = [
        _task(draw, f"t{i}", size, travel, is_metric)
        for i in range(draw(st.integers(0, max_tasks)))
    ]
    return AllocationProblem(robots, tasks, travel)


def _metric_matrix(draw: st.DrawFn, size: int) -> np.ndarray:
    coords = st.floats(0, 200, allow_nan=False)
    points = np.array([[draw(coords), draw(coords)] for _ in range(size)])
    return np.sqrt(((points[:, None, :] - points[None, :, :]) ** 2).sum(axis=-1))


def _arbitrary_matrix(draw: st.DrawFn, size: int) -> np.ndarray:
    entries = st.one_of(st.floats(1, 300, allow_nan=False), st.just(math.inf))
    matrix = np.array([[draw(entries) for _ in range(size)] for _ in range(size)])
    np.fill_diagonal(matrix, 0.0)
    return matrix


def _robot(draw: st.DrawFn, ident: str, size: int) -> Robot:
    location = draw(st.integers(0, size - 1))
    return Robot(
        id=ident,
        location=location,
        capabilities=frozenset(draw(st.sets(st.sampled_from(CAPABILITIES), max_size=3))),
        battery=draw(st.floats(0.05, 1.0)),
        drain_per_s=draw(st.sampled_from([0.0, 0.0005, 0.002])),
        reserve=draw(st.sampled_from([0.0, 0.1, 0.2])),
        available_from_s=draw(st.sampled_from([0.0, 0.0, 30.0, 120.0])),
        charger=draw(st.one_of(st.none(), st.integers(0, size - 1))),
    )


def _task(draw: st.DrawFn, ident: str, size: int, travel: np.ndarray, metric: bool) -> Task:
    entry = draw(st.integers(0, size - 1))
    exit_ = draw(st.integers(0, size - 1))
    base = float(travel[entry, exit_]) if metric else 0.0
    return Task(
        id=ident,
        capability=draw(st.sampled_from((*CAPABILITIES, "reception"))),
        entry=entry,
        exit=exit_,
        duration_s=base + draw(st.floats(0, 120)),
        priority=draw(st.sampled_from(list(Priority))),
        earliest_start_s=draw(st.sampled_from([0.0, 0.0, 50.0, 300.0])),
        deadline_s=draw(st.one_of(st.none(), st.floats(0, 800))),
        waiting_s=draw(st.sampled_from([0.0, 0.0, 600.0, 3600.0])),
    )

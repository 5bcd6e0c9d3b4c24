"""Allocation: give tasks to robots as ordered queues that minimise weighted finish times.

`solve_allocation` is the entry point. It builds queues in rounds of one task per robot,
each round an optimal assignment (scipy's linear_sum_assignment; chosen by measurement
over regret and cheapest insertion: see docs/benchmarks.md), improves them by relocation
and by annealed ruin-and-recreate within the configured iterations and time budget, then
applies the fairness rule and places any task that now fits.

Hard constraints: capability; battery (after every task the robot can still get back to
its charger with its reserve); an emergency never waits behind a non-emergency on the
same robot; each task at most once. Soft: deadlines (weighted lateness in the cost).
Fairness: no task is planned to finish later than an idle robot could finish it alone,
and task weights age with waiting time, so re-planning starves neither robots nor tasks.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

import numpy as np

from fleet_server.dispatch.construction import assign_rounds, insert_tasks
from fleet_server.dispatch.problem import (
    AllocationConfig,
    AllocationProblem,
    ProblemArrays,
    compile_problem,
)
from fleet_server.dispatch.queues import FleetTables, queue_feasible
from fleet_server.dispatch.search import (
    SearchLimits,
    SearchStats,
    relocate_pass,
    ruin_and_recreate,
    serve_from_idle_robots,
)

log = logging.getLogger(__name__)

_MAX_RELOCATE_PASSES = 20


class UnassignedReason(StrEnum):
    """Why a task is in no queue."""

    NO_CAPABLE_ROBOT = "no_capable_robot"
    """No robot has the task's capability."""
    UNREACHABLE = "unreachable"
    """No capable robot can reach the task's entry from where it starts (nor does it fit
    after any planned task)."""
    BATTERY = "battery"
    """No capable robot has the charge to do it alone and return to its charger (nor
    does it fit after any planned task)."""
    BATTERY_COMMITTED = "battery_committed"
    """Capable robots could do it alone, but not after their planned queues: the charge
    left, or no route from where those end (the name is kept for API clients)."""


@dataclass(frozen=True, slots=True)
class PlannedTask:
    """Where and when a task runs in the plan."""

    task_id: str
    robot_id: str
    position: int
    start_s: float
    finish_s: float
    lateness_s: float


@dataclass(frozen=True, slots=True)
class SolveStats:
    """How the plan was found."""

    method: str
    construction_s: float
    search_s: float
    iterations: int = 0
    accepted: int = 0
    relocations: int = 0
    fairness_moves: int = 0
    stopped_by: str = "iterations"


@dataclass(frozen=True)
class Allocation:
    """A plan: per-robot ordered queues, its cost, each task's times, what is left out."""

    queues: Mapping[str, tuple[str, ...]]
    """Every robot id (also those with nothing to do) to its task ids in order."""
    cost: float
    planned: Mapping[str, PlannedTask]
    unassigned: Mapping[str, UnassignedReason]
    stats: SolveStats

    @property
    def finish_s(self) -> dict[str, float]:
        """Task id to planned finish time."""
        return {task_id: p.finish_s for task_id, p in self.planned.items()}

    @property
    def lateness_s(self) -> dict[str, float]:
        """Task id to seconds past its deadline (0 when on time or without deadline)."""
        return {task_id: p.lateness_s for task_id, p in self.planned.items()}


def solve_allocation(
    problem: AllocationProblem, config: AllocationConfig | None = None
) -> Allocation:
    """Plan queues for every robot; deterministic for `config.seed` (see AllocationConfig)."""
    config = config or AllocationConfig()
    began = time.monotonic()
    deadline = None if config.time_budget_s is None else began + config.time_budget_s
    arrays = compile_problem(problem, config)
    rng = random.Random(config.seed)  # noqa: S311 (search randomness, not security)
    tables = FleetTables(arrays)
    # A task no robot can do alone may still fit after another (travel times need not
    # obey the triangle inequality), so everything some robot is capable of is tried.
    candidates = [j for j in range(arrays.n_tasks) if arrays.capable[:, j].any()]
    if config.construction == "rounds":
        unassigned = assign_rounds(tables, candidates)
    else:
        unassigned = insert_tasks(tables, candidates, regret=config.construction == "regret")
    built = time.monotonic()
    limits = SearchLimits(config.iterations, deadline)
    stats = SearchStats()
    for _ in range(_MAX_RELOCATE_PASSES):
        if limits.expired() or not relocate_pass(tables, limits, stats):
            break
    unassigned = ruin_and_recreate(tables, unassigned, limits, rng, stats)
    for _ in range(_MAX_RELOCATE_PASSES):
        if limits.expired() or not relocate_pass(tables, limits, stats):
            break
    unassigned = _settle(tables, unassigned, stats)
    if limits.expired():
        stats.stopped_by = "time"
    log.debug(
        "allocation: %s robots, %s tasks, cost %.1f, %s unassigned, %s iterations",
        arrays.n_robots,
        arrays.n_tasks,
        tables.total_cost,
        len(unassigned),
        stats.iterations,
    )
    return build_allocation(
        arrays,
        tables.queues(),
        SolveStats(
            method=config.construction,
            construction_s=built - began,
            search_s=time.monotonic() - built,
            iterations=stats.iterations,
            accepted=stats.accepted,
            relocations=stats.relocations,
            fairness_moves=stats.fairness_moves,
            stopped_by=stats.stopped_by,
        ),
    )


def _settle(tables: FleetTables, unassigned: list[int], stats: SearchStats) -> list[int]:
    """Apply the idle-robot rule and place what now fits, until neither changes anything."""
    for _ in range(tables.arrays.n_tasks + 1):
        moves = stats.fairness_moves
        serve_from_idle_robots(tables, stats)
        before = len(unassigned)
        unassigned = insert_tasks(tables, unassigned) if unassigned else []
        if stats.fairness_moves == moves and len(unassigned) == before:
            break
    return unassigned


def build_allocation(
    arrays: ProblemArrays, queues: Sequence[Sequence[int]], stats: SolveStats
) -> Allocation:
    """The plan for queues of task indices (one per robot, in robot order); checks them."""
    problem = arrays.problem
    tables = FleetTables(arrays, [list(q) for q in queues])
    seen: set[int] = set()
    planned: dict[str, PlannedTask] = {}
    for r, run in enumerate(tables.runs):
        if not queue_feasible(arrays, r, run):
            raise ValueError(f"queue of robot {problem.robots[r].id!r} breaks a constraint")
        for position, j in enumerate(run.queue):
            if j in seen:
                raise ValueError(f"task {problem.tasks[j].id!r} is in two queues")
            seen.add(j)
            task_id = problem.tasks[j].id
            planned[task_id] = PlannedTask(
                task_id=task_id,
                robot_id=problem.robots[r].id,
                position=position,
                start_s=run.start[position],
                finish_s=run.finish[position],
                lateness_s=max(0.0, run.finish[position] - float(arrays.deadline[j])),
            )
    unassigned = {
        problem.tasks[j].id: unassigned_reason(arrays, j)
        for j in range(arrays.n_tasks)
        if j not in seen
    }
    return Allocation(
        queues=MappingProxyType(
            {
                problem.robots[r].id: tuple(problem.tasks[j].id for j in run.queue)
                for r, run in enumerate(tables.runs)
            }
        ),
        cost=tables.total_cost,
        planned=MappingProxyType(planned),
        unassigned=MappingProxyType(unassigned),
        stats=stats,
    )


def unassigned_reason(arrays: ProblemArrays, task: int) -> UnassignedReason:
    """Why `task` could be left out of every queue."""
    capable = arrays.capable[:, task]
    if not capable.any():
        return UnassignedReason.NO_CAPABLE_ROBOT
    if not np.isfinite(arrays.solo_finish[capable, task]).any():
        return UnassignedReason.UNREACHABLE
    if not arrays.solo_ok[:, task].any():
        return UnassignedReason.BATTERY
    return UnassignedReason.BATTERY_COMMITTED

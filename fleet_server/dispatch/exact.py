"""Exact allocation for small instances: the benchmark's and the tests' yardstick.

Two dynamic programmes. Per robot, every feasible queue is grown task by task (vectorised
over all partial queues), and the cheapest queue for each *set* of tasks is kept:
``best[r][S]``. Across robots, ``F_r[S] = min over U ⊆ S of F_{r-1}[S \\ U] + best[r][U]``
(sub-set convolution, 3^n). The plan assigns as many tasks as possible, then costs least.

Partial queues with the same task set and last task are pruned when another one finished
no later and cost no more: the rest of the queue can only cost more when it starts later.
That is exact when the finish time also fixes the battery used, i.e. when no task can make
the robot wait (every earliest start ≤ the robot's available time) or the battery cannot
bind; otherwise queues are enumerated in full, which is why those instances are limited to
`MAX_TASKS_ENUMERATED` tasks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from fleet_server.dispatch.allocation import Allocation, SolveStats, build_allocation
from fleet_server.dispatch.problem import (
    AllocationConfig,
    AllocationProblem,
    BoolArray,
    FloatArray,
    IntArray,
    ProblemArrays,
    compile_problem,
)
from fleet_server.dispatch.queues import BATTERY_TOLERANCE_S

MAX_TASKS_ENUMERATED = 8
MAX_TASKS_PRUNED = 13
_CODE_BITS = 4


class ExactTooLarge(ValueError):
    """The instance is beyond what the exact solver does in seconds."""


@dataclass
class _Labels:
    """Partial queues of one robot: task set, last task, finish, cost, active time, order."""

    mask: IntArray
    last: IntArray
    time: FloatArray
    cost: FloatArray
    active: FloatArray
    code: IntArray

    def take(self, keep: IntArray | BoolArray) -> _Labels:
        return _Labels(
            self.mask[keep],
            self.last[keep],
            self.time[keep],
            self.cost[keep],
            self.active[keep],
            self.code[keep],
        )


def solve_exact(problem: AllocationProblem, config: AllocationConfig | None = None) -> Allocation:
    """The optimal plan (most tasks assigned, then least cost); raises ExactTooLarge."""
    config = config or AllocationConfig()
    began = time.monotonic()
    arrays = compile_problem(problem, config)
    n = arrays.n_tasks
    prunable = [_can_prune(arrays, r) for r in range(arrays.n_robots)]
    limit = MAX_TASKS_PRUNED if all(prunable) else MAX_TASKS_ENUMERATED
    if n > limit:
        raise ExactTooLarge(
            f"tasks: {n} tasks is more than the exact solver's limit of {limit} for this "
            "instance (waits combined with a binding battery need full enumeration)"
        )
    best = [_robot_best(arrays, r, prunable[r]) for r in range(arrays.n_robots)]
    queues = _combine(arrays, best)
    return build_allocation(
        arrays,
        queues,
        SolveStats(method="exact", construction_s=0.0, search_s=time.monotonic() - began),
    )


def _can_prune(arrays: ProblemArrays, r: int) -> bool:
    tasks = np.flatnonzero(arrays.capable[r])
    if len(tasks) == 0:
        return True
    no_waits = bool((arrays.earliest[tasks] <= arrays.robot_available[r]).all())
    # The most one queue of all these tasks could use: every leg at its longest.
    legs = np.concatenate(([arrays.robot_location[r]], arrays.exit[tasks]))
    longest = arrays.travel[legs[:, None], arrays.entry[tasks][None, :]].max(axis=0)
    worst = float((longest + arrays.duration[tasks]).sum() + arrays.return_s[r, tasks].max())
    return no_waits or worst <= float(arrays.robot_budget_s[r])


def _robot_best(arrays: ProblemArrays, r: int, prune: bool) -> tuple[FloatArray, IntArray]:
    """Cheapest feasible queue cost and order code for every task set, for robot r."""
    n = arrays.n_tasks
    size = 1 << n
    best_cost = np.full(size, np.inf)
    best_code = np.zeros(size, dtype=np.int64)
    best_cost[0] = 0.0
    bit = np.int64(1) << np.arange(n, dtype=np.int64)
    normal_mask = int(bit[~arrays.emergency].sum()) if n else 0
    labels = _Labels(
        mask=np.zeros(1, dtype=np.int64),
        last=np.full(1, -1, dtype=np.int64),
        time=np.array([arrays.robot_available[r]]),
        cost=np.zeros(1),
        active=np.zeros(1),
        code=np.zeros(1, dtype=np.int64),
    )
    for level in range(n):
        grown = [_extend(arrays, r, labels, j, level, bit, normal_mask) for j in range(n)]
        labels = _Labels(*(np.concatenate([getattr(g, f) for g in grown]) for f in _FIELDS))
        if len(labels.mask) == 0:
            break
        if prune:
            labels = _prune(labels)
        _record(labels, best_cost, best_code)
    return best_cost, best_code


_FIELDS = ("mask", "last", "time", "cost", "active", "code")


def _extend(
    arrays: ProblemArrays,
    r: int,
    labels: _Labels,
    j: int,
    level: int,
    bit: IntArray,
    normal_mask: int,
) -> _Labels:
    ok = (labels.mask & bit[j]) == 0
    if not arrays.capable[r, j]:
        ok &= False
    if arrays.emergency[j]:
        ok &= (labels.mask & normal_mask) == 0
    src = labels.take(ok)
    where = np.where(src.last >= 0, arrays.exit[np.maximum(src.last, 0)], arrays.robot_location[r])
    leg = arrays.travel[where, arrays.entry[j]]
    finish = np.maximum(src.time + leg, arrays.earliest[j]) + arrays.duration[j]
    active = src.active + leg + arrays.duration[j]
    with np.errstate(invalid="ignore"):
        late = np.maximum(0.0, finish - arrays.deadline[j])
        cost = src.cost + arrays.weight[j] * finish + arrays.lateness_weight[j] * late
        fits = active + arrays.return_s[r, j] <= arrays.robot_budget_s[r] + BATTERY_TOLERANCE_S
    fits &= np.isfinite(cost)
    return _Labels(
        mask=(src.mask | bit[j])[fits],
        last=np.full(int(fits.sum()), j, dtype=np.int64),
        time=finish[fits],
        cost=cost[fits],
        active=active[fits],
        code=(src.code | (np.int64(j + 1) << np.int64(_CODE_BITS * level)))[fits],
    )


def _prune(labels: _Labels) -> _Labels:
    """Drop partial queues another one with the same (set, last) dominates in time and cost."""
    group = labels.mask * 64 + labels.last
    order = np.lexsort((labels.cost, labels.time, group))
    sorted_group = group[order]
    cost = labels.cost[order]
    running = cost.copy()
    step = 1
    # Segmented running minimum (Hillis-Steele doubling) within each group.
    while step < len(running):
        same = np.zeros(len(running), dtype=np.bool_)
        same[step:] = sorted_group[step:] == sorted_group[:-step]
        shifted = np.full(len(running), np.inf)
        shifted[step:] = running[:-step]
        running = np.where(same, np.minimum(running, shifted), running)
        step *= 2
    first = np.ones(len(cost), dtype=np.bool_)
    first[1:] = sorted_group[1:] != sorted_group[:-1]
    before = np.full(len(cost), np.inf)
    before[1:] = running[:-1]
    keep = first | (cost < before)
    return labels.take(order[keep])


def _record(labels: _Labels, best_cost: FloatArray, best_code: IntArray) -> None:
    order = np.lexsort((labels.cost, labels.mask))
    masks = labels.mask[order]
    first = np.ones(len(masks), dtype=np.bool_)
    first[1:] = masks[1:] != masks[:-1]
    chosen = order[first]
    best_cost[labels.mask[chosen]] = labels.cost[chosen]
    best_code[labels.mask[chosen]] = labels.code[chosen]


def _combine(arrays: ProblemArrays, best: list[tuple[FloatArray, IntArray]]) -> list[list[int]]:
    n = arrays.n_tasks
    size = 1 << n
    every = np.arange(size, dtype=np.int64)
    total = np.full(size, np.inf)
    total[0] = 0.0
    choices: list[IntArray] = []
    for cost, _code in best:
        new = total.copy()
        choice = np.zeros(size, dtype=np.int64)
        for subset in np.flatnonzero(np.isfinite(cost))[1:]:
            rest = every[(every & subset) == 0]
            candidate = total[rest] + cost[subset]
            target = rest | subset
            better = candidate < new[target]
            new[target[better]] = candidate[better]
            choice[target[better]] = subset
        total = new
        choices.append(choice)
    reachable = np.flatnonzero(np.isfinite(total))
    counts = np.array([bin(int(m)).count("1") for m in reachable])
    top = reachable[counts == counts.max()]
    mask = int(top[np.argmin(total[top])])
    queues: list[list[int]] = [[] for _ in best]
    for r in range(len(best) - 1, -1, -1):
        subset = int(choices[r][mask])
        if subset:
            queues[r] = _decode(int(best[r][1][subset]))
            mask ^= subset
    return queues


def _decode(code: int) -> list[int]:
    queue = []
    while code:
        queue.append((code & ((1 << _CODE_BITS) - 1)) - 1)
        code >>= _CODE_BITS
    return queue

"""First plans: one-task-per-robot assignment rounds, and regret / cheapest insertion.

Emergencies are placed before anything else so that each gets the robot that serves it
soonest; queues keep them in front (`FleetTables.insertion_costs` forbids the rest).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from fleet_server.dispatch.problem import FloatArray, IntArray
from fleet_server.dispatch.queues import INFEASIBLE, FleetTables

_ONLY_OPTION = 1e30
"""Regret given to a task that only one robot can take: place it before it loses that one."""
_NO_MATCH = 1e18


def _phases(tables: FleetTables, tasks: list[int]) -> list[IntArray]:
    emergency = tables.arrays.emergency
    first = [j for j in tasks if emergency[j]]
    rest = [j for j in tasks if not emergency[j]]
    return [np.array(p, dtype=np.int64) for p in (first, rest) if p]


def insert_tasks(tables: FleetTables, tasks: list[int], *, regret: bool = True) -> list[int]:
    """Insert `tasks` into the queues, best position each; return those that fit nowhere.

    Regret-2: each step places the task whose best robot beats its second best by the
    most (a task with one feasible robot goes first), at its cheapest position. Without
    regret, the cheapest insertion over all tasks goes first.
    """
    left: list[int] = []
    for phase in _phases(tables, tasks):
        left.extend(_insert_phase(tables, phase, regret))
    return left


def _insert_phase(tables: FleetTables, pending: IntArray, regret: bool) -> list[int]:
    costs = tables.insertion_costs(pending)
    best = costs.min(axis=2)
    slot = costs.argmin(axis=2)
    alive = np.ones(len(pending), dtype=np.bool_)
    while alive.any():
        score = _scores(best, regret)
        score[~alive] = -np.inf
        u = int(np.argmax(score))
        if score[u] == -np.inf:
            break
        r = int(np.argmin(best[u]))
        p = int(slot[u, r])
        queue = tables.runs[r].queue
        tables.set_queue(r, (*queue[:p], int(pending[u]), *queue[p:]))
        alive[u] = False
        best[u] = INFEASIBLE
        rest = np.flatnonzero(alive)
        if len(rest):
            column = tables.insertion_costs(pending[rest], np.array([r]))[:, 0, :]
            best[rest, r] = column.min(axis=1)
            slot[rest, r] = column.argmin(axis=1)
    return [int(j) for j in pending[alive]]


def _scores(best: FloatArray, regret: bool) -> FloatArray:
    first = best.min(axis=1)
    if not regret or best.shape[1] < 2:
        score = -first
    else:
        second = np.partition(best, 1, axis=1)[:, 1]
        with np.errstate(invalid="ignore"):
            score = np.where(np.isinf(second), _ONLY_OPTION, second - first)
    score = np.where(np.isinf(first), -np.inf, score)
    return np.asarray(score, dtype=np.float64)


def assign_rounds(tables: FleetTables, tasks: list[int]) -> list[int]:
    """Rounds of at most one new task per robot, each an optimal assignment; return leftovers.

    Each round appends one waiting task to each robot's queue, chosen by scipy's
    linear_sum_assignment over robots x waiting tasks to minimise the round's total
    weight x (finish - the round's latest finish).
    """
    left: list[int] = []
    for phase in _phases(tables, tasks):
        pending = phase
        while len(pending):
            append = tables.append_costs(pending).T
            finite = np.isfinite(append)
            if not finite.any():
                break
            # Serving a task now rather than in a later round saves its weight times the
            # wait; measured against a common horizon (the round's latest finish), the
            # round then favours heavy tasks instead of cheap light ones.
            weight = tables.arrays.weight[pending][None, :]
            horizon = float((append[finite] / np.broadcast_to(weight, append.shape)[finite]).max())
            value = append - weight * horizon
            rows, cols = linear_sum_assignment(np.where(finite, value, _NO_MATCH))
            placed = np.zeros(len(pending), dtype=np.bool_)
            for r, u in zip(rows, cols, strict=True):
                if finite[r, u]:
                    tables.set_queue(int(r), (*tables.runs[r].queue, int(pending[u])))
                    placed[u] = True
            pending = pending[~placed]
        left.extend(int(j) for j in pending)
    return left

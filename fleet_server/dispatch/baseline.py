"""FIFO-nearest-robot: the baseline the benchmark measures the allocator against.

Missions are taken in arrival order (emergencies first, then the rest, as the simple
runtime allocator sorts them), and each is appended to the queue of the capable robot
with the battery for it that would finish it soonest given what it already has queued.
"""

from __future__ import annotations

import time

import numpy as np

from fleet_server.dispatch.allocation import Allocation, SolveStats, build_allocation
from fleet_server.dispatch.problem import AllocationConfig, AllocationProblem, compile_problem
from fleet_server.dispatch.queues import BATTERY_TOLERANCE_S


def fifo_nearest(problem: AllocationProblem, config: AllocationConfig | None = None) -> Allocation:
    """Append each task, in arrival order, to the robot that would finish it first."""
    began = time.monotonic()
    arrays = compile_problem(problem, config or AllocationConfig())
    end_time = arrays.robot_available.copy()
    end_location = arrays.robot_location.copy()
    used = np.zeros(arrays.n_robots)
    queues: list[list[int]] = [[] for _ in range(arrays.n_robots)]
    order = sorted(range(arrays.n_tasks), key=lambda j: (not arrays.emergency[j], j))
    for j in order:
        leg = arrays.travel[end_location, arrays.entry[j]]
        finish = np.maximum(end_time + leg, arrays.earliest[j]) + arrays.duration[j]
        work = used + leg + arrays.duration[j]
        with np.errstate(invalid="ignore"):
            fits = work + arrays.return_s[:, j] <= arrays.robot_budget_s + BATTERY_TOLERANCE_S
        fits &= arrays.capable[:, j] & np.isfinite(finish)
        if not fits.any():
            continue
        r = int(np.argmin(np.where(fits, finish, np.inf)))
        queues[r].append(j)
        end_time[r], end_location[r], used[r] = finish[r], arrays.exit[j], work[r]
    return build_allocation(
        arrays,
        queues,
        SolveStats(method="fifo_nearest", construction_s=time.monotonic() - began, search_s=0.0),
    )

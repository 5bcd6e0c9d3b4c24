"""Robot queues: exact simulation, and vectorised insertion costs over every robot/position.

A queue runs in order from the robot's available time and location. For task k at
arrival time ``arr_k``: ``start_k = max(arr_k, earliest_k)``, ``finish_k = start_k +
duration_k``. Inserting a task before position p shifts the arrival of the task that was
at p by Δ; each later task then shifts by ``σ_k = max(σ_{k-1} - wait_k, -early_k)``,
where ``wait_k`` is its idle time before its earliest start and ``early_k = start_k -
earliest_k`` how much earlier it could start. Unrolled,
``σ_k = max(Δ - A[p, k], B[p, k])`` with ``A[p, k] = Σ_{i=p..k} wait_i`` and
``B[p, k] = max_{i=p..k}(-early_i - Σ_{l=i+1..k} wait_l)``; both are tabulated per robot
once per change, so the exact cost of inserting any task anywhere is a few array
operations over (tasks × robots × positions × successors). When no queue involved waits
or has deadlines and every Δ ≥ 0 (travel times obeying the triangle inequality), σ_k = Δ
and the successors' cost is simply Δ times their summed weight.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fleet_server.dispatch.problem import BoolArray, FloatArray, IntArray, ProblemArrays

INFEASIBLE = math.inf
BATTERY_TOLERANCE_S = 1e-9


@dataclass(frozen=True, slots=True)
class QueueRun:
    """One robot's queue simulated: per-task times, cost and battery margins."""

    queue: tuple[int, ...]
    start: tuple[float, ...]
    finish: tuple[float, ...]
    wait: tuple[float, ...]
    early: tuple[float, ...]
    active: tuple[float, ...]
    """Seconds of travel + service up to the end of each task."""
    margin: tuple[float, ...]
    """Battery seconds left after each task and the trip back to the charger."""
    legs: tuple[float, ...]
    """Travel time into each task from where the robot was."""
    cost: float
    battery_ok: bool
    order_ok: bool
    """Emergencies come first in the queue."""


def simulate_queue(arrays: ProblemArrays, robot: int, queue: tuple[int, ...]) -> QueueRun:
    """Run `queue` on `robot` from its available time and location."""
    values = arrays.task_values
    time = float(arrays.robot_available[robot])
    budget = float(arrays.robot_budget_s[robot])
    if queue:
        index = np.array(queue, dtype=np.int64)
        sources = np.concatenate(([arrays.robot_location[robot]], arrays.exit[index[:-1]]))
        legs: list[float] = arrays.travel[sources, arrays.entry[index]].tolist()
        back: list[float] = arrays.return_s[robot, index].tolist()
    else:
        legs, back = [], []
    active = 0.0
    cost = 0.0
    seen_normal = False
    order_ok = True
    start_l, finish_l, wait_l, early_l, active_l, margin_l = [], [], [], [], [], []
    for k, j in enumerate(queue):
        arrive = time + legs[k]
        earliest = values.earliest[j]
        start = arrive if arrive >= earliest else earliest
        finish = start + values.duration[j]
        active += legs[k] + values.duration[j]
        late = finish - values.deadline[j]
        cost += values.weight[j] * finish
        if late > 0:
            cost += values.lateness_weight[j] * late
        if values.emergency[j]:
            order_ok = order_ok and not seen_normal
        else:
            seen_normal = True
        start_l.append(start)
        finish_l.append(finish)
        wait_l.append(start - arrive)
        early_l.append(start - earliest)
        active_l.append(active)
        margin_l.append(math.inf if budget == math.inf else budget - active - back[k])
        time = finish
    return QueueRun(
        queue=tuple(queue),
        start=tuple(start_l),
        finish=tuple(finish_l),
        wait=tuple(wait_l),
        early=tuple(early_l),
        active=tuple(active_l),
        margin=tuple(margin_l),
        legs=tuple(legs),
        cost=cost if math.isfinite(cost) else INFEASIBLE,
        battery_ok=all(m >= -BATTERY_TOLERANCE_S for m in margin_l),
        order_ok=order_ok,
    )


def queue_feasible(arrays: ProblemArrays, robot: int, run: QueueRun) -> bool:
    """Capable of every task, battery suffices, emergencies first, every leg reachable."""
    capable = bool(arrays.capable[robot, list(run.queue)].all()) if run.queue else True
    return capable and run.battery_ok and run.order_ok and run.cost < INFEASIBLE


# Rows of the packed per-position tables.
_TIME, _ACTIVE, _OLD_ARRIVAL, _OLD_LEG, _MIN_MARGIN, _SUFFIX_WEIGHT = range(6)
_LOCATION, _NEXT_ENTRY = range(2)
_VALID, _HAS_NEXT = range(2)
_WEIGHT, _LATENESS_WEIGHT, _FINISH, _DEADLINE = range(4)
_CACHE_LIMIT = 10_000
"""Queues remembered (a few kB each); the cache starts afresh when full."""


@dataclass(frozen=True, slots=True)
class _RowPack:
    """One robot's position tables for a queue, padded to `slots`."""

    slots: int
    floats: FloatArray
    ints: IntArray
    flags: BoolArray
    succ: FloatArray
    shifts: FloatArray
    """A and B of the module docstring, unpadded (2, n, n)."""
    n_emergency: int
    simple: bool


class FleetTables:
    """Every robot's queue with the position tables that price insertions.

    Tables are padded to `slots` positions (queue length + 1 ≤ slots) and grow on demand.
    Rows change only through `set_queue`. Search revisits queues often (a rejected move
    restores the previous ones), so simulations and tables are cached by queue.
    """

    def __init__(self, arrays: ProblemArrays, queues: list[list[int]] | None = None) -> None:
        self.arrays = arrays
        n_robots = arrays.n_robots
        self.runs: list[QueueRun] = [simulate_queue(arrays, r, ()) for r in range(n_robots)]
        self.robot_of = np.full(arrays.n_tasks, -1, dtype=np.int64)
        self._cache: dict[tuple[int, tuple[int, ...]], tuple[QueueRun, _RowPack | None]] = {}
        self._allocate(4)
        if queues is not None:
            for r, queue in enumerate(queues):
                if queue:
                    self.set_queue(r, tuple(queue))

    # -- state -------------------------------------------------------------------------

    @property
    def total_cost(self) -> float:
        """Objective of the whole plan."""
        return math.fsum(run.cost for run in self.runs)

    def queues(self) -> list[tuple[int, ...]]:
        """Every robot's queue."""
        return [run.queue for run in self.runs]

    def set_queue(self, robot: int, queue: tuple[int, ...], run: QueueRun | None = None) -> None:
        """Replace a robot's queue (tasks it held and no longer holds become unassigned).

        `run` may pass the queue's simulation when the caller already has it.
        """
        for j in self.runs[robot].queue:
            # Restoring several queues may hand a task back before its holder lets go.
            if self.robot_of[j] == robot:
                self.robot_of[j] = -1
        self.runs[robot] = run if run is not None else self.simulate(robot, queue)
        for j in queue:
            self.robot_of[j] = robot
        if len(queue) + 1 > self.slots:
            self._allocate(max(2 * self.slots, len(queue) + 1))
        else:
            self._fill_row(robot)

    def simulate(self, robot: int, queue: tuple[int, ...]) -> QueueRun:
        """`simulate_queue`, remembered: search keeps coming back to the same queues."""
        key = (robot, queue)
        cached = self._cache.get(key)
        if cached is None:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            cached = (simulate_queue(self.arrays, robot, queue), None)
            self._cache[key] = cached
        return cached[0]

    # -- tables ------------------------------------------------------------------------

    def _allocate(self, slots: int) -> None:
        n_robots = self.arrays.n_robots
        succ = slots - 1
        self.slots = slots
        self.pos_floats = np.zeros((n_robots, 6, slots))
        self.pos_ints = np.zeros((n_robots, 2, slots), dtype=np.int64)
        self.pos_flags = np.zeros((n_robots, 2, slots), dtype=np.bool_)
        self.succ = np.zeros((n_robots, 4, succ))
        self.shifts = np.zeros((n_robots, 2, slots, succ))
        self.n_emergency = np.zeros(n_robots, dtype=np.int64)
        self.queue_length = np.zeros(n_robots, dtype=np.int64)
        self.simple = np.ones(n_robots, dtype=np.bool_)
        """No waits and no deadlines in the queue: successors shift exactly by Δ ≥ 0."""
        self.triangle = np.arange(succ)[None, :] >= np.arange(slots)[:, None]
        """triangle[p, k]: the task at k comes after an insertion at p."""
        for r in range(n_robots):
            self._fill_row(r)

    def _fill_row(self, r: int) -> None:
        run = self.runs[r]
        key = (r, run.queue)
        cached = self._cache.get(key)
        pack = cached[1] if cached is not None else None
        if pack is None or pack.slots != self.slots:
            pack = _row_pack(self.arrays, r, run, self.slots)
            self._cache[key] = (run, pack)
        self.pos_floats[r] = pack.floats
        self.pos_ints[r] = pack.ints
        self.pos_flags[r] = pack.flags
        self.succ[r] = pack.succ
        n = len(run.queue)
        self.shifts[r] = 0.0
        self.shifts[r, :, :n, :n] = pack.shifts
        self.n_emergency[r] = pack.n_emergency
        self.queue_length[r] = len(run.queue)
        self.simple[r] = pack.simple

    # -- pricing -----------------------------------------------------------------------

    def insertion_costs(self, tasks: IntArray, robots: IntArray | None = None) -> FloatArray:
        """Exact cost increase of inserting each task at each position: (tasks, robots, slots).

        inf where not allowed: robot not capable, battery short (for the task or any task
        after it), an emergency behind a non-emergency or the reverse, padding, unreachable.
        The slot axis is cut to the longest queue among the robots + 1.
        """
        lengths = self.queue_length if robots is None else self.queue_length[robots]
        width = int(lengths.max()) + 1 if len(lengths) else 1
        # inf - inf (unreachable legs) yields NaN, which the feasibility mask rejects.
        with np.errstate(invalid="ignore"):
            return _insertion_costs(self, tasks, robots, width)

    def best_insertions(
        self, tasks: IntArray, nearest: int, exclude: IntArray | None = None
    ) -> tuple[FloatArray, IntArray, IntArray]:
        """Cheapest insertion of each task (cost, robot, slot) among its `nearest` robots.

        Robots are screened by the task's own finishing cost at their best slot (cheap);
        only the `nearest` best are priced in full (a granular neighbourhood), so the
        result is exact for those robots and may miss a better one outside them.
        `exclude` names one robot per task not to consider (-1: none).
        """
        n_robots = self.arrays.n_robots
        width = int(self.queue_length.max()) + 1
        with np.errstate(invalid="ignore"):
            if n_robots > nearest:
                own = _own_costs(self, tasks, None, width)[0].min(axis=2)
                if exclude is not None:
                    own[np.arange(len(tasks)), exclude] = INFEASIBLE
                rows = np.argpartition(own, nearest - 1, axis=1)[:, :nearest]
            else:
                rows = np.broadcast_to(np.arange(n_robots), (len(tasks), n_robots))
            costs = _insertion_costs(self, tasks, rows, width)
        if exclude is not None:
            costs[rows == exclude[:, None]] = INFEASIBLE
        flat = costs.reshape(len(tasks), -1).argmin(axis=1)
        pick, slot = np.divmod(flat, width)
        index = np.arange(len(tasks))
        return costs[index, pick, slot], rows[index, pick], slot

    def append_costs(self, tasks: IntArray) -> FloatArray:
        """Cost of putting each task at the end of each robot's queue: (tasks, robots)."""
        width = int(self.queue_length.max()) + 1
        with np.errstate(invalid="ignore"):
            own, _, _, _ = _own_costs(self, tasks, None, width)
        return own[:, np.arange(self.arrays.n_robots), self.queue_length]


def _row_pack(arrays: ProblemArrays, r: int, run: QueueRun, slots: int) -> _RowPack:
    queue = list(run.queue)
    n = len(queue)
    values = arrays.task_values
    pad = slots - n - 1
    start_time = float(arrays.robot_available[r])
    times = [start_time, *run.finish]
    weights = [values.weight[j] for j in queue]
    deadlines = [values.deadline[j] for j in queue]
    suffix = np.cumsum(weights[::-1])[::-1].tolist() if n else []
    margins = np.minimum.accumulate(run.margin[::-1])[::-1].tolist() if n else []
    zeros = [0.0] * (pad + 1)
    floats = np.array(
        [
            [*times, *[0.0] * pad],
            [0.0, *run.active, *[0.0] * pad],
            [*(t + leg for t, leg in zip(times, run.legs, strict=False)), *zeros],
            [*run.legs, *zeros],
            [*margins, *[math.inf] * (pad + 1)],
            [*suffix, *zeros],
        ]
    )
    ints = np.array(
        [
            [int(arrays.robot_location[r]), *arrays.exit[queue].tolist(), *[0] * pad],
            [*arrays.entry[queue].tolist(), *[0] * (pad + 1)],
        ],
        dtype=np.int64,
    )
    flags = np.array(
        [[True] * (n + 1) + [False] * pad, [True] * n + [False] * (pad + 1)], dtype=np.bool_
    )
    succ = np.array(
        [
            [*weights, *[0.0] * pad],
            [*(values.lateness_weight[j] for j in queue), *[0.0] * pad],
            [*run.finish, *[0.0] * pad],
            [*deadlines, *[math.inf] * pad],
        ]
    ).reshape(4, slots - 1)
    shifts = np.zeros((2, n, n))
    if n:
        shifts[0], shifts[1] = _shift_tables(run)
    return _RowPack(
        slots=slots,
        floats=floats,
        ints=ints,
        flags=flags,
        succ=succ,
        shifts=shifts,
        n_emergency=sum(values.emergency[j] for j in queue),
        simple=not any(run.wait) and all(d == math.inf for d in deadlines),
    )


def _shift_tables(run: QueueRun) -> tuple[FloatArray, FloatArray]:
    wait = np.array(run.wait)
    n = len(wait)
    cum = np.cumsum(wait)
    before = np.concatenate(([0.0], cum[:-1]))
    after = np.arange(n)[None, :] >= np.arange(n)[:, None]
    shift_a = np.where(after, cum[None, :] - before[:, None], 0.0)
    g = np.where(after, (cum - np.array(run.early))[None, :], -np.inf)
    shift_b = np.where(after, np.maximum.accumulate(g, axis=1) - cum[None, :], 0.0)
    return shift_a, shift_b


def _pick(array: np.ndarray, rows: IntArray | None) -> np.ndarray:
    """Robot rows for pricing: all (a view), the same for every task (1-D) or per task (2-D).

    The result has a leading task axis of length 1 (shared rows) or one per task.
    """
    if rows is None:
        return array[None]
    if rows.ndim == 1:
        return array[rows][None]
    return array[rows]


def _own_costs(
    tables: FleetTables, tasks: IntArray, rows: IntArray | None, width: int
) -> tuple[FloatArray, FloatArray, FloatArray, BoolArray]:
    """The inserted task's own cost (inf where not allowed), entry leg, finish, and mask.

    Checks everything about the task itself (slot exists, capability, its own battery,
    emergency order); the tasks after it are `_insertion_costs`' business.
    """
    ar = tables.arrays
    floats = _pick(tables.pos_floats[..., :width], rows)
    ints = _pick(tables.pos_ints[..., :width], rows)
    ids = _pick(np.arange(ar.n_robots), rows)
    column = tasks[:, None]
    leg_in = ar.travel[ints[:, :, _LOCATION], ar.entry[tasks][:, None, None]]
    finish = np.maximum(floats[:, :, _TIME] + leg_in, ar.earliest[tasks][:, None, None])
    finish += ar.duration[tasks][:, None, None]
    cost = ar.weight[tasks][:, None, None] * finish
    if ar.has_deadlines:
        cost += ar.lateness_weight[tasks][:, None, None] * np.maximum(
            0.0, finish - ar.deadline[tasks][:, None, None]
        )
    ok = _pick(tables.pos_flags[:, _VALID, :width], rows) & np.isfinite(cost)
    ok &= ar.capable[ids, column][:, :, None]
    if ar.has_battery_limits:
        used = floats[:, :, _ACTIVE] + leg_in + ar.duration[tasks][:, None, None]
        used += ar.return_s[ids, column][:, :, None]
        ok &= used <= ar.robot_budget_s[ids][:, :, None] + BATTERY_TOLERANCE_S
    if ar.has_emergencies:
        slot = np.arange(width)[None, None, :]
        n_em = tables.n_emergency[ids][:, :, None]
        ok &= np.where(ar.emergency[tasks][:, None, None], slot <= n_em, slot >= n_em)
    return np.where(ok, cost, INFEASIBLE), leg_in, finish, ok


def _insertion_costs(
    tables: FleetTables, tasks: IntArray, rows: IntArray | None, width: int
) -> FloatArray:
    ar = tables.arrays
    cost, leg_in, finish, ok = _own_costs(tables, tasks, rows, width)
    floats = _pick(tables.pos_floats[..., :width], rows)
    ints = _pick(tables.pos_ints[..., :width], rows)
    has_next = _pick(tables.pos_flags[:, _HAS_NEXT, :width], rows)
    leg_out = ar.travel[ar.exit[tasks][:, None, None], ints[:, :, _NEXT_ENTRY]]
    delta = finish + leg_out - floats[:, :, _OLD_ARRIVAL]
    cost = cost + _successor_cost(tables, rows, width, delta, has_next)
    ok = ok & np.isfinite(cost)
    if ar.has_battery_limits:
        extra = leg_in + ar.duration[tasks][:, None, None] + leg_out - floats[:, :, _OLD_LEG]
        ok &= ~has_next | (extra <= floats[:, :, _MIN_MARGIN] + BATTERY_TOLERANCE_S)
    return np.where(ok, cost, INFEASIBLE)


def _successor_cost(
    tables: FleetTables,
    rows: IntArray | None,
    width: int,
    delta: FloatArray,
    has_next: BoolArray,
) -> FloatArray:
    """Cost of shifting the tasks after each insertion point by Δ at their arrival."""
    simple = _pick(tables.simple, rows)
    if bool(simple.all()) and not bool(((delta < 0) & has_next).any()):
        suffix = _pick(tables.pos_floats[:, _SUFFIX_WEIGHT, :width], rows)
        return np.where(has_next, delta * suffix, 0.0)
    succ = width - 1
    if succ == 0:
        return np.zeros_like(delta)
    shifts = _pick(tables.shifts[..., :width, :succ], rows)
    shift = np.maximum(delta[..., None] - shifts[:, :, 0], shifts[:, :, 1])
    shift = np.where(tables.triangle[:width, :succ], shift, 0.0)
    data = _pick(tables.succ[..., :succ], rows)
    weight = data[:, :, None, _WEIGHT]
    total = (shift * weight).sum(axis=-1)
    if tables.arrays.has_deadlines:
        s_finish = data[:, :, None, _FINISH]
        s_deadline = data[:, :, None, _DEADLINE]
        late = np.maximum(0.0, s_finish + shift - s_deadline) - np.maximum(
            0.0, s_finish - s_deadline
        )
        total += (late * data[:, :, None, _LATENESS_WEIGHT]).sum(axis=-1)
    return np.where(has_next, total, 0.0)

"""Improving a plan: ruin-and-recreate, relocation, and the idle-robot fairness rule.

Ruin-and-recreate (large neighbourhood search, annealed) cuts strings of neighbouring
tasks out of a few queues and puts them back; relocation moves single tasks to the best
position on another robot. Both are deterministic for a seed and iteration count.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass

import numpy as np

from fleet_server.dispatch.queues import FleetTables, QueueRun, queue_feasible

IMPROVEMENT = 1e-9
"""Relative cost decrease that counts as better (floating-point noise is not)."""
_CHUNK = 64
"""Tasks priced together in a relocation pass (bounds the temporary arrays)."""
NEAREST_ROBOTS = 12
"""Robots priced in full per task when relocating or re-inserting (granular search)."""


@dataclass
class SearchLimits:
    """When to stop: after `iterations`, or when the monotonic clock passes `deadline`."""

    iterations: int
    deadline: float | None

    def expired(self) -> bool:
        """The wall-clock cap has passed."""
        return self.deadline is not None and time.monotonic() >= self.deadline


@dataclass
class SearchStats:
    """What the search did."""

    iterations: int = 0
    accepted: int = 0
    relocations: int = 0
    fairness_moves: int = 0
    stopped_by: str = "iterations"


def _better(new: tuple[int, float], old: tuple[int, float]) -> bool:
    if new[0] != old[0]:
        return new[0] < old[0]
    return new[1] < old[1] - IMPROVEMENT * max(1.0, abs(old[1]))


@dataclass(frozen=True, slots=True)
class RuinSettings:
    """String-removal sizes and annealing temperatures (relative to the mean task cost)."""

    mean_removed: float = 10.0
    max_string: int = 10
    random_removal: float = 0.3
    """Chance that an iteration removes tasks picked at random instead of strings."""
    blink: float = 0.01
    """Chance that a position is skipped when re-inserting (diversifies the recreate)."""
    start_temperature: float = 0.05
    end_temperature: float = 0.0005


def ruin_and_recreate(
    tables: FleetTables,
    unassigned: list[int],
    limits: SearchLimits,
    rng: random.Random,
    stats: SearchStats,
    settings: RuinSettings | None = None,
) -> list[int]:
    """String-removal ruin and blinking greedy recreate, annealed; keeps the best plan.

    After Christiaens & Vanden Berghe, "Slack induction by string removals" (2020): from a
    random task, walk its nearest tasks and cut a string of consecutive tasks out of each
    queue met, up to a few queues; put every removed (and unassigned) task back at its
    cheapest position, skipping each position with a small chance. A worse plan is kept
    with simulated-annealing probability, the temperature falling over the iterations.
    Plans that assign more tasks are always better. Returns the unassigned tasks of the
    best plan, which `tables` holds on return.
    """
    settings = settings or RuinSettings()
    arrays = tables.arrays
    if arrays.n_tasks == 0 or limits.iterations == 0:
        return unassigned
    noise = np.random.default_rng(rng.getrandbits(64))
    neighbours = _neighbours(tables)
    current = (len(unassigned), tables.total_cost)
    best, best_queues, best_left = current, tables.queues(), list(unassigned)
    scale = current[1] / max(1, arrays.n_tasks - len(unassigned))
    hot, cold = settings.start_temperature * scale, settings.end_temperature * scale
    for iteration in range(limits.iterations):
        if limits.expired():
            stats.stopped_by = "time"
            break
        stats.iterations += 1
        before = tables.queues()
        removed = _remove_strings(tables, neighbours, rng, settings)
        left = _recreate(tables, [*removed, *unassigned], rng, noise, settings.blink)
        new = (len(left), tables.total_cost)
        # Taking a task out can strand the rest when travel times break the triangle
        # inequality (the leg that replaces it is longer); such plans are not kept.
        feasible = all(
            queue_feasible(arrays, r, tables.runs[r])
            for r in range(arrays.n_robots)
            if tables.runs[r].queue != before[r]
        )
        temperature = hot * (cold / hot) ** (iteration / limits.iterations) if hot > 0 else 0.0
        threshold = current[1] - temperature * math.log(max(rng.random(), 1e-300))
        if feasible and (new[0] < current[0] or (new[0] == current[0] and new[1] < threshold)):
            current, unassigned = new, left
            stats.accepted += 1
            if _better(current, best):
                best, best_queues, best_left = current, tables.queues(), list(left)
        else:
            _restore(tables, before)
    _restore(tables, best_queues)
    return best_left


def _neighbours(tables: FleetTables) -> np.ndarray:
    """Every task's tasks ordered by closeness (entry to entry plus exit to exit)."""
    arrays = tables.arrays
    close = arrays.travel[arrays.entry[:, None], arrays.entry[None, :]]
    close = close + arrays.travel[arrays.exit[:, None], arrays.exit[None, :]]
    return np.argsort(close, axis=1, kind="stable")


def _remove_strings(
    tables: FleetTables, neighbours: np.ndarray, rng: random.Random, settings: RuinSettings
) -> list[int]:
    assigned = np.flatnonzero(tables.robot_of >= 0)
    if len(assigned) == 0:
        return []
    if rng.random() < settings.random_removal:
        count = rng.randint(1, min(len(assigned), int(2 * settings.mean_removed)))
        chosen = set(rng.sample(assigned.tolist(), count))
        for r in {int(tables.robot_of[j]) for j in chosen}:
            tables.set_queue(r, tuple(j for j in tables.runs[r].queue if j not in chosen))
        return sorted(chosen)
    lengths = [len(run.queue) for run in tables.runs if run.queue]
    longest = min(float(settings.max_string), sum(lengths) / len(lengths))
    most_strings = 4.0 * settings.mean_removed / (1.0 + longest) - 1.0
    strings = int(rng.uniform(1.0, most_strings + 1.0))
    seed = int(assigned[rng.randrange(len(assigned))])
    removed: list[int] = []
    ruined: set[int] = set()
    for j in neighbours[seed].tolist():
        if len(ruined) >= strings:
            break
        r = int(tables.robot_of[j])
        if r < 0 or r in ruined:
            continue
        queue = tables.runs[r].queue
        size = int(rng.uniform(1.0, min(len(queue), longest) + 1.0))
        at = queue.index(j)
        first = rng.randint(max(0, at - size + 1), min(at, len(queue) - size))
        removed.extend(queue[first : first + size])
        tables.set_queue(r, queue[:first] + queue[first + size :])
        ruined.add(r)
    return removed


def _recreate(
    tables: FleetTables,
    tasks: list[int],
    rng: random.Random,
    noise: np.random.Generator,
    blink: float,
) -> list[int]:
    """Insert tasks one by one (emergencies first, else shuffled) at their cheapest slot."""
    emergency = tables.arrays.emergency
    rng.shuffle(tasks)
    tasks.sort(key=lambda j: not emergency[j])
    left = []
    for j in tasks:
        costs = tables.insertion_costs(np.array([j]))[0]
        if blink > 0:
            costs = np.where(noise.random(costs.shape) < blink, np.inf, costs)
        index = int(np.argmin(costs))
        robot, slot = divmod(index, costs.shape[1])
        if not np.isfinite(costs[robot, slot]):
            left.append(j)
            continue
        queue = tables.runs[robot].queue
        tables.set_queue(robot, (*queue[:slot], j, *queue[slot:]))
    return left


def _restore(tables: FleetTables, queues: list[tuple[int, ...]]) -> None:
    for r, queue in enumerate(queues):
        if tables.runs[r].queue != queue:
            tables.set_queue(r, queue)


def relocate_pass(tables: FleetTables, limits: SearchLimits, stats: SearchStats) -> bool:
    """Move tasks to another robot's queue where that lowers the cost; True if any moved.

    Every task's removal gain and best insertion on another robot (among the
    `NEAREST_ROBOTS` screened as closest) are priced in one batch; the moves are then
    made in order of gain, each re-priced first if an earlier one changed its queues.
    """
    arrays = tables.arrays
    assigned = np.flatnonzero(tables.robot_of >= 0)
    if len(assigned) == 0 or arrays.n_robots < 2:
        return False
    gain = np.full(len(assigned), -np.inf)
    reduced: dict[int, QueueRun] = {}
    for index, j in enumerate(assigned.tolist()):
        r = int(tables.robot_of[j])
        old = tables.runs[r]
        run = tables.simulate(r, tuple(k for k in old.queue if k != j))
        if queue_feasible(arrays, r, run):
            gain[index] = old.cost - run.cost
            reduced[j] = run
    best = np.full(len(assigned), np.inf)
    robot = np.zeros(len(assigned), dtype=np.int64)
    slot = np.zeros(len(assigned), dtype=np.int64)
    for lo in range(0, len(assigned), _CHUNK):
        if limits.expired():
            return False
        chunk = assigned[lo : lo + _CHUNK]
        found = tables.best_insertions(chunk, NEAREST_ROBOTS, exclude=tables.robot_of[chunk])
        best[lo : lo + _CHUNK], robot[lo : lo + _CHUNK], slot[lo : lo + _CHUNK] = found
    improvement = gain - best
    touched: set[int] = set()
    moved = False
    for index in np.argsort(-improvement, kind="stable").tolist():
        j = int(assigned[index])
        if not improvement[index] > IMPROVEMENT * max(1.0, abs(gain[index])):
            break
        source, target, at = int(tables.robot_of[j]), int(robot[index]), int(slot[index])
        if source == target:
            continue
        run = reduced[j]
        if source in touched or target in touched:
            # An earlier move changed these queues: price this one again on what is there.
            run = tables.simulate(source, tuple(k for k in tables.runs[source].queue if k != j))
            if not queue_feasible(arrays, source, run):
                continue
            costs = tables.insertion_costs(np.array([j]), np.array([target]))[0, 0]
            at = int(np.argmin(costs))
            removal_gain = tables.runs[source].cost - run.cost
            if not costs[at] < removal_gain - IMPROVEMENT * max(1.0, abs(removal_gain)):
                continue
        tables.set_queue(source, run.queue, run)
        queue = tables.runs[target].queue
        tables.set_queue(target, (*queue[:at], j, *queue[at:]))
        touched.update((source, target))
        stats.relocations += 1
        moved = True
    return moved


def serve_from_idle_robots(tables: FleetTables, stats: SearchStats) -> None:
    """Fairness: no task finishes later than an idle robot could finish it on its own.

    While some robot has an empty queue and could (capability, battery, reach) finish a
    queued task sooner than its plan says, move the task whose finish improves most (by
    weight) to that robot. With travel times that obey the triangle inequality (and task
    durations at least the travel from entry to exit) every such move also lowers the
    cost, so an optimal plan already satisfies the rule.
    """
    arrays = tables.arrays
    # Each move finishes one task sooner; with travel times that break the triangle
    # inequality others may finish later, so the number of moves is capped.
    for _ in range((arrays.n_tasks + 1) * (arrays.n_robots + 1)):
        idle = np.array([not run.queue for run in tables.runs])
        assigned = np.flatnonzero(tables.robot_of >= 0)
        if not idle.any() or len(assigned) == 0:
            return
        planned = np.zeros(arrays.n_tasks)
        for run in tables.runs:
            planned[list(run.queue)] = run.finish
        solo = np.where(arrays.solo_ok, arrays.solo_finish, np.inf)[np.ix_(idle, assigned)]
        gain = (planned[assigned][None, :] - solo) * arrays.weight[assigned][None, :]
        gain = np.where(
            solo < planned[assigned][None, :] - IMPROVEMENT * np.maximum(1.0, solo), gain, 0.0
        )
        if not _move_best(tables, gain, np.flatnonzero(idle), assigned):
            return
        stats.fairness_moves += 1


def _move_best(
    tables: FleetTables, gain: np.ndarray, idle: np.ndarray, assigned: np.ndarray
) -> bool:
    """Make the largest-gain move whose source queue stays feasible without the task."""
    arrays = tables.arrays
    flat = np.argsort(-gain, axis=None, kind="stable")
    for index in flat:
        i, u = np.unravel_index(int(index), gain.shape)
        if gain[i, u] <= 0:
            return False
        task = int(assigned[u])
        source = int(tables.robot_of[task])
        remaining = tuple(k for k in tables.runs[source].queue if k != task)
        if not queue_feasible(arrays, source, tables.simulate(source, remaining)):
            continue
        tables.set_queue(source, remaining)
        tables.set_queue(int(idle[i]), (task,))
        return True
    return False

"""The allocation problem, independent of the server: robots, tasks, a travel-time matrix.

Times are seconds from "now" (t = 0, when the plan is made). Locations are row/column
indices of the travel-time matrix, so the caller maps waypoint ids to indices (e.g. with
`missions.sites.travel_time_matrix(..., waypoint_ids=...)`). A task is generalised
pickup → dropoff: the robot travels to its entry location, may wait for its earliest
start, works for `duration_s` (which covers moving from entry to exit) and is then at its
exit location.

One matrix serves every robot: robots of different speed classes are planned per class
(or with the slowest class's matrix). A robot busy with a mission enters the problem at
the place and time that mission ends (`Robot.location`, `Robot.available_from_s`).

Battery is modelled as a fraction of capacity drained per second of travel and service;
waiting for an earliest start drains nothing (the robot is parked). A robot gets a queue
only if, after every task in it, what is left still takes it back to its charger with
`reserve` to spare.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


class AllocationInputError(ValueError):
    """A robot, task, matrix or setting the allocator cannot use; the message names it."""


class Priority(StrEnum):
    """Mission priority, highest first (the values match `Mission.priority`)."""

    EMERGENCY = "emergency"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


DEFAULT_PRIORITY_WEIGHTS: Mapping[Priority, float] = MappingProxyType(
    {Priority.EMERGENCY: 100.0, Priority.HIGH: 4.0, Priority.NORMAL: 1.0, Priority.LOW: 0.5}
)


@dataclass(frozen=True, slots=True)
class Robot:
    """A robot as the allocator sees it: where and when it is free, what it can do."""

    id: str
    location: int
    capabilities: frozenset[str]
    battery: float = 1.0
    """State of charge (0..1) when the robot becomes available."""
    drain_per_s: float = 0.0
    """Charge used per second of travel or service; 0 means battery is not a constraint."""
    reserve: float = 0.2
    """Charge that must be left on arrival back at the charger."""
    available_from_s: float = 0.0
    """When the robot finishes what it is doing now; it is then at `location`."""
    charger: int | None = None
    """Charger location; None means the robot charges where it starts (`location`)."""

    @property
    def charger_location(self) -> int:
        """Where the robot goes to charge."""
        return self.location if self.charger is None else self.charger


@dataclass(frozen=True, slots=True)
class Task:
    """A unit of work: go to `entry`, start no earlier than `earliest_start_s`, end at `exit`."""

    id: str
    capability: str
    entry: int
    duration_s: float
    exit: int | None = None
    """Where the robot is when done; None means where it started the task (`entry`)."""
    priority: Priority = Priority.NORMAL
    earliest_start_s: float = 0.0
    deadline_s: float | None = None
    """Soft: finishing later costs `lateness_weight` per second (times the priority weight)."""
    waiting_s: float = 0.0
    """How long the mission has already waited; it ages the task's weight (no starvation)."""

    @property
    def exit_location(self) -> int:
        """Where the robot is when the task is done."""
        return self.entry if self.exit is None else self.exit


@dataclass(frozen=True, slots=True)
class AllocationConfig:
    """Objective weights and search limits.

    The objective is ``sum(weight * finish + lateness_weight * weight * lateness)`` over
    assigned tasks, with ``weight = priority_weights[p] * (1 + waiting_s / aging_s)``.
    The search is deterministic for a seed and `iterations`; `time_budget_s` caps it in
    wall-clock time, and when that cap binds the result depends on the machine's speed
    (`SolveStats.stopped_by` says which limit ended the search).
    """

    priority_weights: Mapping[Priority, float] = field(
        default_factory=lambda: DEFAULT_PRIORITY_WEIGHTS
    )
    lateness_weight: float = 100.0
    aging_s: float = 1800.0
    """Waiting this long doubles a task's weight: a low task that waited long enough
    outranks fresh normal ones, so re-planning never postpones it for ever."""
    seed: int = 0
    iterations: int = 300
    """Ruin-and-recreate iterations after construction (enough for the optimum on every
    small benchmark instance; large instances reach the time budget first)."""
    time_budget_s: float | None = 0.5
    """Wall-clock cap on the whole solve (construction always completes)."""
    construction: str = "rounds"
    """'rounds' (one task per robot per round, scipy's linear_sum_assignment), 'regret'
    (regret-2 insertion) or 'cheapest' (cheapest insertion). 'rounds' was chosen by
    measurement (docs/benchmarks.md): as good on small instances, best and fastest on
    large ones."""

    def __post_init__(self) -> None:
        for priority in Priority:
            weight = self.priority_weights.get(priority)
            if weight is None or not math.isfinite(weight) or weight <= 0:
                raise AllocationInputError(
                    f"config.priority_weights[{priority.value!r}]: must be a positive number"
                )
        _require(self.lateness_weight >= 0, "config.lateness_weight", "must be >= 0")
        _require(self.aging_s > 0, "config.aging_s", "must be > 0")
        _require(self.iterations >= 0, "config.iterations", "must be >= 0")
        if self.time_budget_s is not None:
            _require(self.time_budget_s > 0, "config.time_budget_s", "must be > 0 or None")
        _require(
            self.construction in ("rounds", "regret", "cheapest"),
            "config.construction",
            "must be 'rounds', 'regret' or 'cheapest'",
        )


@dataclass(frozen=True)
class AllocationProblem:
    """Robots, tasks and travel times; checked on construction."""

    robots: tuple[Robot, ...]
    tasks: tuple[Task, ...]
    travel_s: FloatArray
    """travel_s[i, j]: seconds from location i to j; inf where j cannot be reached."""

    def __init__(
        self, robots: Sequence[Robot], tasks: Sequence[Task], travel_s: npt.ArrayLike
    ) -> None:
        matrix = _checked_matrix(travel_s)
        object.__setattr__(self, "robots", tuple(robots))
        object.__setattr__(self, "tasks", tuple(tasks))
        object.__setattr__(self, "travel_s", matrix)
        size = matrix.shape[0]
        _check_unique([r.id for r in self.robots], "robots")
        _check_unique([t.id for t in self.tasks], "tasks")
        for i, robot in enumerate(self.robots):
            _check_robot(robot, f"robots[{i}]", size)
        for i, task in enumerate(self.tasks):
            _check_task(task, f"tasks[{i}]", size)


def _require(ok: bool, where: str, what: str) -> None:
    if not ok:
        raise AllocationInputError(f"{where}: {what}")


def _checked_matrix(travel_s: npt.ArrayLike) -> FloatArray:
    try:
        matrix = np.array(travel_s, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise AllocationInputError(f"travel_s: not a numeric matrix ({exc})") from exc
    _require(
        matrix.ndim == 2 and matrix.shape[0] == matrix.shape[1] and matrix.shape[0] > 0,
        "travel_s",
        f"must be a non-empty square matrix, got shape {matrix.shape}",
    )
    _require(not bool(np.isnan(matrix).any()), "travel_s", "contains NaN")
    _require(bool((matrix >= 0).all()), "travel_s", "contains negative travel times")
    matrix.flags.writeable = False
    return matrix


def _check_unique(ids: list[str], where: str) -> None:
    seen: set[str] = set()
    for i, ident in enumerate(ids):
        _require(isinstance(ident, str) and ident != "", f"{where}[{i}].id", "must be a string")
        _require(ident not in seen, f"{where}[{i}].id", f"duplicate id {ident!r}")
        seen.add(ident)


def _check_location(value: object, where: str, size: int) -> None:
    ok = isinstance(value, int | np.integer) and not isinstance(value, bool)
    _require(ok and 0 <= int(value) < size, where, f"{value!r} is not a location 0..{size - 1}")  # type: ignore[call-overload]


def _check_finite(value: float, where: str) -> None:
    _require(isinstance(value, int | float) and math.isfinite(value), where, "must be finite")


def _check_robot(robot: Robot, where: str, size: int) -> None:
    _check_location(robot.location, f"{where}.location", size)
    if robot.charger is not None:
        _check_location(robot.charger, f"{where}.charger", size)
    _require(
        isinstance(robot.capabilities, frozenset | set),
        f"{where}.capabilities",
        "must be a set of capability names",
    )
    for name, value in (
        ("battery", robot.battery),
        ("drain_per_s", robot.drain_per_s),
        ("reserve", robot.reserve),
        ("available_from_s", robot.available_from_s),
    ):
        _check_finite(value, f"{where}.{name}")
    _require(0 <= robot.battery <= 1, f"{where}.battery", "must be within 0..1")
    _require(0 <= robot.reserve <= 1, f"{where}.reserve", "must be within 0..1")
    _require(robot.drain_per_s >= 0, f"{where}.drain_per_s", "must be >= 0")


def _check_task(task: Task, where: str, size: int) -> None:
    _check_location(task.entry, f"{where}.entry", size)
    if task.exit is not None:
        _check_location(task.exit, f"{where}.exit", size)
    _require(isinstance(task.capability, str), f"{where}.capability", "must be a string")
    _require(isinstance(task.priority, Priority), f"{where}.priority", "must be a Priority")
    for name, value in (
        ("duration_s", task.duration_s),
        ("earliest_start_s", task.earliest_start_s),
        ("waiting_s", task.waiting_s),
    ):
        _check_finite(value, f"{where}.{name}")
    _require(task.duration_s >= 0, f"{where}.duration_s", "must be >= 0")
    _require(task.waiting_s >= 0, f"{where}.waiting_s", "must be >= 0")
    if task.deadline_s is not None:
        _check_finite(task.deadline_s, f"{where}.deadline_s")


@dataclass(frozen=True, slots=True)
class TaskValues:
    """Per-task numbers as Python lists: queue simulation reads them one at a time."""

    duration: list[float]
    earliest: list[float]
    deadline: list[float]
    weight: list[float]
    lateness_weight: list[float]
    emergency: list[bool]


@dataclass(frozen=True, eq=False)
class ProblemArrays:
    """The problem as numpy arrays (robots r, tasks j), shared by every solver."""

    problem: AllocationProblem
    travel: FloatArray
    robot_location: IntArray
    robot_available: FloatArray
    robot_budget_s: FloatArray
    """Seconds of travel + service the battery allows before the reserve (inf: no limit)."""
    entry: IntArray
    exit: IntArray
    duration: FloatArray
    earliest: FloatArray
    deadline: FloatArray
    """inf where a task has no deadline."""
    weight: FloatArray
    lateness_weight: FloatArray
    """Cost per second late (lateness_weight * weight)."""
    emergency: BoolArray
    capable: BoolArray
    """capable[r, j]: robot r has task j's capability."""
    return_s: FloatArray
    """return_s[r, j]: travel from task j's exit to robot r's charger."""
    solo_finish: FloatArray
    """solo_finish[r, j]: when r would finish j as its only task (inf: unreachable)."""
    solo_ok: BoolArray
    """solo_ok[r, j]: r is capable and has the battery to do j alone and get back."""
    task_values: TaskValues
    has_deadlines: bool
    has_battery_limits: bool
    has_emergencies: bool

    @property
    def n_robots(self) -> int:
        """Number of robots."""
        return len(self.robot_location)

    @property
    def n_tasks(self) -> int:
        """Number of tasks."""
        return len(self.entry)


def compile_problem(problem: AllocationProblem, config: AllocationConfig) -> ProblemArrays:
    """Turn the problem into arrays, with priority/aging weights from `config`."""
    robots, tasks, travel = problem.robots, problem.tasks, problem.travel_s
    location = np.array([r.location for r in robots], dtype=np.int64)
    available = np.array([r.available_from_s for r in robots], dtype=np.float64)
    budget = np.array([_budget_s(r) for r in robots], dtype=np.float64)
    charger = np.array([r.charger_location for r in robots], dtype=np.int64)
    entry = np.array([t.entry for t in tasks], dtype=np.int64)
    exit_ = np.array([t.exit_location for t in tasks], dtype=np.int64)
    duration = np.array([t.duration_s for t in tasks], dtype=np.float64)
    earliest = np.array([t.earliest_start_s for t in tasks], dtype=np.float64)
    deadline = np.array(
        [math.inf if t.deadline_s is None else t.deadline_s for t in tasks], dtype=np.float64
    )
    weight = np.array(
        [config.priority_weights[t.priority] * (1.0 + t.waiting_s / config.aging_s) for t in tasks],
        dtype=np.float64,
    )
    emergency = np.array([t.priority is Priority.EMERGENCY for t in tasks], dtype=np.bool_)
    capable = np.array(
        [[t.capability in r.capabilities for t in tasks] for r in robots], dtype=np.bool_
    ).reshape(len(robots), len(tasks))
    return_s = travel[exit_[None, :], charger[:, None]]
    leg = travel[location[:, None], entry[None, :]]
    solo_finish = np.maximum(available[:, None] + leg, earliest[None, :]) + duration[None, :]
    with np.errstate(invalid="ignore"):
        battery_ok = leg + duration[None, :] + return_s <= budget[:, None] + 1e-9
    solo_ok = capable & np.isfinite(solo_finish) & battery_ok
    return ProblemArrays(
        problem=problem,
        travel=travel,
        robot_location=location,
        robot_available=available,
        robot_budget_s=budget,
        entry=entry,
        exit=exit_,
        duration=duration,
        earliest=earliest,
        deadline=deadline,
        weight=weight,
        lateness_weight=weight * config.lateness_weight,
        emergency=emergency,
        capable=capable,
        return_s=return_s,
        solo_finish=solo_finish,
        solo_ok=solo_ok,
        task_values=TaskValues(
            duration=duration.tolist(),
            earliest=earliest.tolist(),
            deadline=deadline.tolist(),
            weight=weight.tolist(),
            lateness_weight=(weight * config.lateness_weight).tolist(),
            emergency=emergency.tolist(),
        ),
        has_deadlines=bool(np.isfinite(deadline).any()),
        has_battery_limits=bool(np.isfinite(budget).any()),
        has_emergencies=bool(emergency.any()),
    )


def _budget_s(robot: Robot) -> float:
    if robot.drain_per_s == 0:
        return math.inf
    return (robot.battery - robot.reserve) / robot.drain_per_s

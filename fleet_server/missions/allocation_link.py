"""The mission runtime's link to the allocation library: a site's fleet and waiting missions
become an `AllocationProblem`, its solution a `SitePlan` of per-robot queues with ETAs.

Who may do what is decided here, before the solver runs, and handed to it as one
capability token per mission (``mission:<id>``) that only eligible robots carry:

- the robot has the mission's capability, and is the preferred robot when that one is
  in the plan (a preferred robot that is offline or charging does not block the mission);
- a robot charging (or on its way to a charger) is eligible only for emergencies, and only
  in a second pass over the emergencies the rest of the fleet cannot serve now;
- a robot busy with a non-emergency mission is not eligible for an emergency: an emergency
  never waits behind a normal mission (the solver keeps emergencies ahead of other work
  within a queue; this rule covers the mission a robot is running). An emergency that no
  free robot can take is left unassigned, which is what preemption looks at.

Battery feasibility is the solver's: a robot's queue must leave it, after every mission,
the charge to reach the nearest charger with its class's reserve. "Nearest charger" is one
extra location of the travel matrix whose column is the minimum over the site's chargers.

Busy robots enter at the end of their current mission (`FleetRobot.available_in_s` and
`FleetRobot.waypoint`). Times are seconds from when the plan is made.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import numpy.typing as npt

from fleet_server.dispatch import (
    AllocationConfig,
    AllocationProblem,
    Priority,
    Robot,
    Task,
    solve_allocation,
)
from fleet_server.fleet.live_state import RobotKey
from missions.compiler import CompiledMission

FloatMatrix = npt.NDArray[np.float64]
Eligibility = Callable[["FleetRobot", "WaitingMission"], bool]

NAVIGATION_ACTIONS = frozenset({"openDoor", "callLift"})
"""Actions the compiler adds for the way there; a mission's work starts at its first other."""

PLANNING_CONFIG = AllocationConfig(iterations=200, time_budget_s=0.25)
"""Re-planning runs often, so the search is capped at a quarter second per site."""


@dataclass(frozen=True, slots=True)
class FleetRobot:
    """A robot as the dispatcher plans with it."""

    robot_id: int
    key: RobotKey
    capabilities: frozenset[str]
    waypoint: str
    """Where it is now, or where its current mission ends when busy."""
    battery_pct: float | None
    """None: not reported yet (then battery is no constraint)."""
    drain_pct_per_s: float
    reserve_pct: float
    available_in_s: float = 0.0
    busy_priority: Priority | None = None
    """Priority of the mission it runs now; None when free."""
    charging: bool = False
    """Charging or on its way to a charger: eligible for emergencies only."""

    @property
    def serial(self) -> str:
        """The robot's serial number."""
        return self.key[1]


@dataclass(frozen=True, slots=True)
class WaitingMission:
    """A mission waiting for a robot, with the figures the solver needs."""

    mission_id: uuid.UUID
    capability: str
    priority: Priority
    entry: str
    """Waypoint where its work starts."""
    exit: str
    """Waypoint where the robot is when it is done."""
    duration_s: float
    """From arriving at `entry` to being done at `exit`."""
    earliest_start_s: float = 0.0
    deadline_s: float | None = None
    waiting_s: float = 0.0
    preferred_robot: str | None = None
    pinned_robot: RobotKey | None = None
    """Only this robot may take it (a robot freed for it by preemption)."""
    excluded: frozenset[RobotKey] = frozenset()
    """Robots the compiler refused this mission for (e.g. no route there)."""


@dataclass(frozen=True, slots=True)
class PlannedMission:
    """A mission's place in a robot's queue."""

    mission_id: uuid.UUID
    robot: RobotKey
    position: int
    start_s: float
    finish_s: float


@dataclass(frozen=True)
class SitePlan:
    """The dispatcher's current plan for one site."""

    site_id: str
    made_at: datetime
    queues: Mapping[RobotKey, tuple[PlannedMission, ...]]
    """Every planned robot (also those with nothing to do) to its missions in order."""
    unassigned: Mapping[uuid.UUID, str]
    """Missions in no queue, with why."""
    cost: float = 0.0
    solve_s: float = 0.0
    charging_for_emergency: frozenset[RobotKey] = field(default_factory=frozenset)
    """Charging robots the plan takes off their charger for an emergency."""

    def first_missions(self) -> dict[RobotKey, PlannedMission]:
        """Each robot's next mission."""
        return {robot: queue[0] for robot, queue in self.queues.items() if queue}

    def planned(self, mission_id: uuid.UUID) -> PlannedMission | None:
        """Where a mission is in the plan, if anywhere."""
        for queue in self.queues.values():
            for item in queue:
                if item.mission_id == mission_id:
                    return item
        return None


def mission_token(mission_id: uuid.UUID) -> str:
    """The capability token only robots eligible for the mission carry."""
    return f"mission:{mission_id}"


def eligible(robot: FleetRobot, mission: WaitingMission, *, preferred_present: bool) -> bool:
    """May `robot` be planned for `mission` (in the main pass)?"""
    if mission.capability not in robot.capabilities or robot.key in mission.excluded:
        return False
    if mission.pinned_robot is not None:
        return robot.key == mission.pinned_robot
    if preferred_present and mission.preferred_robot not in (None, robot.serial):
        return False
    emergency = mission.priority is Priority.EMERGENCY
    if robot.charging:
        return False
    return not (
        emergency
        and robot.busy_priority is not None
        and robot.busy_priority is not Priority.EMERGENCY
    )


def travel_with_nearest_charger(
    matrix: npt.ArrayLike, charger_indices: Sequence[int]
) -> tuple[FloatMatrix, int | None]:
    """The matrix with one more location, "the nearest charger" (None: the site has none)."""
    travel = np.array(matrix, dtype=np.float64)
    if not charger_indices:
        return travel, None
    size = travel.shape[0]
    extended = np.full((size + 1, size + 1), math.inf)
    extended[:size, :size] = travel
    chargers = list(charger_indices)
    extended[:size, size] = travel[:, chargers].min(axis=1)
    extended[size, :size] = travel[chargers, :].min(axis=0)
    extended[size, size] = 0.0
    return extended, size


def plan_site(
    site_id: str,
    made_at: datetime,
    robots: Sequence[FleetRobot],
    missions: Sequence[WaitingMission],
    waypoint_ids: Sequence[str],
    travel_s: npt.ArrayLike,
    chargers: Sequence[str] = (),
    config: AllocationConfig = PLANNING_CONFIG,
) -> SitePlan:
    """Plan `missions` over `robots`; `travel_s[i, j]` between `waypoint_ids[i]` and `[j]`.

    Every waypoint a robot or mission names must be in `waypoint_ids`; a mission naming
    another is left unassigned ("unknown waypoint"), as is one no robot may take.
    """
    index = {w: i for i, w in enumerate(waypoint_ids)}
    travel, charger = travel_with_nearest_charger(
        travel_s, [index[c] for c in chargers if c in index]
    )
    unassigned: dict[uuid.UUID, str] = {}
    known = []
    for mission in missions:
        if mission.entry in index and mission.exit in index:
            known.append(mission)
        else:
            unassigned[mission.mission_id] = "unknown_waypoint"
    placed = [r for r in robots if r.waypoint in index]
    main = [r for r in placed if not r.charging]
    present = {r.serial for r in main}
    first = _solve(
        main,
        known,
        index,
        travel,
        charger,
        config,
        lambda r, m: eligible(r, m, preferred_present=m.preferred_robot in present),
    )
    queues = dict(first.queues)
    unassigned.update(first.unassigned)
    cost, solve_s = first.cost, first.solve_s
    # Second pass: emergencies nobody free can take now may pull a robot off its charger.
    waiting = [
        m for m in known if m.priority is Priority.EMERGENCY and m.mission_id in first.unassigned
    ]
    chargers_pass = [r for r in placed if r.charging]
    taken: frozenset[RobotKey] = frozenset()
    if waiting and chargers_pass:
        second = _solve(
            chargers_pass,
            waiting,
            index,
            travel,
            charger,
            config,
            lambda r, m: (
                m.capability in r.capabilities
                and r.key not in m.excluded
                and (m.pinned_robot is None or m.pinned_robot == r.key)
            ),
        )
        for robot, queue in second.queues.items():
            queues[robot] = queue
            for item in queue:
                unassigned.pop(item.mission_id, None)
        for mission_id, reason in second.unassigned.items():
            if unassigned.get(mission_id) in ("no_robot", "no_capable_robot"):
                unassigned[mission_id] = reason  # the charging robots' reason says more
        taken = frozenset(robot for robot, queue in second.queues.items() if queue)
        cost, solve_s = cost + second.cost, solve_s + second.solve_s
    for spare in chargers_pass:
        queues.setdefault(spare.key, ())
    return SitePlan(
        site_id=site_id,
        made_at=made_at,
        queues=queues,
        unassigned=unassigned,
        cost=cost,
        solve_s=solve_s,
        charging_for_emergency=taken,
    )


@dataclass(frozen=True)
class _Solved:
    queues: dict[RobotKey, tuple[PlannedMission, ...]]
    unassigned: dict[uuid.UUID, str]
    cost: float
    solve_s: float


def _solve(
    robots: Sequence[FleetRobot],
    missions: Sequence[WaitingMission],
    index: Mapping[str, int],
    travel: FloatMatrix,
    charger: int | None,
    config: AllocationConfig,
    allowed: Eligibility,
) -> _Solved:
    by_id = {str(r.robot_id): r for r in robots}
    tasks = [
        Task(
            id=str(m.mission_id),
            capability=mission_token(m.mission_id),
            entry=index[m.entry],
            exit=index[m.exit],
            duration_s=max(0.0, m.duration_s),
            priority=m.priority,
            earliest_start_s=max(0.0, m.earliest_start_s),
            deadline_s=m.deadline_s,
            waiting_s=max(0.0, m.waiting_s),
        )
        for m in missions
    ]
    problem_robots = [
        Robot(
            id=str(r.robot_id),
            location=index[r.waypoint],
            capabilities=frozenset(mission_token(m.mission_id) for m in missions if allowed(r, m)),
            battery=_fraction(r.battery_pct),
            drain_per_s=0.0 if r.battery_pct is None else r.drain_pct_per_s / 100.0,
            reserve=min(1.0, max(0.0, r.reserve_pct / 100.0)),
            available_from_s=max(0.0, r.available_in_s),
            charger=charger,
        )
        for r in robots
    ]
    if not tasks or not problem_robots:
        return _Solved(
            queues={r.key: () for r in robots},
            unassigned={m.mission_id: "no_robot" for m in missions},
            cost=0.0,
            solve_s=0.0,
        )
    allocation = solve_allocation(AllocationProblem(problem_robots, tasks, travel), config)
    queues = {
        by_id[robot_id].key: tuple(
            PlannedMission(
                mission_id=uuid.UUID(task_id),
                robot=by_id[robot_id].key,
                position=allocation.planned[task_id].position,
                start_s=allocation.planned[task_id].start_s,
                finish_s=allocation.planned[task_id].finish_s,
            )
            for task_id in queue
        )
        for robot_id, queue in allocation.queues.items()
    }
    unassigned = {uuid.UUID(t): reason.value for t, reason in allocation.unassigned.items()}
    stats = allocation.stats
    return _Solved(queues, unassigned, allocation.cost, stats.construction_s + stats.search_s)


def _fraction(battery_pct: float | None) -> float:
    if battery_pct is None or not math.isfinite(battery_pct):
        return 1.0
    return min(1.0, max(0.0, battery_pct / 100.0))


@dataclass(frozen=True, slots=True)
class Footprint:
    """Where a compiled mission's work starts and ends, and how long it takes."""

    entry: str
    exit: str
    duration_s: float


def mission_footprint(compiled: CompiledMission, travel_to_entry_s: float) -> Footprint | None:
    """Entry, exit and work time of a mission compiled from some start waypoint.

    The entry is the graph waypoint at (or last before) the first node with a mission
    action; the work time is the compiler's estimate less the travel there
    (`travel_to_entry_s`, which the caller reads off the travel matrix). None when the
    path stands on no graph waypoint at all.
    """
    waypoints = compiled.node_waypoints
    first = next(
        (
            i
            for i, node in enumerate(compiled.nodes)
            if any(a.action_type not in NAVIGATION_ACTIONS for a in node.actions)
        ),
        len(compiled.nodes) - 1,
    )
    entry = next((waypoints[i] for i in range(first, -1, -1) if waypoints[i] is not None), None)
    exit_ = next((w for w in reversed(waypoints) if w is not None), None)
    if entry is None or exit_ is None:
        return None
    travel = travel_to_entry_s if math.isfinite(travel_to_entry_s) else 0.0
    return Footprint(entry, exit_, max(0.0, compiled.estimated_duration_s - travel))

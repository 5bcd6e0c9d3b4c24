"""Preemption: which running mission gives its robot to an emergency no free robot can take.

The victim is the lowest-priority running mission on a robot that has the emergency's
capability and the charge to do it and reach a charger with its reserve; among equals,
the robot that reaches the emergency first. Emergencies are never preempted, and neither
is guidance (a visitor is following that robot). The preempted mission is paused, its
robot told to cancel its order, and once the robot has stopped the mission waits for a
robot again with what is left of it (`fleet_server.missions.resume`).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from fleet_server.dispatch import Priority
from fleet_server.fleet.live_state import RobotKey
from fleet_server.missions.allocation_link import WaitingMission

PRIORITY_RANK = {
    Priority.EMERGENCY: 0,
    Priority.HIGH: 1,
    Priority.NORMAL: 2,
    Priority.LOW: 3,
}
NOT_PREEMPTIBLE_KINDS = frozenset({"guidance"})


@dataclass(frozen=True, slots=True)
class RunningWork:
    """A mission a robot runs now, as preemption sees it."""

    mission_id: uuid.UUID
    kind: str
    priority: Priority
    robot: RobotKey
    capabilities: frozenset[str]
    waypoint: str
    """Where the robot is."""
    battery_pct: float | None
    drain_pct_per_s: float
    reserve_pct: float
    preempting: bool = False
    """Already being preempted (its robot is promised to another emergency)."""


def preemptible(work: RunningWork) -> bool:
    """May this mission give way to an emergency at all?"""
    return (
        not work.preempting
        and work.priority is not Priority.EMERGENCY
        and work.kind not in NOT_PREEMPTIBLE_KINDS
    )


def choose_victim(
    emergency: WaitingMission,
    running: Sequence[RunningWork],
    travel_s: Mapping[tuple[str, str], float],
    return_s: Mapping[str, float],
) -> RunningWork | None:
    """The running mission to preempt for `emergency`, or None if none may give way.

    `travel_s[(a, b)]`: seconds from waypoint a to b; `return_s[w]`: seconds from w to the
    nearest charger (absent: no charger, the battery is not checked on the way back).
    """
    best: tuple[int, float, RunningWork] | None = None
    for work in running:
        if not preemptible(work) or emergency.capability not in work.capabilities:
            continue
        if emergency.pinned_robot is not None and work.robot != emergency.pinned_robot:
            continue
        leg = travel_s.get((work.waypoint, emergency.entry), math.inf)
        if not math.isfinite(leg):
            continue
        if not battery_allows(work, leg + emergency.duration_s + return_s.get(emergency.exit, 0)):
            continue
        rank = PRIORITY_RANK[work.priority]
        # Lowest priority first (highest rank), then the robot that gets there first.
        key = (-rank, leg)
        if best is None or key < (best[0], best[1]):
            best = (key[0], key[1], work)
    return None if best is None else best[2]


def battery_allows(work: RunningWork, busy_s: float) -> bool:
    """Does the robot have the charge for `busy_s` of travel and work, plus its reserve?"""
    if work.battery_pct is None:
        return True
    return work.battery_pct - work.drain_pct_per_s * busy_s >= work.reserve_pct

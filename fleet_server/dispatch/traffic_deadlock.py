"""Waits-for cycles; the search for a refuge that lets one robot of a cycle step aside, and
for a way around a robot that cannot move."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass

from fleet_server.dispatch.traffic_resources import SiteResources
from missions.sites import RobotClass


def find_cycles(waits: Mapping[str, str]) -> list[tuple[str, ...]]:
    """Every cycle of a waits-for graph in which each robot waits for at most one other.

    Each cycle starts with its smallest robot name, so a cycle is reported once and the
    same way every time; cycles are sorted.
    """
    cycles: set[tuple[str, ...]] = set()
    done: set[str] = set()
    for start in sorted(waits):
        walk: list[str] = []
        seen: dict[str, int] = {}
        robot: str | None = start
        while robot is not None and robot not in done and robot not in seen:
            seen[robot] = len(walk)
            walk.append(robot)
            robot = waits.get(robot)
        if robot is not None and robot in seen:
            cycle = walk[seen[robot] :]
            first = cycle.index(min(cycle))
            cycles.add(tuple(cycle[first:] + cycle[:first]))
        done.update(walk)
    return sorted(cycles)


@dataclass(frozen=True)
class Refuge:
    """Where a robot can go out of the way, and how it comes back."""

    waypoint: str
    there: tuple[str, ...]
    """Waypoints from where the robot stands to the refuge, both included."""
    back: tuple[str, ...]
    """Waypoints from the refuge back to where the robot stood, both included."""


def _shortest(
    site: SiteResources,
    robot_class: RobotClass | None,
    start: str,
    usable: Callable[[str, frozenset[str]], bool],
) -> Iterator[tuple[str, tuple[str, ...]]]:
    """Waypoints reachable from ``start`` nearest first, each with its path (Dijkstra)."""
    tie = itertools.count()
    queue: list[tuple[float, int, str, tuple[str, ...]]] = [(0.0, next(tie), start, (start,))]
    settled: set[str] = set()
    while queue:
        dist, _, here, path = heapq.heappop(queue)
        if here in settled:
            continue
        settled.add(here)
        yield here, path
        for hop in site.hops(here, robot_class):
            if hop.target in settled or not usable(hop.target, hop.resources):
                continue
            heapq.heappush(queue, (dist + hop.length_m, next(tie), hop.target, (*path, hop.target)))


def find_refuge(
    site: SiteResources,
    robot_class: RobotClass | None,
    start: str,
    *,
    taken: Collection[str],
    avoid: Collection[str],
    avoid_passing: bool,
    any_waypoint: bool = False,
) -> Refuge | None:
    """The nearest free holding point or parking spot the robot can reach and leave again.

    The way there crosses no resource in ``taken`` (held by other robots); the refuge is
    not in ``avoid`` (waypoints other robots still have to pass), nor is any waypoint on
    the way there when ``avoid_passing``. With ``any_waypoint``, any waypoint where a
    robot may wait will do (for maps without holding points). The way back may use any
    lane or lift: by the time the robot returns the others have moved on.
    """

    held = frozenset(taken)

    def there_ok(waypoint: str, needs: frozenset[str]) -> bool:
        if needs & held:
            return False
        return not (avoid_passing and waypoint in avoid)

    for waypoint, there in _shortest(site, robot_class, start, there_ok):
        if waypoint == start or waypoint in avoid:
            continue
        if not (site.is_refuge(waypoint) or (any_waypoint and not site.no_stop(waypoint))):
            continue
        for home, back in _shortest(site, robot_class, waypoint, lambda _w, _n: True):
            if home == start:
                return Refuge(waypoint=waypoint, there=there, back=back)
    return None


def find_refuge_aside(
    site: SiteResources,
    robot_class: RobotClass | None,
    start: str,
    *,
    taken: Collection[str],
    others_ahead: Collection[str],
    waiting_ahead: Collection[str],
    crowded: bool = False,
) -> Refuge | None:
    """The nearest refuge for a robot making way, as far off the others' ways as the map allows.

    ``others_ahead``: the waypoints every other robot still has to pass; ``waiting_ahead``:
    those the robots it makes way for still have to pass. Tried in turn: a refuge off
    everybody's way reached without crossing it, one off the waiting robots' way reached
    without crossing it, the same reached across it, any waypoint off everybody's way, and
    with ``crowded`` any waypoint off the waiting robots' way. ``taken`` as for
    :func:`find_refuge`.
    """
    tries = [
        (others_ahead, True, False),
        (waiting_ahead, True, False),
        (waiting_ahead, False, False),
        (others_ahead, False, True),
    ]
    if crowded:
        tries.append((waiting_ahead, False, True))
    for avoid, avoid_passing, any_waypoint in tries:
        refuge = find_refuge(
            site,
            robot_class,
            start,
            taken=taken,
            avoid=avoid,
            avoid_passing=avoid_passing,
            any_waypoint=any_waypoint,
        )
        if refuge is not None:
            return refuge
    return None


def find_way(
    site: SiteResources,
    robot_class: RobotClass | None,
    start: str,
    goal: str,
    *,
    taken: Collection[str],
) -> tuple[str, ...] | None:
    """The shortest way from ``start`` to ``goal`` (both included) crossing nothing in
    ``taken``, or None if there is none."""
    held = frozenset(taken)
    for waypoint, way in _shortest(site, robot_class, start, lambda _w, needs: not needs & held):
        if waypoint == goal:
            return way
    return None

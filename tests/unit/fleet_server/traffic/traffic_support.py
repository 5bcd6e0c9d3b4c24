"""Helpers for the traffic-control tests: small hand-made sites and a discrete-time stepper.

The stepper moves robots node by node along what the manager released to them and checks,
after every tick and independently of the manager's own bookkeeping, that no resource is
held beyond its capacity, that every robot holds every waypoint it may drive to, that no
two robots stand on one waypoint, that no robot holds two lift cabins and that no robot
stands still in a lift lobby or cabin.
"""

from __future__ import annotations

import functools
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from fleet_server.dispatch.traffic import DeadlockUnresolved, Resolution, TrafficManager
from fleet_server.dispatch.traffic_path import TrafficPath
from missions.sites import GeoReference, Lane, Level, Lift, Site, SiteKind, Waypoint, import_site

RMF = Path(__file__).resolve().parents[3] / "fixtures" / "maps" / "rmf"
GEO = GeoReference(anchor_lon=114.0579, anchor_lat=22.5431)


@functools.cache
def fixture_site(name: str) -> Site:
    """An Open-RMF fixture map (clinic: two levels and lifts; office: one level, doors)."""
    return import_site(RMF / f"{name}.building.yaml")


def wp(ident: str, x: float, y: float, level: str = "L1", *, holding: bool = False) -> Waypoint:
    """A waypoint; ``holding`` flags a holding point."""
    return Waypoint(id=ident, level=level, x=x, y=y, is_holding_point=holding)


def lane(a: str, b: str, **kw: object) -> Lane:
    """A lane (bidirectional unless told)."""
    return Lane.model_validate({"start": a, "end": b, **kw})


def make_site(waypoints: list[Waypoint], lanes: list[Lane], lifts: tuple[Lift, ...] = ()) -> Site:
    """A site from waypoints and lanes; levels are taken from the waypoints."""
    levels = sorted({w.level for w in waypoints})
    return Site(
        name="test",
        kind=SiteKind.HOSPITAL,
        levels=tuple(
            Level(
                name=name,
                elevation_m=3.0 * i,
                waypoints=tuple(w for w in waypoints if w.level == name),
                lanes=tuple(
                    ln
                    for ln in lanes
                    if any(w.id == ln.start and w.level == name for w in waypoints)
                ),
            )
            for i, name in enumerate(levels)
        ),
        lifts=lifts,
        geo_reference=GEO,
    )


def corridor_site(length: int = 6, *, pockets: bool = True) -> Site:
    """Waypoints c0..c{n-1} 3 m apart in a row; with pockets, holding points off c1 and c{n-2}.

    A robot in the corridor can only pass another by stepping into a pocket.
    """
    points = [wp(f"c{i}", 3.0 * i, 0.0) for i in range(length)]
    lanes = [lane(f"c{i}", f"c{i + 1}") for i in range(length - 1)]
    if pockets:
        for i in (1, length - 2):
            points.append(wp(f"h{i}", 3.0 * i, 3.0, holding=True))
            lanes.append(lane(f"c{i}", f"h{i}"))
    return make_site(points, lanes)


def ring_site() -> Site:
    """A triangle r0-r1-r2 (4 m sides) with a holding pocket p0, p1, p2 off each corner."""
    corners = [(0.0, 0.0), (4.0, 0.0), (2.0, 3.5)]
    points = [wp(f"r{i}", x, y) for i, (x, y) in enumerate(corners)]
    points += [
        wp(f"p{i}", x * 1.8 - 1.6, y * 1.8 - 1.0, holding=True) for i, (x, y) in enumerate(corners)
    ]
    lanes = [lane("r0", "r1"), lane("r1", "r2"), lane("r2", "r0")]
    lanes += [lane(f"r{i}", f"p{i}") for i in range(3)]
    return make_site(points, lanes)


def lift_site(*, second_lift_gap: bool = True) -> Site:
    """Two levels joined by lift ``lift_a`` (cabin a1/a2) and lift ``lift_b`` (cabin b1/b2).

    L1: s0 - s1 (holding point) - s2 - s3 - lob1 - a1 (cabin); s3 - lobb1 - b1 (cabin).
    L2: a2 (cabin) - lob2 - t1 - t2 - t3; b2 (cabin) - lobb2 - t2. Without
    ``second_lift_gap`` lob2 also leads straight to lift_b's L2 lobby.
    """
    points = [
        wp("s0", 0, 0),
        wp("s1", 3, 0, holding=True),
        wp("s2", 6, 0),
        wp("s3", 9, 0),
        wp("lob1", 12, 0),
        wp("a1", 15, 0),
        wp("lobb1", 9, 3),
        wp("b1", 9, 6),
        wp("a2", 15, 0, "L2"),
        wp("lob2", 12, 0, "L2"),
        wp("t1", 9, 0, "L2"),
        wp("t2", 6, 0, "L2"),
        wp("t3", 3, 0, "L2"),
        wp("b2", 9, 6, "L2"),
        wp("lobb2", 9, 3, "L2"),
    ]
    lanes = [
        lane("s0", "s1"),
        lane("s1", "s2"),
        lane("s2", "s3"),
        lane("s3", "lob1"),
        lane("lob1", "a1"),
        lane("s3", "lobb1"),
        lane("lobb1", "b1"),
        lane("a2", "lob2"),
        lane("lob2", "t1"),
        lane("t1", "t2"),
        lane("t2", "t3"),
        lane("b2", "lobb2"),
        lane("lobb2", "t1" if second_lift_gap else "lob2"),
    ]
    lifts = (
        Lift(
            name="lift_a",
            levels=("L1", "L2"),
            x=15,
            y=0,
            cabin_width_m=2,
            cabin_depth_m=2,
            waypoints={"L1": ("a1",), "L2": ("a2",)},
        ),
        Lift(
            name="lift_b",
            levels=("L1", "L2"),
            x=9,
            y=6,
            cabin_width_m=2,
            cabin_depth_m=2,
            waypoints={"L1": ("b1",), "L2": ("b2",)},
        ),
    )
    return make_site(points, lanes, lifts)


# -- the stepper -----------------------------------------------------------------------------


class SafetyViolation(AssertionError):
    """The stepper saw two robots in conflict, or a robot where it must not wait."""


@dataclass
class Outcome:
    """What a stepper run did."""

    finished: list[str] = field(default_factory=list)
    ticks: int = 0
    resolutions: list[Resolution] = field(default_factory=list)
    deadlocks_seen: int = 0
    unresolved: int = 0
    max_lift_holders: Counter[str] = field(default_factory=Counter)


class Stepper:
    """Moves planned robots one node per tick along their released base (lockstep).

    ``move_probability`` < 1 makes robots randomly slow (seeded by ``rng``). Robots that
    reach the end of their path are released and leave the table.
    """

    def __init__(
        self,
        manager: TrafficManager,
        *,
        rng: random.Random | None = None,
        move_probability: float = 1.0,
        resolve: bool = True,
    ) -> None:
        self.manager = manager
        self.rng = rng or random.Random(0)
        self.move_probability = move_probability
        self.resolve = resolve
        self.position = {robot: manager.current_node(robot) for robot in manager.robots}
        self.outcome = Outcome()

    def tick(self) -> None:
        """Each robot asks for its release and moves at most one node; then checks."""
        for robot in sorted(self.position):
            if robot in self.outcome.finished:
                continue
            release = self.manager.request_release(robot, self.position[robot])
            if self.position[robot] < release and self.rng.random() < self.move_probability:
                self.position[robot] += 1
                self.manager.on_progress(robot, self.position[robot])
            self.check_safety()
            if self.position[robot] == self.manager.path(robot).last:
                self.manager.release_all(robot)
                self.outcome.finished.append(robot)
        self.outcome.ticks += 1
        cycles = self.manager.detect_deadlock()
        self.outcome.deadlocks_seen += len(cycles)
        if self.resolve:
            for cycle in cycles:
                try:
                    resolution = self.manager.resolve(cycle)
                except DeadlockUnresolved:
                    # As the server does: leave it and try again once others have moved.
                    self.outcome.unresolved += 1
                    continue
                self.outcome.resolutions.append(resolution)
                if resolution.rerouted:
                    self.position[resolution.robot] = 0
            self.check_safety()

    def run(self, max_ticks: int) -> Outcome:
        """Tick until every robot finished or ``max_ticks`` passed."""
        while len(self.outcome.finished) < len(self.position) and self.outcome.ticks < max_ticks:
            self.tick()
        return self.outcome

    def check_safety(self) -> None:
        """Raise :class:`SafetyViolation` on any conflict (computed here, not by the manager)."""
        m = self.manager
        counts: Counter[str] = Counter()
        standing: Counter[str] = Counter()
        for robot in m.robots:
            holds = m.holds(robot)
            counts.update(holds)
            path = m.path(robot)
            here, release = self.position[robot], m.released_through(robot)
            if here != m.current_node(robot):
                raise SafetyViolation(f"{robot}: manager thinks it is at {m.current_node(robot)}")
            for i in range(here, release + 1):
                needed = path.occupies[i]
                if not needed <= holds:
                    raise SafetyViolation(f"{robot} may drive to node {i} without holding it")
            lifts = {r for r in holds if r.startswith("lift:")}
            if len(lifts) > 1:
                raise SafetyViolation(f"{robot} holds two lift cabins {sorted(lifts)}")
            for resource in lifts:
                self.outcome.max_lift_holders[resource] = max(
                    self.outcome.max_lift_holders[resource], len(m.holders(resource))
                )
            anchor = path.anchors[here]
            if anchor not in m.resources.cabin_lift:
                standing[anchor] += 1
            if here == release and 0 < here < path.last and m.resources.no_stop(anchor):
                raise SafetyViolation(f"{robot} waits at {anchor}, in a lift lobby or cabin")
        for resource, n in counts.items():
            if n > m.resources.capacity(resource):
                raise SafetyViolation(f"{resource} held by {n} robots")
        for anchor, n in standing.items():
            if n > 1:
                raise SafetyViolation(f"{n} robots stand on {anchor}")


def waypoint_path(site: Site, *ids: str) -> TrafficPath:
    """A path straight along the given waypoints of ``site``."""
    manager = TrafficManager(site)
    return TrafficPath.from_waypoints(list(ids), manager.resources)

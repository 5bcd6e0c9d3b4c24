"""Traffic control: a reservation table that releases each robot's path a few nodes at a time.

Issue 8 item 5. The server sends a robot its whole path, but only the part reserved for it
is *released* (VDA 5050 §6.6.2 base); the rest stays horizon, so the robot stops at the
last released node (the decision point) until an order update extends the base.

Resources (:mod:`~fleet_server.dispatch.traffic_resources`) are waypoints, lanes (one
undirected resource per pair of waypoints, plus the lane's mutex group), doors and lift
cabins. Each has a capacity (1; a lift as configured) and is never held by more robots
than that. Doors and lifts also have a first-come-first-served queue.

How a robot advances (:meth:`TrafficManager.request_release`): from its release point it
takes the path one *step* at a time, a step ending at the next node where it may stop
(:mod:`~fleet_server.dispatch.traffic_path`: never in a lift cabin or lobby, and from a
holding point before a lift through to the node after the ride in one go). A step is
taken whole or not at all, only when every resource it needs is free for this robot,
and only while the step starts within the lookahead (``lookahead_nodes`` nodes and
``lookahead_m`` metres past where the robot is; the first step past a standing robot is
always tried). The robot holds the resources of every node from where it is through its
release point and of the edges between; :meth:`TrafficManager.on_progress` frees what
lies behind it.

Deadlocks: a robot blocked by a resource held by another *waits for* it
(:meth:`TrafficManager.waits_for`). A cycle of robots that all stand at their decision
points can never move again (each holds only the node it stands on, and wants the next
one's): :meth:`TrafficManager.detect_deadlock` reports such cycles and
:meth:`TrafficManager.resolve` sends the lowest-priority robot that can step aside to the
nearest free holding point or parking spot it reaches without crossing another robot's
reservation, then back onto its own path.

Time windows: not used. A released node may be reached at any time until the robot has
passed it (the robot may be slowed by people, a door, a lift), and nothing in VDA 5050
lets the server make a robot wait for a moment rather than for an update; so a
reservation lasts from release until the robot has passed, and two robots share a
waypoint only one after the other. The lookahead keeps those reservations short.

Invariants (:meth:`TrafficManager.check_invariants`, run after every change when the
manager is built with ``check_invariants=True``, as tests do): no resource over capacity;
every robot holds exactly what its position and release point need; no robot holds two
lift cabins; no release ends in a lift cabin or lobby except at the path's end; queues
name only planned robots waiting for what they do not hold.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from fleet_server.dispatch.traffic_deadlock import find_cycles, find_refuge_aside, find_way
from fleet_server.dispatch.traffic_errors import (
    DeadlockUnresolved,
    ReservationConflict,
    TrafficError,
    TrafficInvariantError,
    TrafficPlanError,
)
from fleet_server.dispatch.traffic_path import PathResources, TrafficPath, resolve_path
from fleet_server.dispatch.traffic_resources import (
    QUEUED_KINDS,
    ResourceKind,
    SiteResources,
    resource_kind,
)
from missions.compiler import CompiledMission
from missions.sites import RobotClass, Site

log = logging.getLogger(__name__)

__all__ = [
    "DeadlockUnresolved",
    "ReservationConflict",
    "Resolution",
    "TrafficConfig",
    "TrafficError",
    "TrafficInvariantError",
    "TrafficManager",
    "TrafficPath",
    "TrafficPlanError",
]


@dataclass(frozen=True)
class TrafficConfig:
    """Tuning of traffic control.

    ``lookahead_nodes`` / ``lookahead_m``: how far past the robot's position a step may
    start. ``lift_holding_max_nodes`` / ``lift_holding_max_m``: how far before a lift
    lobby a holding point may lie to be the place to wait for the lift.
    ``lift_capacity``: robots per cabin by lift name (default 1).
    ``stall_alarm_s``: how long robots wait for one that cannot move (offline, FATAL
    error) before an alarm is raised and they are sent around it.
    """

    lookahead_nodes: int = 3
    lookahead_m: float = 15.0
    lift_holding_max_nodes: int = 4
    lift_holding_max_m: float = 15.0
    lift_capacity: Mapping[str, int] = field(default_factory=dict)
    stall_alarm_s: float = 10.0

    def __post_init__(self) -> None:
        for name in ("lookahead_nodes", "lift_holding_max_nodes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: must be an integer >= 1, got {value!r}")
        for name in ("lookahead_m", "lift_holding_max_m", "stall_alarm_s"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise ValueError(f"{name}: must be a finite number >= 0, got {value!r}")


@dataclass(frozen=True)
class Resolution:
    """How a deadlock was broken.

    Usually ``robot`` steps aside to ``refuge`` and comes back: its new path (already
    planned) is ``path``: the node it stands on (node ``resume_index`` of its old path),
    the ``detour`` waypoints out to the refuge and back towards that node, then its old
    path again from node ``resume_index`` on; the server must send it as a new order.

    When ``refuge`` is None the robot was already waiting at a refuge for the others to
    pass, and that wait was part of the cycle: it stops waiting and goes on along the
    path it has (``detour`` is empty, ``path`` unchanged, no new order needed).

    A robot sent around a robot that cannot move (:meth:`TrafficManager.bypass`) has
    ``rejoin_index`` set and no refuge: its new path is the node it stands on (node
    ``resume_index``), the ``detour`` waypoints, then its old path from node
    ``rejoin_index`` on; the old nodes in between are left out.
    """

    robot: str
    cycle: tuple[str, ...]
    refuge: str | None
    detour: tuple[str, ...]
    resume_index: int
    path: TrafficPath
    rejoin_index: int | None = None

    @property
    def rerouted(self) -> bool:
        """True if the robot has a new path (and so needs a new order)."""
        return self.refuge is not None or self.rejoin_index is not None

    def new_index(self, old_index: int) -> int:
        """Where node ``old_index`` (>= ``resume_index``) of the old path is in the new one."""
        if not self.rerouted:
            return old_index
        rejoin = self.resume_index if self.rejoin_index is None else self.rejoin_index
        if self.rejoin_index is not None and old_index == self.resume_index:
            return 0
        if old_index < rejoin:
            raise ValueError(f"node {old_index} is not on the new path (it goes on from {rejoin})")
        return old_index - rejoin + 1 + len(self.detour)


@dataclass
class _Robot:
    name: str
    plan: PathResources
    priority: int
    robot_class: RobotClass | None
    cap: int | None
    current: int = 0
    released: int = 0
    holds: frozenset[str] = frozenset()
    yielding: _Yield | None = None


@dataclass(frozen=True)
class _Yield:
    """A robot that stepped aside waits at its refuge while the others still need its way."""

    to: tuple[str, ...]
    """The robots it made way for."""
    at: int
    """The refuge's node index in its path."""
    way_back: frozenset[str]
    """Resources of its way from the refuge back onto its old path."""


@dataclass(frozen=True)
class _Block:
    resource: str
    blocker: str | None
    """The robot to wait for; None: the robot must first leave the lift it is in."""


class TrafficManager:
    """The reservation table of one site."""

    def __init__(
        self,
        site: Site,
        config: TrafficConfig | None = None,
        *,
        check_invariants: bool = False,
    ) -> None:
        self.config = config or TrafficConfig()
        self.resources = SiteResources(site, self.config.lift_capacity)
        self.checking = check_invariants
        self._robots: dict[str, _Robot] = {}
        self._holders: dict[str, list[str]] = {}
        self._queues: dict[str, list[str]] = {}

    # -- queries -------------------------------------------------------------------------

    @property
    def robots(self) -> tuple[str, ...]:
        """Robots with a plan, in the order they were planned."""
        return tuple(self._robots)

    def holds(self, robot: str) -> frozenset[str]:
        """Resources ``robot`` holds now (empty if it has no plan)."""
        st = self._robots.get(robot)
        return st.holds if st is not None else frozenset()

    def holders(self, resource: str) -> tuple[str, ...]:
        """Robots holding ``resource``, first taker first."""
        return tuple(self._holders.get(resource, ()))

    def queue(self, resource: str) -> tuple[str, ...]:
        """Robots queued for a door or lift, first come first."""
        return tuple(self._queues.get(resource, ()))

    def released_through(self, robot: str) -> int:
        """The robot's release point (node index)."""
        return self._get(robot).released

    def current_node(self, robot: str) -> int:
        """The last node the robot was reported at."""
        return self._get(robot).current

    def path(self, robot: str) -> PathResources:
        """The robot's planned path with its resources."""
        return self._get(robot).plan

    def priority(self, robot: str) -> int:
        """The robot's priority (higher goes first, and steps aside last)."""
        return self._get(robot).priority

    def _get(self, robot: str) -> _Robot:
        st = self._robots.get(robot)
        if st is None:
            raise TrafficError(f"robot {robot!r} has no plan")
        return st

    # -- planning ------------------------------------------------------------------------

    def plan(
        self,
        robot: str,
        path: TrafficPath | CompiledMission,
        *,
        priority: int = 0,
        robot_class: RobotClass | None = None,
        release_cap: int | None = None,
        at: int = 0,
        released: int | None = None,
    ) -> None:
        """Give ``robot`` a path; it stands on node 0, which it holds from now on.

        Replaces any earlier plan of the robot (keeping what node 0 needs). ``priority``:
        higher goes first when several robots wait for the same thing and steps aside
        last in a deadlock (e.g. emergency 3, high 2, normal 1, low 0). ``robot_class``
        restricts detours to lanes the robot may use. ``release_cap``: never release past
        this node until :meth:`set_release_cap` lifts it (a guidance meeting point).
        A robot already under way on the path (followed again after a server restart) is
        at node ``at`` and released through node ``released``: it holds all of that (a
        release point where the robot may not stop is carried on to the next stop).
        Raises :class:`TrafficPlanError` for a path that does not fit the site and
        :class:`ReservationConflict` if another robot holds where it stands (or what it
        was released).
        """
        if isinstance(path, CompiledMission):
            path = TrafficPath.from_compiled(path)
        resolved = resolve_path(
            path,
            self.resources,
            holding_max_nodes=self.config.lift_holding_max_nodes,
            holding_max_m=self.config.lift_holding_max_m,
        )
        _check_cap(release_cap, resolved.last)
        resolved = _stop_at_cap(resolved, release_cap, self.resources)
        through = at if released is None else released
        if not 0 <= at <= through <= resolved.last:
            raise TrafficPlanError(
                f"robot {robot!r}: at node {at}, released through {through}, "
                f"on a path of nodes 0..{resolved.last}"
            )
        if not resolved.stoppable[through]:
            through = resolved.next_step(through)
        needs = resolved.needed(at, through)
        for resource in sorted(needs):
            others = [h for h in self._holders.get(resource, ()) if h != robot]
            if len(others) >= self.resources.capacity(resource):
                raise ReservationConflict(robot, resource, tuple(others))
        old = self._robots.get(robot)
        self._leave_queues(robot)
        st = _Robot(
            robot, resolved, priority, robot_class, release_cap, current=at, released=through
        )
        if old is not None:
            st.holds = old.holds
        self._robots[robot] = st
        self._set_holds(st, needs)
        self._verify()

    def set_release_cap(self, robot: str, release_cap: int | None) -> None:
        """Release ``robot`` no further than ``release_cap`` (None: to the end)."""
        st = self._get(robot)
        _check_cap(release_cap, st.plan.last)
        st.plan = _stop_at_cap(st.plan, release_cap, self.resources)
        st.cap = release_cap
        self._trim_queues(st)
        self._verify()

    def request_release(self, robot: str, current_node_index: int) -> int:
        """The furthest node ``robot`` (now at ``current_node_index``) may be released to.

        Frees what lies behind the robot, then reserves step after step ahead within the
        lookahead; stops before a step any of whose resources another robot holds (or is
        ahead in the queue for), queueing for a door or lift. Never less than before.
        """
        st = self._get(robot)
        self._progress(st, current_node_index)
        self._extend(st)
        self._verify()
        return st.released

    def on_progress(self, robot: str, node_index: int) -> None:
        """``robot`` traversed node ``node_index``: free everything behind it."""
        self._progress(self._get(robot), node_index)
        self._verify()

    def release_all(self, robot: str) -> None:
        """Forget ``robot``'s plan and free all it holds (mission finished or cancelled)."""
        st = self._robots.pop(robot, None)
        self._leave_queues(robot)
        if st is not None:
            self._set_holds(st, frozenset())
        self._verify()

    # -- reservation mechanics -----------------------------------------------------------

    def _progress(self, st: _Robot, index: int) -> None:
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise TrafficError(f"robot {st.name!r}: node index must be an integer >= 0")
        if index > st.released:
            raise TrafficError(
                f"robot {st.name!r} reports node {index}, released only through {st.released}"
            )
        if index < st.current:
            log.debug("robot %s: stale progress %s (at %s)", st.name, index, st.current)
            return
        st.current = index
        self._set_holds(st, st.plan.needed(st.current, st.released))

    def _set_holds(self, st: _Robot, holds: frozenset[str]) -> None:
        for resource in st.holds - holds:
            holders = self._holders[resource]
            holders.remove(st.name)
            if not holders:
                del self._holders[resource]
        for resource in sorted(holds - st.holds):
            self._holders.setdefault(resource, []).append(st.name)
        st.holds = holds

    def _wanted_step(self, st: _Robot) -> int | None:
        """The end of the next step the robot would take now, if any."""
        plan, released, here = st.plan, st.released, st.current
        if released >= plan.last or (st.cap is not None and released >= st.cap):
            return None
        if (
            st.yielding is not None
            and released >= st.yielding.at
            and self._in_the_way(st) is not None
        ):
            return None  # stay at the refuge
        if released > here and (
            released + 1 - here > self.config.lookahead_nodes
            or plan.offsets_m[released + 1] - plan.offsets_m[here] > self.config.lookahead_m
        ):
            return None
        end = plan.next_step(released)
        if st.cap is not None and end > st.cap:
            return None
        return end

    def _in_the_way(self, st: _Robot) -> tuple[str, str] | None:
        """(robot, resource): one the yielding robot made way for still needs its way back."""
        if st.yielding is None:
            return None
        for name in st.yielding.to:
            other = self._robots.get(name)
            if other is None:
                continue
            common = other.plan.needed(other.current, other.plan.last) & st.yielding.way_back
            if common:
                return name, min(common)
        return None

    def _step_block(self, st: _Robot, end: int) -> _Block | None:
        needs = st.plan.step_needs(st.released, end)
        in_lift = {r for r in st.holds if resource_kind(r) is ResourceKind.LIFT}
        other_lifts = [
            r for r in needs if resource_kind(r) is ResourceKind.LIFT and r not in in_lift
        ]
        if in_lift and other_lifts:
            return _Block(other_lifts[0], None)  # one cabin at a time
        for resource in needs:
            blocker = self._blocker(st.name, resource)
            if blocker is not None:
                return _Block(resource, blocker)
        return None

    def _blocker(self, robot: str, resource: str) -> str | None:
        """Who keeps ``robot`` from taking ``resource`` now (None: nobody)."""
        holders = self._holders.get(resource, [])
        if robot in holders:
            return None
        free = self.resources.capacity(resource) - len(holders)
        if resource_kind(resource) in QUEUED_KINDS:
            queue = self._queues.get(resource, [])
            position = queue.index(robot) if robot in queue else len(queue)
            if position < free:
                return None
            return queue[0] if free > 0 else holders[0]
        return holders[0] if free <= 0 else None

    def _extend(self, st: _Robot) -> None:
        if st.yielding is not None and self._in_the_way(st) is None:
            st.yielding = None
        while (end := self._wanted_step(st)) is not None:
            block = self._step_block(st, end)
            if block is not None:
                kind = resource_kind(block.resource)
                queue = self._queues.setdefault(block.resource, [])
                if block.blocker is not None and kind in QUEUED_KINDS and st.name not in queue:
                    queue.append(st.name)
                if not queue:
                    del self._queues[block.resource]
                break
            taken = st.plan.step_needs(st.released, end)
            self._set_holds(st, st.plan.needed(st.current, end))
            st.released = end
            for resource in taken:
                self._dequeue(resource, st.name)
        self._trim_queues(st)

    def _dequeue(self, resource: str, robot: str) -> None:
        queue = self._queues.get(resource)
        if queue is not None and robot in queue:
            queue.remove(robot)
            if not queue:
                del self._queues[resource]

    def _leave_queues(self, robot: str) -> None:
        for resource in list(self._queues):
            self._dequeue(resource, robot)

    def _trim_queues(self, st: _Robot) -> None:
        """Leave queues for what the robot's next step no longer needs."""
        end = self._wanted_step(st)
        wanted = set(st.plan.step_needs(st.released, end)) if end is not None else set()
        for resource in list(self._queues):
            if resource not in wanted:
                self._dequeue(resource, st.name)

    # -- waiting and deadlocks -----------------------------------------------------------

    def blocked_on(self) -> dict[str, tuple[str, str | None]]:
        """Robot -> (resource it waits for, robot it waits for or None)."""
        out: dict[str, tuple[str, str | None]] = {}
        for name, st in self._robots.items():
            if st.yielding is not None and st.released >= st.yielding.at:
                in_the_way = self._in_the_way(st)
                if in_the_way is not None:
                    out[name] = (in_the_way[1], in_the_way[0])
                    continue
            end = self._wanted_step(st)
            block = self._step_block(st, end) if end is not None else None
            if block is not None:
                out[name] = (block.resource, block.blocker)
        return out

    def waits_for(self) -> dict[str, str]:
        """Robot -> the robot it waits for (a holder, or one ahead of it in a queue)."""
        return {
            robot: blocker
            for robot, (_, blocker) in self.blocked_on().items()
            if blocker is not None
        }

    def idle_in_the_way(self) -> dict[str, list[str]]:
        """Robots at the end of their path that others wait for -> those others.

        Such a robot waits for nobody, so no cycle shows it; the dispatcher has to give it
        somewhere to go (a dock, a charger, a holding point) for the others to pass.
        """
        out: dict[str, list[str]] = {}
        for robot, blocker in sorted(self.waits_for().items()):
            st = self._robots[blocker]
            if st.current == st.plan.last:
                out.setdefault(blocker, []).append(robot)
        return out

    def _stopped(self, robot: str) -> bool:
        st = self._robots[robot]
        return st.current == st.released

    def detect_deadlock(self) -> list[tuple[str, ...]]:
        """Waits-for cycles among robots standing at their decision points.

        Each such robot holds only the node it stands on and waits for the next robot's,
        so none of them can ever move again. A cycle through a robot still driving its
        base is not reported yet: that robot frees what lies behind it as it goes.
        """
        waits = {
            robot: blocker
            for robot, blocker in self.waits_for().items()
            if self._stopped(robot) and self._stopped(blocker)
        }
        return find_cycles(waits)

    def resolve(
        self, cycle: tuple[str, ...] | list[str], *, immovable: Collection[str] = ()
    ) -> Resolution:
        """Break a deadlock: the lowest-priority robot of ``cycle`` that can, steps aside.

        It goes to the nearest free holding point or parking spot it can reach without
        crossing a resource another robot holds or one others queue for (preferring a
        refuge, and a way there, that no other robot still has to pass; failing any, a
        plain waypoint off everybody's way), then back to where it stood and on along its
        path; its plan is replaced by that (:attr:`Resolution.path`), and it stays at the
        refuge until the robots it made way for no longer need its way back. If no robot
        of the cycle can, a robot standing in line behind the cycle does. If a robot of
        the cycle is one waiting at its refuge, it just stops waiting (``refuge`` None).
        Robots in ``immovable`` (offline, stopped by an error) are never sent aside.
        Raises :class:`DeadlockUnresolved` when nobody can move now (try again later).
        """
        members = tuple(cycle)
        if tuple(sorted(members)) not in {tuple(sorted(c)) for c in self.detect_deadlock()}:
            raise TrafficError(f"robots {', '.join(members)} are not deadlocked now")
        yielding = self._yield_in_cycle(members)
        if yielding is not None:
            return yielding
        for victim in self._candidates(members):
            if victim in immovable:
                continue
            resolution = self._step_aside(self._robots[victim], members)
            if resolution is not None:
                log.info(
                    "deadlock %s: %s steps aside to %s",
                    ", ".join(members),
                    victim,
                    resolution.refuge,
                )
                return resolution
        raise DeadlockUnresolved(
            f"robots {', '.join(members)}: none of them, nor any robot queued behind them, "
            "can reach a free holding point or parking spot"
        )

    def make_room(self, robot: str, for_robot: str) -> Resolution | None:
        """``robot`` backs out of the way of ``for_robot``, which stands where its path ends.

        For a robot at the end of its path (no mission) that others wait for and that has
        no way out but past ``robot`` (a dead end): ``robot``, standing at its decision
        point, steps aside to a refuge as in :meth:`resolve` and waits there until
        ``for_robot`` no longer stands on or needs its way back up to where ``for_robot``
        stood. None if ``robot`` has no refuge it can reach now.
        """
        st, other = self._get(robot), self._get(for_robot)
        if not self._stopped(robot):
            raise TrafficError(f"robot {robot!r} is not standing at its decision point")
        blocked_at = other.plan.anchors[other.current]
        resolution = self._step_aside(st, (robot, for_robot))
        if resolution is None:
            return None
        moved = self._robots[robot]
        if moved.yielding is not None:
            plan = moved.plan
            start = resolution.new_index(resolution.resume_index)
            until = next(
                (k for k in range(start, plan.last + 1) if plan.anchors[k] == blocked_at), start
            )
            way_back = plan.needed(moved.yielding.at, until) - plan.occupies[moved.yielding.at]
            moved.yielding = dataclasses.replace(moved.yielding, way_back=way_back)
        log.info("%s steps aside to %s, making room for %s", robot, resolution.refuge, for_robot)
        self._verify()
        return resolution

    def bypass(
        self,
        robot: str,
        avoid: Collection[str],
        *,
        may_leave_out: Callable[[int, int], bool] = lambda _resume, _rejoin: True,
    ) -> Resolution | None:
        """``robot``, stopped at its decision point, goes around the resources ``avoid``.

        For a robot waiting for one that cannot move (offline, stopped by an error): its
        new path leaves the old one at its release point and joins it again at the first
        graph waypoint past the stretch that needs ``avoid``, by the shortest way that
        crosses nothing in ``avoid`` (and, if there is such a way, nothing other robots
        hold). ``may_leave_out(resume, rejoin)`` says whether the old nodes between carry
        no work the robot must do. The plan is replaced (:attr:`Resolution.path`; the
        server sends it as a new order). None if there is no such way, or the robot is
        not stopped at its decision point or waits at a refuge.
        """
        st = self._get(robot)
        if not self._stopped(robot) or st.yielding is not None:
            return None
        plan, r, blocked = st.plan, st.released, frozenset(avoid)
        first = next(
            (
                i
                for i in range(r + 1, plan.last + 1)
                if (plan.traverses[i - 1] | plan.occupies[i]) & blocked
            ),
            None,
        )
        if first is None:
            return None
        rejoin = next(
            (
                k
                for k in range(first, plan.last + 1)
                if plan.path.waypoints[k] is not None and not plan.occupies[k] & blocked
            ),
            None,
        )
        if rejoin is None or (st.cap is not None and r < st.cap < rejoin):
            return None
        if not may_leave_out(r, rejoin):
            return None
        others = {res for name, o in self._robots.items() if name != robot for res in o.holds}
        start, goal = plan.anchors[r], plan.anchors[rejoin]
        via = find_way(
            self.resources, st.robot_class, start, goal, taken=blocked | others
        ) or find_way(self.resources, st.robot_class, start, goal, taken=blocked)
        if via is None:
            return None
        return self._go_around(st, r, rejoin, via)

    def _go_around(
        self, st: _Robot, r: int, rejoin: int, via: tuple[str, ...]
    ) -> Resolution | None:
        old = st.plan.path
        # ``via`` runs from the anchor of node r to the waypoint of node ``rejoin``.
        detour = via[1:-1] if old.waypoints[r] is not None else via[:-1]
        new_path = self._spliced(old, r, detour, rejoin)
        resolution = Resolution(
            robot=st.name,
            cycle=(st.name,),
            refuge=None,
            detour=tuple(detour),
            resume_index=r,
            path=new_path,
            rejoin_index=rejoin,
        )
        cap = None if st.cap is None else resolution.new_index(st.cap)
        try:
            self._replan(st, new_path, cap)
        except TrafficPlanError as exc:
            log.info("%s cannot go around by %s: %s", st.name, ", ".join(detour), exc)
            return None
        log.info("%s goes around by %s to node %s", st.name, ", ".join(detour), rejoin)
        return resolution

    def _yield_in_cycle(self, cycle: tuple[str, ...]) -> Resolution | None:
        """A robot of the cycle that waits at its refuge stops waiting (the lowest first).

        Its wait was meant to let others pass; inside a cycle it keeps them from passing.
        """
        blocked = self.blocked_on()
        waiting = [
            name
            for name in cycle
            if (st := self._robots[name]).yielding is not None
            and st.released >= st.yielding.at
            and self._in_the_way(st) is not None
            and name in blocked
        ]
        if not waiting:
            return None
        name = min(waiting, key=lambda n: (self._robots[n].priority, n))
        st = self._robots[name]
        st.yielding = None
        log.info("deadlock %s: %s stops waiting at its refuge", ", ".join(cycle), name)
        self._verify()
        return Resolution(
            robot=name,
            cycle=cycle,
            refuge=None,
            detour=(),
            resume_index=st.current,
            path=st.plan.path,
        )

    def _candidates(self, cycle: tuple[str, ...]) -> list[str]:
        """Who may step aside: the cycle's robots, then those standing in line behind them.

        A robot behind a cycle member (waiting for it, directly or through others) may be
        all that keeps a cycle member from backing out; stepping aside it makes room.
        """
        by_priority = sorted(cycle, key=lambda name: (self._robots[name].priority, name))
        waits = {
            robot: blocker for robot, blocker in self.waits_for().items() if self._stopped(robot)
        }
        behind: list[str] = []
        reached = set(cycle)
        frontier = set(cycle)
        while frontier:
            layer = sorted(
                (r for r, b in waits.items() if b in frontier and r not in reached),
                key=lambda name: (self._robots[name].priority, name),
            )
            behind += layer
            reached |= set(layer)
            frontier = set(layer)
        return by_priority + behind

    def _remaining(self, robot: str) -> set[str]:
        st = self._robots[robot]
        return set(st.plan.anchors[st.current :])

    def _step_aside(self, st: _Robot, cycle: tuple[str, ...]) -> Resolution | None:
        taken = {r for name, other in self._robots.items() if name != st.name for r in other.holds}
        # Nor may it jump a queue: the robots in it would wait for it again.
        taken |= {r for r, queue in self._queues.items() if set(queue) - {st.name}}
        all_others: set[str] = set()
        for name in self._robots:
            if name != st.name:
                all_others |= self._remaining(name)
        cycle_others: set[str] = set()
        for name in cycle:
            if name != st.name:
                cycle_others |= self._remaining(name)
        refuge = find_refuge_aside(
            self.resources,
            st.robot_class,
            st.plan.anchors[st.released],
            taken=taken,
            others_ahead=all_others,
            waiting_ahead=cycle_others,
        )
        if refuge is None:
            return None
        return self._take_detour(st, cycle, refuge.waypoint, refuge.there + refuge.back[1:])

    def _take_detour(
        self, st: _Robot, cycle: tuple[str, ...], refuge: str, via: tuple[str, ...]
    ) -> Resolution:
        old = st.plan.path
        r = st.released
        # ``via`` runs from the anchor of node r out and back to it; node r itself is
        # repeated after it, so a waypoint node r stands for the last anchor of ``via``.
        detour = via[1:-1] if old.waypoints[r] is not None else via
        new_path = self._spliced(old, r, detour, r)
        resolution = Resolution(
            robot=st.name,
            cycle=cycle,
            refuge=refuge,
            detour=tuple(detour),
            resume_index=r,
            path=new_path,
        )
        cap = None if st.cap is None else resolution.new_index(max(st.cap, r))
        self._replan(st, new_path, cap)
        moved = self._robots[st.name]
        at = via.index(refuge) + (0 if old.waypoints[r] is not None else 1)
        moved.yielding = _Yield(
            to=tuple(name for name in cycle if name != st.name),
            at=at,
            way_back=moved.plan.needed(at, resolution.new_index(r)) - moved.plan.occupies[at],
        )
        return resolution

    def _spliced(
        self, old: TrafficPath, r: int, detour: tuple[str, ...], rejoin: int
    ) -> TrafficPath:
        """Node ``r`` of ``old``, the ``detour`` waypoints, then ``old`` from node ``rejoin`` on.

        ``rejoin`` equal to ``r``: out along the detour and back to node ``r``.
        """
        head: tuple[str | None, ...] = (old.waypoints[r], *detour, old.waypoints[rejoin])
        head_lengths = tuple(
            self.resources.distance_m(u, v) if u is not None and v is not None else 0.0
            for u, v in itertools.pairwise(head)
        )
        return TrafficPath(
            node_ids=(old.node_ids[r], *detour, *old.node_ids[rejoin:]),
            waypoints=(old.waypoints[r], *detour, *old.waypoints[rejoin:]),
            lengths_m=(*head_lengths, *old.lengths_m[rejoin:]),
        )

    def _replan(self, st: _Robot, path: TrafficPath, release_cap: int | None) -> None:
        """Give ``st``'s robot ``path`` in place of its plan, with its priority and class."""
        self.plan(
            st.name,
            path,
            priority=st.priority,
            robot_class=st.robot_class,
            release_cap=release_cap,
        )

    # -- views and checks ----------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The table as JSON-ready data (for ``GET /api/v1/sites/{id}/plan``)."""
        blocked = self.blocked_on()
        robots = []
        for name, st in self._robots.items():
            resource, blocker = blocked.get(name, (None, None))
            robots.append(
                {
                    "robot": name,
                    "priority": st.priority,
                    "current_node": st.current,
                    "released_through": st.released,
                    "last_node": st.plan.last,
                    "release_cap": st.cap,
                    "holds": sorted(st.holds),
                    "waiting_for": blocker,
                    "blocked_on": resource,
                }
            )
        names = sorted(set(self._holders) | set(self._queues))
        resources = [
            {
                "resource": name,
                "kind": resource_kind(name).value,
                "capacity": self.resources.capacity(name),
                "holders": list(self._holders.get(name, ())),
                "queue": list(self._queues.get(name, ())),
            }
            for name in names
        ]
        deadlocks = [list(cycle) for cycle in self.detect_deadlock()]
        return {"robots": robots, "resources": resources, "deadlocks": deadlocks}

    def check_invariants(self) -> None:
        """Raise :class:`TrafficInvariantError` if the table is inconsistent or unsafe."""
        expected: dict[str, set[str]] = {}
        for name, st in self._robots.items():
            plan = st.plan
            if not 0 <= st.current <= st.released <= plan.last:
                _fail(f"{name}: node {st.current}, released {st.released} of {plan.last}")
            if st.holds != plan.needed(st.current, st.released):
                _fail(f"{name} holds {sorted(st.holds)}, its position needs other resources")
            lifts = [r for r in st.holds if resource_kind(r) is ResourceKind.LIFT]
            if len(lifts) > 1:
                _fail(f"{name} holds two lift cabins: {sorted(lifts)}")
            if not plan.stoppable[st.released]:
                _fail(f"{name} is released to node {st.released}, in a lift cabin or lobby")
            for resource in st.holds:
                expected.setdefault(resource, set()).add(name)
        actual = {resource: set(names) for resource, names in self._holders.items()}
        if actual != expected:
            _fail("holder table and robots' holds disagree")
        for resource, names in self._holders.items():
            if len(names) != len(set(names)) or len(names) > self.resources.capacity(resource):
                _fail(f"{resource} held by {names}, capacity {self.resources.capacity(resource)}")
        for resource, queue in self._queues.items():
            if not queue or len(queue) != len(set(queue)):
                _fail(f"queue for {resource} is empty or repeats a robot: {queue}")
            for name in queue:
                if name not in self._robots or name in self._holders.get(resource, ()):
                    _fail(f"{name} queued for {resource} without a plan or while holding it")

    def _verify(self) -> None:
        if self.checking:
            self.check_invariants()


def _check_cap(cap: int | None, last: int) -> None:
    if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 0):
        raise TrafficPlanError(f"release_cap: node index must be >= 0, got {cap!r}")
    if cap is not None and cap > last:
        raise TrafficPlanError(f"release_cap: node {cap} is past the path's end ({last})")


def _stop_at_cap(
    resolved: PathResources, cap: int | None, resources: SiteResources
) -> PathResources:
    """The release cap (a guidance meeting point) is a stop, unless in a lift cabin or lobby.

    Without this a cap between a holding point and a lift lobby, where the path has no
    stop, would hold the robot at the holding point for good.
    """
    if cap is None or resolved.stoppable[cap] or resources.no_stop(resolved.anchors[cap]):
        return resolved
    stoppable = list(resolved.stoppable)
    stoppable[cap] = True
    return dataclasses.replace(resolved, stoppable=tuple(stoppable))


def _fail(message: str) -> None:
    raise TrafficInvariantError(message)

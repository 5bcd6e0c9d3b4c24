"""What traffic control knows of its robots, and the moves every part of the link makes with them.

:class:`LinkState` holds, for :class:`~fleet_server.missions.traffic_link.TrafficLink` and
its collaborators (:mod:`~fleet_server.missions.traffic_reroutes`,
:mod:`~fleet_server.missions.traffic_make_way`, :mod:`~fleet_server.missions.traffic_stalls`,
:mod:`~fleet_server.missions.traffic_resume`), the site tables, one :class:`Entry` per robot
it has placed, the orders waiting to go out and the counters. Its methods are the steps
they share: place a robot standing on its nearest waypoint, start a drive on the table,
end one (the robot keeps the place it stands on), follow a robot's progress, queue the
updates the table produced.

Nothing here takes the link's lock: every caller holds it.
"""

from __future__ import annotations

import itertools
import logging
import math
from dataclasses import dataclass, field
from enum import StrEnum

from fleet_server.dispatch.traffic import TrafficManager, TrafficPath
from fleet_server.dispatch.traffic_errors import ReservationConflict, TrafficError
from fleet_server.dispatch.traffic_release import ReleasePlanner
from fleet_server.fleet.live_state import LiveFleet, RobotKey
from fleet_server.fleet.progress import MissionProgress
from missions.compiler import CompiledMission
from missions.sites import RobotClass, Site
from missions.vda5050 import ActionStatus, ErrorLevel, InstantActions, Order, State

log = logging.getLogger("fleet_server.missions.traffic_link")
"""Every part of the link logs under the one name of :mod:`~fleet_server.missions.traffic_link`."""

PRIORITY = {"emergency": 4, "high": 3, "normal": 2, "low": 1}
"""Traffic priority by mission priority: higher goes first and steps aside last."""
MAKE_WAY_PRIORITY = 0
DONE = frozenset({ActionStatus.FINISHED, ActionStatus.FAILED})
"""Action statuses after which an action does nothing more."""


def robot_name(robot: RobotKey) -> str:
    """The robot's name in the reservation table."""
    return f"{robot[0]}/{robot[1]}"


class Role(StrEnum):
    """What a robot in the table is doing."""

    STANDING = "standing"
    MISSION = "mission"
    MAKE_WAY = "make_way"
    WALK = "walk"
    """A drive outside any mission (a guide going back after a no-show)."""


@dataclass
class TrafficCounters:
    """What traffic control did since the server started (KPIs and /metrics)."""

    reservation_conflicts: int = 0
    """Two robots on one reservation: a robot found standing where another holds, or the
    table found inconsistent. Zero when traffic control works."""
    deadlocks_detected: int = 0
    deadlocks_resolved: int = 0
    deadlocks_unresolved: int = 0
    """Deadlocks present now that no robot could be sent out of (gauge)."""
    reroutes: int = 0
    """Robots sent to a refuge and back to break a deadlock."""
    make_way: int = 0
    """Robots without a mission sent out of somebody's way."""
    backed_out: int = 0
    """Robots that stepped aside to let a boxed-in robot without a mission out."""
    updates_sent: int = 0
    starts_deferred: int = 0
    """Missions whose robot stood where another held: released through node 0 at first."""
    unmanaged: int = 0
    """Missions sent without traffic control (no site table, or a path the table refused)."""
    stalls: int = 0
    """Robots that could not move (offline, FATAL error) with others waiting for them past
    ``stall_alarm_s`` (an alarm each)."""
    detours: int = 0
    """Robots sent around a robot that could not move."""
    errors: int = 0


@dataclass
class WaitingStart:
    """A mission sent released through node 0: the robot is planned once its place is free."""

    compiled: CompiledMission


@dataclass
class Resuming:
    """An order the robot already runs, to be planned once what it was released is free."""

    compiled: CompiledMission
    release_cap: int | None
    node: int
    released: int
    """Where the robot was and how far it was released when it was handed over."""


@dataclass
class PendingReroute:
    """A robot sent onto a new order: cancelOrder sent, the new order follows once it is done."""

    cancel_action_id: str
    compiled: CompiledMission
    order: Order
    mission_id: str | None
    statuses: dict[str, ActionStatus]
    results: dict[str, str | None]
    sent: bool = False


@dataclass
class Entry:
    """A robot the link has placed on a site's table."""

    key: RobotKey
    site_id: str
    role: Role = Role.STANDING
    placed: bool = False
    order_id: str | None = None
    """The order whose releases the link cuts (missions and make-way moves)."""
    robot_class: RobotClass | None = None
    last_sequence: int | None = None
    waiting: WaitingStart | None = None
    resuming: Resuming | None = None
    ending: bool = False
    reroute: PendingReroute | None = None
    unplaced_conflict: str | None = None
    echoed: bool = False
    """The robot's state showed ``order_id``: updates of it may go out."""
    unanswered_ticks: int = 0
    """Ticks since a make-way order went out that the robot has not shown yet."""
    held: list[Order] = field(default_factory=list)
    """Updates made before the robot showed the order (its first order goes out first)."""


@dataclass
class SiteTable:
    """One site under traffic control: its reservation table and release planner."""

    site_id: str
    site: Site
    manager: TrafficManager
    planner: ReleasePlanner
    cycles: set[tuple[str, ...]] = field(default_factory=set)
    invariant_error: str | None = None
    cleared_at: float = -math.inf
    """Monotonic time the site's deadlocks and idle robots were last looked at."""


class LinkState:
    """The site tables, the robots on them, what goes out next and the counters."""

    def __init__(self, live: LiveFleet, progress: MissionProgress) -> None:
        self.live = live
        self.progress = progress
        self.counters = TrafficCounters()
        self.sites: dict[str, SiteTable] = {}
        self.robot_sites: dict[RobotKey, str] = {}
        self.entries: dict[RobotKey, Entry] = {}
        self.by_name: dict[str, RobotKey] = {}
        self.outbox: list[tuple[RobotKey, Order | InstantActions]] = []
        self._ids = itertools.count(1)

    def next_id(self) -> int:
        """A number no order or action id the link made has used yet."""
        return next(self._ids)

    def send(self, robot: RobotKey, message: Order | InstantActions) -> None:
        """Send ``message`` to ``robot`` at the next flush, after what is already queued."""
        self.outbox.append((robot, message))

    # -- entries ---------------------------------------------------------------------------

    def enter(self, robot: RobotKey, site_id: str) -> Entry:
        """A new entry for ``robot`` on ``site_id`` (replacing any it had)."""
        entry = self.entries[robot] = Entry(robot, site_id)
        self.by_name[robot_name(robot)] = robot
        return entry

    def entry_of(self, name: str) -> Entry | None:
        """The entry of the robot named ``name`` in a table, if the link follows it."""
        key = self.by_name.get(name)
        return self.entries.get(key) if key is not None else None

    def table_of(self, robot: RobotKey) -> SiteTable | None:
        """The table of the site the robot is on (its entry's, else where it works)."""
        entry = self.entries.get(robot)
        site_id = entry.site_id if entry is not None else self.robot_sites.get(robot)
        return self.sites.get(site_id) if site_id is not None else None

    def cannot_move(self, name: str) -> bool:
        """The robot is offline or reports a FATAL error: it stands where it is."""
        key = self.by_name.get(name)
        if key is None:
            return False
        live = self.live.get(*key)
        return live is None or not live.online or fatal(live.state)

    # -- standing --------------------------------------------------------------------------

    def place(self, robot: RobotKey) -> None:
        """Plan an unplaced robot standing on its nearest waypoint (needs its pose)."""
        site_id = self.robot_sites.get(robot)
        table = self.sites.get(site_id) if site_id is not None else None
        live = self.live.get(*robot)
        if site_id is None or table is None or live is None or live.pose is None:
            return
        entry = self.entries.get(robot)
        if entry is None:
            entry = self.enter(robot, site_id)
        waypoint = nearest_waypoint(table, live.pose.x, live.pose.y, live.pose.map_id)
        if waypoint is None:
            return
        self.stand(table, entry, waypoint)

    def stand(self, table: SiteTable, entry: Entry, waypoint: str) -> None:
        """Plan the robot standing on ``waypoint`` (a conflict is counted and logged once)."""
        name = robot_name(entry.key)
        path = TrafficPath.from_waypoints([waypoint], table.manager.resources)
        try:
            table.manager.plan(name, path, priority=MAKE_WAY_PRIORITY)
        except ReservationConflict as exc:
            if entry.unplaced_conflict != exc.resource:
                entry.unplaced_conflict = exc.resource
                self.counters.reservation_conflicts += 1
                log.warning("traffic control: %s", exc)
            return
        entry.placed = True
        entry.unplaced_conflict = None

    def forget(self, entry: Entry) -> None:
        """Take the robot off its table and out of the link."""
        table = self.sites.get(entry.site_id)
        if table is not None:
            self.queue(table.planner.finish(robot_name(entry.key), keep_standing=False))
        self.entries.pop(entry.key, None)
        self.by_name.pop(robot_name(entry.key), None)

    # -- drives ----------------------------------------------------------------------------

    def start_on(
        self, table: SiteTable, entry: Entry, compiled: CompiledMission, role: Role
    ) -> CompiledMission:
        """Plan a drive; returns it with its initial order issued (``compiled`` itself if
        the table refused the path: it runs free)."""
        name = robot_name(entry.key)
        priority = MAKE_WAY_PRIORITY if role is not Role.MISSION else mission_priority(compiled)
        entry.role, entry.order_id = role, compiled.order_id
        entry.last_sequence, entry.ending, entry.reroute, entry.waiting = None, False, None, None
        entry.echoed, entry.held, entry.unanswered_ticks, entry.resuming = False, [], 0, None
        try:
            prepared = table.planner.start(
                name,
                compiled,
                priority=priority,
                robot_class=entry.robot_class,
                release_cap=compiled.meeting_node_index,
            )
        except ReservationConflict as exc:
            self.counters.starts_deferred += 1
            log.info("traffic control: %s; its order waits at node 0", exc)
            prepared = compiled.with_initial_release(0)
            entry.waiting = WaitingStart(prepared)
        except TrafficError as exc:
            self.counters.unmanaged += 1
            log.warning("traffic control: %s runs free: %s", name, exc)
            entry.role, entry.order_id = Role.STANDING, None
            return compiled
        entry.placed = True
        prepared.order()  # issue it now: the planner cuts updates from it from now on
        return prepared

    def end(self, entry: Entry) -> None:
        """The robot's drive is over: its path is freed, it keeps the place it stands on."""
        table = self.sites.get(entry.site_id)
        name = robot_name(entry.key)
        entry.role, entry.order_id, entry.ending = Role.STANDING, None, False
        entry.waiting, entry.reroute, entry.last_sequence = None, None, None
        entry.resuming = None
        if table is None:
            return
        self.queue(table.planner.finish(name))
        if name not in table.manager.robots:
            entry.placed = False
            self.place(entry.key)

    def follow_node(self, table: SiteTable, entry: Entry, state: State) -> None:
        """A new lastNodeSequenceId frees what lies behind the robot and extends releases."""
        sequence = state.last_node_sequence_id
        if sequence == entry.last_sequence or not state.last_node_id or entry.waiting:
            return
        if entry.resuming is not None:
            return  # not planned yet: planned from where it then is
        entry.last_sequence = sequence
        try:
            self.queue(table.planner.on_node(robot_name(entry.key), sequence // 2))
        except TrafficError as exc:
            self.counters.errors += 1
            log.warning("traffic control: progress of %s: %s", robot_name(entry.key), exc)

    # -- sending ---------------------------------------------------------------------------

    def queue(self, updates: list[tuple[str, Order]]) -> None:
        """Queue the table's order updates (held back until the robot shows its order)."""
        for name, order in updates:
            key = self.by_name.get(name)
            if key is None:
                continue
            self.counters.updates_sent += 1
            entry = self.entries.get(key)
            if entry is not None and entry.order_id == order.order_id and not entry.echoed:
                # The first order may still be on its way (a worker thread made it): an
                # update arriving first would be taken for a new order, or refused.
                entry.held.append(order)
                continue
            self.outbox.append((key, order))

    def echoed(self, entry: Entry) -> None:
        """The robot's state shows its order: the updates held back go out."""
        if not entry.echoed:
            entry.echoed = True
            self.outbox.extend((entry.key, order) for order in entry.held)
            entry.held = []


def mission_priority(compiled: CompiledMission) -> int:
    """The mission's traffic priority."""
    return PRIORITY.get(str(compiled.mission.priority), PRIORITY["normal"])


def fatal(state: State | None) -> bool:
    """The robot reports a FATAL error: it needs someone before it moves (§6.10.6)."""
    return state is not None and any(e.error_level is ErrorLevel.FATAL for e in state.errors)


def standing_still(state: State | None) -> bool:
    """No order nodes left to drive and not driving (a finished or cancelled order)."""
    return state is not None and not state.node_states and not state.driving


def nearest_waypoint(table: SiteTable, x: float, y: float, level: str) -> str | None:
    """The waypoint of the table's map nearest to (x, y) on ``level``."""
    best: tuple[float, str] | None = None
    for wp in table.manager.resources.waypoints.values():
        if wp.level != level:
            continue
        d = math.hypot(wp.x - x, wp.y - y)
        if best is None or (d, wp.id) < best:
            best = (d, wp.id)
    return best[1] if best is not None else None


def queued_behind(waits: dict[str, str], blocker: str) -> list[str]:
    """Robots waiting for ``blocker`` directly or down a line of waits, nearest first."""
    behind: dict[str, list[str]] = {}
    for robot, ahead in waits.items():
        behind.setdefault(ahead, []).append(robot)
    out: list[str] = []
    seen = {blocker}
    frontier = [blocker]
    while frontier:
        nxt: list[str] = []
        for ahead in frontier:
            for robot in sorted(behind.get(ahead, ())):
                if robot not in seen:
                    seen.add(robot)
                    out.append(robot)
                    nxt.append(robot)
        frontier = nxt
    return out

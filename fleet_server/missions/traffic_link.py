"""Traffic control in the running server: mission orders go out through the reservation table.

Issue 8 item 5. One :class:`~fleet_server.dispatch.traffic.TrafficManager` and one
:class:`~fleet_server.dispatch.traffic_release.ReleasePlanner` per site; the
:class:`TrafficLink` feeds them what the runtime and the robots do and sends the orders
they produce:

- Every robot of a site stands somewhere on its graph. Once the link knows the robot's
  site (:meth:`TrafficLink.sync`, from the database every ``refresh_s``) and its pose, it
  plans the robot standing on its nearest waypoint, so nobody is released into it.
- Dispatch (:meth:`TrafficLink.start`): the mission's path is planned and its initial
  order releases only what is reserved (base); the rest stays horizon. A robot whose
  start place another robot holds gets its order released through node 0 only, and is
  planned on a later :meth:`TrafficLink.tick`.
- Robot state (:meth:`TrafficLink.on_state`, on the event loop): a new lastNodeSequenceId
  of the order the link released (node ``sequenceId // 2``) frees what lies behind the
  robot and extends every robot's release that can now go on; each extension is an
  order update (same orderId, next orderUpdateId, stitched at the old decision point).
- Mission end (:meth:`TrafficLink.finish`): once the robot stands still, its path is
  freed; it keeps the place it stands on.
- A drive of the server's own (:meth:`TrafficLink.walk`: a guide going back to where it
  started after a no-show) goes through the table like a robot making way.
- After a server restart (:meth:`TrafficLink.resume`): a mission order a robot already
  runs is planned from the node it was last at, holding what it was released; later
  updates extend its release as for any mission. If another robot holds some of that,
  it is planned on a later tick from where it then is.
- Every tick, and as soon as a robot reports waiting at its decision point (at most every
  ``CLEAR_EVERY_S``): releases are extended, deadlocks (waits-for cycles of robots
  standing at their decision points) are broken by sending one robot to a refuge and
  back (cancelOrder, then a new order with fresh actionIds; the mission's progress
  tracking follows the new order), and a robot without a mission that stands in
  somebody's way, or on somebody's path ahead, is sent to the nearest free holding point
  or parking spot (a "make way" order). A robot boxed in by standing robots has one of
  them moved first; one boxed in a dead end by the robot coming for its place has that
  robot back out to a refuge until it has left (:meth:`TrafficManager.make_room`).
- A robot that cannot move (offline, or reporting a FATAL error) keeps the place it holds:
  it stands there. Once robots have waited for it longer than ``stall_alarm_s`` an alarm
  names it, where it stands and who waits (cleared when it can move again or nobody waits
  any more), and each robot waiting for it at its decision point is sent around it by
  another way to its path when the map has one (a new order, as for a deadlock); it is
  never chosen to step aside or back out.
- An order ends for the link when the robot reports it standing with none of its nodes
  left (done or cancelled), or when :meth:`TrafficLink.finish` / :meth:`TrafficLink.tick`
  say its mission is over; the robot keeps the place it stands on.

Counters (:class:`TrafficCounters`) feed the scenario KPIs; :meth:`TrafficLink.snapshot`
is what ``GET /api/v1/sites/{id}/plan`` shows.

Threads: :meth:`start`, :meth:`finish`, :meth:`set_release_cap` may be called from the
runtime's worker threads; everything holds one lock, and orders are published from the
event loop only (:meth:`flush`), in the order they were made.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select

from fleet_server.alarms.model import AlarmChange, ClearAlarms, RaiseAlarm
from fleet_server.alarms.store import uncleared_keys
from fleet_server.db import Database
from fleet_server.db.models import Robot
from fleet_server.dispatch.traffic import TrafficConfig, TrafficManager, TrafficPath
from fleet_server.dispatch.traffic_deadlock import Refuge, find_refuge, find_way
from fleet_server.dispatch.traffic_errors import (
    ReservationConflict,
    TrafficError,
    TrafficInvariantError,
)
from fleet_server.dispatch.traffic_release import ReleasePlanner, Reroute, walk_mission
from fleet_server.dispatch.traffic_resources import waypoint_resource
from fleet_server.fleet.live_state import LiveFleet, RobotKey, RobotLive
from fleet_server.fleet.orders import OrderPublisher
from fleet_server.fleet.progress import MissionProgress
from fleet_server.sites.store import SiteMapUnavailable, SiteNotFound, SiteStore
from missions.compiler import CompiledMission
from missions.sites import RobotClass, Site
from missions.types import MissionSpec, PatrolMission
from missions.vda5050 import (
    Action,
    ActionStatus,
    BlockingType,
    ErrorLevel,
    InstantActions,
    Order,
    State,
    utc_timestamp,
)
from missions.vda5050.protocol import PROTOCOL_VERSION

log = logging.getLogger(__name__)

PRIORITY = {"emergency": 4, "high": 3, "normal": 2, "low": 1}
"""Traffic priority by mission priority: higher goes first and steps aside last."""
MAKE_WAY_PRIORITY = 0
MAKE_WAY_SPEED_M_S = 0.8
UNTAKEN_WAY_TICKS = 10
CLEAR_EVERY_S = 0.2
"""Between two looks at a site's deadlocks and idle robots on robots' reports."""
MOVED_OFF_M = 1.0
"""A standing robot further than this from its waypoint has moved: it is placed anew."""
STALL_ALARM = "traffic.stalled"
"""Alarm code: robots wait for a robot that cannot move (offline, FATAL error)."""
STALL_KEY_PREFIX = "traffic-stall:"
STALL_RETRY_S = 5.0
"""Between two searches for a way around a robot that cannot move, per waiting robot."""
_DONE = frozenset({ActionStatus.FINISHED, ActionStatus.FAILED})


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
class _WaitingStart:
    """A mission sent released through node 0: the robot is planned once its place is free."""

    compiled: CompiledMission


@dataclass
class _Resuming:
    """An order the robot already runs, to be planned once what it was released is free."""

    compiled: CompiledMission
    release_cap: int | None
    node: int
    released: int
    """Where the robot was and how far it was released when it was handed over."""


@dataclass
class _Reroute:
    """A robot stepping aside: cancelOrder sent, the new order follows once it is done."""

    cancel_action_id: str
    compiled: CompiledMission
    order: Order
    mission_id: str | None
    statuses: dict[str, ActionStatus]
    results: dict[str, str | None]
    sent: bool = False


@dataclass
class _Entry:
    key: RobotKey
    site_id: str
    role: Role = Role.STANDING
    placed: bool = False
    order_id: str | None = None
    """The order whose releases the link cuts (missions and make-way moves)."""
    robot_class: RobotClass | None = None
    last_sequence: int | None = None
    waiting: _WaitingStart | None = None
    resuming: _Resuming | None = None
    ending: bool = False
    reroute: _Reroute | None = None
    unplaced_conflict: str | None = None
    echoed: bool = False
    unanswered_ticks: int = 0
    """Ticks since a make-way order went out that the robot has not shown yet."""
    """The robot's state showed ``order_id``: updates of it may go out."""
    held: list[Order] = field(default_factory=list)
    """Updates made before the robot showed the order (its first order goes out first)."""


@dataclass
class _Stall:
    """Robots wait for one that cannot move."""

    since: float
    """Monotonic time somebody started waiting for it."""
    alarmed: bool = False
    tried: dict[str, float] = field(default_factory=dict)
    """Waiting robot -> monotonic time a way around was last looked for."""


@dataclass
class _SiteTable:
    site_id: str
    site: Site
    manager: TrafficManager
    planner: ReleasePlanner
    cycles: set[tuple[str, ...]] = field(default_factory=set)
    invariant_error: str | None = None
    cleared_at: float = -math.inf
    """Monotonic time the site's deadlocks and idle robots were last looked at."""
    stalls: dict[str, _Stall] = field(default_factory=dict)
    """Robots that cannot move and that others wait for, by name."""


RerouteCallback = Callable[[RobotKey, CompiledMission], None]
"""Told that a robot's mission now runs as a new order (after stepping aside)."""


class TrafficLink:
    """Traffic control for every site the runtime dispatches on."""

    def __init__(
        self,
        orders: OrderPublisher,
        live: LiveFleet,
        progress: MissionProgress,
        *,
        config: TrafficConfig | None = None,
        check_invariants: bool = False,
        on_reroute: RerouteCallback | None = None,
        raise_alarm: Callable[[AlarmChange], None] | None = None,
        refresh_s: float = 2.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.orders = orders
        self.live = live
        self.progress = progress
        self.config = config or TrafficConfig()
        self.checking = check_invariants
        self.on_reroute = on_reroute
        self.raise_alarm = raise_alarm
        """Takes alarm changes (on the event loop): robots stuck behind one that cannot move."""
        self.refresh_s = refresh_s
        self.counters = TrafficCounters()
        self._monotonic = monotonic
        self._lock = threading.RLock()
        self._sites: dict[str, _SiteTable] = {}
        self._robot_sites: dict[RobotKey, str] = {}
        self._entries: dict[RobotKey, _Entry] = {}
        self._by_name: dict[str, RobotKey] = {}
        self._outbox: list[tuple[RobotKey, Order | InstantActions]] = []
        self._ids = itertools.count(1)
        self._last_sync = -math.inf
        self._loop: asyncio.AbstractEventLoop | None = None
        self._not_loaded: dict[str, str] = {}
        """Site -> why its map could not be loaded (warned once per reason)."""

    # -- sites and robots ----------------------------------------------------------------

    def add_site(self, site_id: str, site: Site) -> None:
        """Control traffic on ``site`` (kept until the server stops)."""
        with self._lock:
            if site_id not in self._sites:
                manager = TrafficManager(site, self.config, check_invariants=self.checking)
                planner = ReleasePlanner(manager)
                self._sites[site_id] = _SiteTable(site_id, site, manager, planner)

    def set_robot_site(self, robot: RobotKey, site_id: str | None) -> None:
        """Where ``robot`` works (None: nowhere any more: it leaves the table)."""
        with self._lock:
            if site_id is None:
                self._robot_sites.pop(robot, None)
            else:
                self._robot_sites[robot] = site_id
            entry = self._entries.get(robot)
            if entry is not None and entry.site_id != site_id and entry.role is Role.STANDING:
                self._forget(entry)
            if site_id is not None and robot not in self._entries:
                self._place(robot)
        self._schedule_flush()

    async def sync(self, db: Database, sites: SiteStore) -> None:
        """Learn robots' sites and load their maps (at most every ``refresh_s``)."""
        self._loop = asyncio.get_running_loop()
        now = self._monotonic()
        if now - self._last_sync < self.refresh_s:
            return
        self._last_sync = now
        robot_sites, loaded = await asyncio.to_thread(self._load, db, sites)
        for site_id, site in loaded.items():
            self.add_site(site_id, site)
        with self._lock:
            gone = set(self._robot_sites) - set(robot_sites)
        for robot in gone:
            self.set_robot_site(robot, None)
        for robot, site_id in robot_sites.items():
            if self._robot_sites.get(robot) != site_id or robot not in self._entries:
                self.set_robot_site(robot, site_id)
        self.flush()

    def _load(self, db: Database, sites: SiteStore) -> tuple[dict[RobotKey, str], dict[str, Site]]:
        with db.session() as session:
            rows = session.execute(
                select(Robot.manufacturer, Robot.serial_number, Robot.site_id).where(
                    Robot.decommissioned.is_(False), Robot.site_id.is_not(None)
                )
            ).all()
            robot_sites = {(m, s): site_id for m, s, site_id in rows if site_id}
            loaded: dict[str, Site] = {}
            for site_id in sorted(set(robot_sites.values()) - set(self._sites)):
                try:
                    loaded[site_id] = sites.load(session, site_id)
                except (SiteNotFound, SiteMapUnavailable) as exc:
                    # Once per site and reason, not at every sync.
                    if self._not_loaded.get(site_id) != str(exc):
                        self._not_loaded[site_id] = str(exc)
                        log.warning("traffic control: site %s not loaded: %s", site_id, exc)
                else:
                    self._not_loaded.pop(site_id, None)
        return robot_sites, loaded

    def _table(self, robot: RobotKey) -> _SiteTable | None:
        entry = self._entries.get(robot)
        site_id = entry.site_id if entry is not None else self._robot_sites.get(robot)
        return self._sites.get(site_id) if site_id is not None else None

    def _place(self, robot: RobotKey) -> None:
        """Plan an unplaced robot standing on its nearest waypoint (needs its pose)."""
        site_id = self._robot_sites.get(robot)
        table = self._sites.get(site_id) if site_id is not None else None
        live = self.live.get(*robot)
        if site_id is None or table is None or live is None or live.pose is None:
            return
        entry = self._entries.get(robot)
        if entry is None:
            entry = self._entries[robot] = _Entry(robot, site_id)
            self._by_name[robot_name(robot)] = robot
        waypoint = _nearest_waypoint(table, live.pose.x, live.pose.y, live.pose.map_id)
        if waypoint is None:
            return
        self._stand(table, entry, waypoint)

    def _stand(self, table: _SiteTable, entry: _Entry, waypoint: str) -> None:
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

    def _forget(self, entry: _Entry) -> None:
        table = self._sites.get(entry.site_id)
        if table is not None:
            self._queue(table.planner.finish(robot_name(entry.key), keep_standing=False))
        self._entries.pop(entry.key, None)
        self._by_name.pop(robot_name(entry.key), None)

    # -- the runtime's side --------------------------------------------------------------

    def start(
        self,
        site_id: str,
        robot: RobotKey,
        compiled: CompiledMission,
        robot_class: RobotClass | None = None,
        *,
        send: bool = False,
    ) -> CompiledMission:
        """Plan ``robot``'s mission; returns it with the release its first order may have.

        The returned mission's initial order is issued (its ``order()`` is the order to
        send); with ``send`` the link sends it itself (from :meth:`flush`). A guidance
        mission is held at its meeting point until :meth:`set_release_cap` lifts it.
        """
        with self._lock:
            self._robot_sites.setdefault(robot, site_id)
            table = self._sites.get(site_id)
            if table is None:
                self.counters.unmanaged += 1
                log.warning("traffic control: no table for site %s; %s runs free", site_id, robot)
                return self._issue(robot, compiled, send)
            entry = self._entries.get(robot)
            if entry is None or entry.site_id != site_id:
                entry = self._entries[robot] = _Entry(robot, site_id)
                self._by_name[robot_name(robot)] = robot
            entry.robot_class = robot_class
            prepared = self._start_on(table, entry, compiled, Role.MISSION)
            return self._issue(robot, prepared, send)

    def _start_on(
        self, table: _SiteTable, entry: _Entry, compiled: CompiledMission, role: Role
    ) -> CompiledMission:
        name = robot_name(entry.key)
        priority = MAKE_WAY_PRIORITY if role is not Role.MISSION else _priority(compiled)
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
            entry.waiting = _WaitingStart(prepared)
        except TrafficError as exc:
            self.counters.unmanaged += 1
            log.warning("traffic control: %s runs free: %s", name, exc)
            entry.role, entry.order_id = Role.STANDING, None
            return compiled
        entry.placed = True
        prepared.order()  # issue it now: the planner cuts updates from it from now on
        return prepared

    def walk(
        self,
        site_id: str,
        robot: RobotKey,
        to_waypoint: str,
        *,
        order_id: str,
        mission: MissionSpec,
        speed_m_s: float,
        robot_class: RobotClass | None = None,
    ) -> CompiledMission | None:
        """Send ``robot`` to ``to_waypoint`` by the shortest way, through the table.

        Like a robot making way: the drive is released as its way is free, and the robot
        counts as busy (:meth:`busy`) until it stands at the end. ``mission`` labels the
        plan. Returns the drive with its initial order issued (send ``returned.order()``);
        None if the site has no table, the robot is not on it yet, or no way leads there.
        """
        with self._lock:
            table = self._sites.get(site_id)
            entry = self._entries.get(robot)
            live = self.live.get(*robot)
            if table is None or entry is None or entry.site_id != site_id or live is None:
                self.counters.unmanaged += 1
                log.warning("traffic control: %s drives to %s without it", robot, to_waypoint)
                return None
            name = robot_name(robot)
            manager = table.manager
            pose = live.pose
            if name in manager.robots:
                here: str | None = manager.path(name).anchors[manager.current_node(name)]
            elif pose is not None:
                here = _nearest_waypoint(table, pose.x, pose.y, pose.map_id)
            else:
                here = None
            way = (
                find_way(manager.resources, robot_class, here, to_waypoint, taken=())
                if here is not None and to_waypoint in manager.resources.waypoints
                else None
            )
            if way is None:
                self.counters.unmanaged += 1
                log.warning("traffic control: no way for %s to %s", name, to_waypoint)
                return None
            entry.robot_class = robot_class
            compiled = walk_mission(
                manager.resources,
                way,
                mission=mission,
                order_id=order_id,
                manufacturer=robot[0],
                serial_number=robot[1],
                speed_m_s=speed_m_s,
                start=(pose.x, pose.y, pose.map_id) if pose is not None else None,
            )
            prepared = self._start_on(table, entry, compiled, Role.WALK)
            if prepared is compiled:
                return None  # the table refused the path (counted, logged)
            log.info("traffic control: %s drives to %s (%s)", name, to_waypoint, order_id)
            return prepared

    def resume(
        self,
        site_id: str,
        robot: RobotKey,
        compiled: CompiledMission,
        robot_class: RobotClass | None = None,
        *,
        node: int,
        released: int,
        release_cap: int | None = None,
        echoed: bool = True,
    ) -> bool:
        """Take a mission order the robot already runs back under traffic control.

        After a server restart: ``compiled`` is the order as issued so far (updates go on
        from its last orderUpdateId), the robot was last at node ``node`` and is released
        through node ``released`` (``echoed``: its state shows the order already). Its
        place and released path are reserved now, or on a later tick from where it then
        is if another robot holds some of that. False if the site has no table or the
        path does not fit it: the order runs on outside traffic control.
        """
        with self._lock:
            self._robot_sites.setdefault(robot, site_id)
            table = self._sites.get(site_id)
            if table is None:
                self.counters.unmanaged += 1
                log.warning("traffic control: no table for site %s; %s runs free", site_id, robot)
                return False
            entry = self._entries.get(robot)
            if entry is None or entry.site_id != site_id:
                entry = self._entries[robot] = _Entry(robot, site_id)
                self._by_name[robot_name(robot)] = robot
            entry.robot_class = robot_class
            entry.role, entry.order_id = Role.MISSION, compiled.order_id
            entry.last_sequence, entry.ending, entry.reroute, entry.waiting = (
                None,
                False,
                None,
                None,
            )
            entry.echoed, entry.held, entry.unanswered_ticks = echoed, [], 0
            entry.resuming = _Resuming(compiled, release_cap, node, released)
            try:
                self._resume(table, entry, node, released)
            except TrafficError as exc:
                self.counters.unmanaged += 1
                log.warning("traffic control: %s runs free: %s", robot_name(robot), exc)
                entry.role, entry.order_id, entry.resuming = Role.STANDING, None, None
                if robot_name(robot) not in table.manager.robots:
                    entry.placed = False
                    self._place(robot)
                return False
        self._schedule_flush()
        return True

    def _resume(self, table: _SiteTable, entry: _Entry, node: int, released: int) -> None:
        """Plan a resuming robot; left resuming (placed where it stands) on a conflict."""
        resuming = entry.resuming
        if resuming is None:
            return
        name = robot_name(entry.key)
        cap = resuming.release_cap
        try:
            updates = table.planner.resume(
                name,
                resuming.compiled,
                node=node,
                released=released,
                priority=_priority(resuming.compiled),
                robot_class=entry.robot_class,
                release_cap=None if cap is None or cap < released else cap,
            )
        except ReservationConflict as exc:
            log.info("traffic control: %s; its order is planned once that is free", exc)
            if name not in table.manager.robots:
                self._place(entry.key)
            return
        entry.resuming = None
        entry.placed = True
        entry.last_sequence = 2 * node
        self._queue(updates)
        log.info(
            "traffic control: %s runs %s again under control, at node %s, released through %s",
            name,
            resuming.compiled.order_id,
            node,
            released,
        )

    def _retry_resumes(self, table: _SiteTable) -> None:
        for entry in list(self._entries.values()):
            resuming = entry.resuming
            if resuming is None or self._sites.get(entry.site_id) is not table:
                continue
            live = self.live.get(*entry.key)
            state = live.state if live is not None else None
            if state is not None and state.order_id == resuming.compiled.order_id:
                node, released = _progress_of(state)
            elif not entry.echoed:
                node, released = resuming.node, resuming.released
            else:
                self._end(entry)  # the robot no longer runs it
                continue
            try:
                self._resume(table, entry, node, released)
            except TrafficError as exc:
                self.counters.errors += 1
                log.warning("traffic control: %s: %s", robot_name(entry.key), exc)

    def _issue(self, robot: RobotKey, compiled: CompiledMission, send: bool) -> CompiledMission:
        if send:
            self._outbox.append((robot, compiled.order()))
            self._schedule_flush()
        return compiled

    def set_release_cap(self, robot: RobotKey, release_cap: int | None) -> bool:
        """Move the robot's release cap (None: lift it). False if its mission runs free."""
        with self._lock:
            table, entry = self._table(robot), self._entries.get(robot)
            if table is None or entry is None or entry.role is not Role.MISSION:
                return False
            if entry.waiting is not None:
                return True  # planned later, without the cap
            try:
                self._queue(table.planner.set_release_cap(robot_name(robot), release_cap))
            except TrafficError as exc:
                self.counters.errors += 1
                log.warning("traffic control: release cap of %s: %s", robot_name(robot), exc)
                return False
        self._schedule_flush()
        return True

    def finish(self, robot: RobotKey) -> None:
        """The robot's mission ended (done, failed, cancelled, robot lost).

        Its path is freed once it stands still; it keeps the place it stands on.
        """
        with self._lock:
            entry = self._entries.get(robot)
            if entry is None or entry.role is not Role.MISSION:
                return
            entry.ending = True
            entry.reroute = None
            live = self.live.get(*robot)
            if live is not None and _standing_still(live.state):
                self._end(entry)
        self._schedule_flush()

    def busy(self, robot: RobotKey) -> bool:
        """Whether the robot drives for traffic control (making way, stepping aside)."""
        with self._lock:
            entry = self._entries.get(robot)
            return entry is not None and (
                entry.role in (Role.MAKE_WAY, Role.WALK) or entry.reroute is not None
            )

    def _end(self, entry: _Entry) -> None:
        table = self._sites.get(entry.site_id)
        name = robot_name(entry.key)
        entry.role, entry.order_id, entry.ending = Role.STANDING, None, False
        entry.waiting, entry.reroute, entry.last_sequence = None, None, None
        entry.resuming = None
        if table is None:
            return
        self._queue(table.planner.finish(name))
        if name not in table.manager.robots:
            entry.placed = False
            self._place(entry.key)

    # -- the robots' side (event loop) ---------------------------------------------------

    def on_state(self, robot: RobotLive) -> None:
        """A state message of ``robot`` was accepted."""
        state = robot.state
        if state is None:
            return
        with self._lock:
            entry = self._entries.get(robot.key)
            if entry is None or not entry.placed:
                if robot.key in self._robot_sites:
                    self._place(robot.key)
                return
            table = self._sites.get(entry.site_id)
            if table is None:
                return
            if entry.reroute is not None:
                self._follow_reroute(table, entry, state)
            elif entry.order_id is not None and state.order_id == entry.order_id:
                self._echoed(entry)
                self._follow_node(table, entry, state)
            # An order ends when the robot stands with none of its nodes left: done,
            # or cancelled (by the runtime, a preemption, an emergency stop).
            order_over = (
                entry.role is not Role.STANDING
                and entry.reroute is None
                and entry.waiting is None
                and state.order_id == entry.order_id
            )
            if (order_over or (entry.role is Role.MISSION and entry.ending)) and _standing_still(
                state
            ):
                self._end(entry)
            elif entry.role is Role.STANDING and _standing_still(state):
                self._check_standing(table, entry, robot)
            stopped_short = (
                entry.role is not Role.STANDING
                and entry.reroute is None
                and state.order_id == entry.order_id
                and not state.driving
            )
            if stopped_short and self._monotonic() - table.cleared_at >= CLEAR_EVERY_S:
                # A robot waits at its decision point: look for a deadlock or a robot in
                # its way now rather than at the next tick.
                self._clear_the_way(table)
        self.flush()

    def _follow_node(self, table: _SiteTable, entry: _Entry, state: State) -> None:
        sequence = state.last_node_sequence_id
        if sequence == entry.last_sequence or not state.last_node_id or entry.waiting:
            return
        if entry.resuming is not None:
            return  # not planned yet: planned from where it then is
        entry.last_sequence = sequence
        try:
            self._queue(table.planner.on_node(robot_name(entry.key), sequence // 2))
        except TrafficError as exc:
            self.counters.errors += 1
            log.warning("traffic control: progress of %s: %s", robot_name(entry.key), exc)

    def _check_standing(self, table: _SiteTable, entry: _Entry, robot: RobotLive) -> None:
        """A standing robot that moved (hand-pushed, a foreign order) is placed anew."""
        pose = robot.pose
        name = robot_name(entry.key)
        if pose is None or name not in table.manager.robots:
            return
        anchor = table.manager.path(name).anchors[table.manager.current_node(name)]
        wp = table.manager.resources.waypoints[anchor]
        if wp.level == pose.map_id and math.hypot(wp.x - pose.x, wp.y - pose.y) <= MOVED_OFF_M:
            return
        waypoint = _nearest_waypoint(table, pose.x, pose.y, pose.map_id)
        if waypoint is not None and waypoint != anchor:
            self._stand(table, entry, waypoint)

    # -- every tick (event loop) ---------------------------------------------------------

    def tick(self, running: Collection[RobotKey] | None = None) -> None:
        """Extend releases, start waiting missions, break deadlocks, clear the way.

        ``running``: the robots that run a mission or trip now; one the link still
        follows that is not among them lost it (finished, cancelled, taken away):
        :meth:`finish` is applied to it. (An order also ends for the link when the robot
        reports it standing with none of its nodes left.)
        """
        with self._lock:
            if running is not None:
                for entry in list(self._entries.values()):
                    if entry.role is Role.MISSION and entry.key not in running:
                        self.finish(entry.key)
            self._drop_untaken_ways()
            for table in self._sites.values():
                self._start_waiting(table)
                self._retry_resumes(table)
                self._queue(table.planner.advance())
                self._check(table)
                self._clear_the_way(table)
                self._watch_stalls(table)
        self.flush()

    def _clear_the_way(self, table: _SiteTable) -> None:
        table.cleared_at = self._monotonic()
        self._break_deadlocks(table)
        self._make_way(table)

    def _drop_untaken_ways(self) -> None:
        """A make-way order the robot has not taken for a while (refused, lost) is dropped:
        the robot still stands where it was, and keeps only that place."""
        for entry in list(self._entries.values()):
            if entry.role not in (Role.MAKE_WAY, Role.WALK) or entry.echoed or entry.reroute:
                continue
            entry.unanswered_ticks += 1
            if entry.unanswered_ticks > UNTAKEN_WAY_TICKS:
                log.info("traffic control: %s did not take %s", entry.key, entry.order_id)
                self._end(entry)

    def _start_waiting(self, table: _SiteTable) -> None:
        for entry in self._entries.values():
            if entry.waiting is None or self._sites.get(entry.site_id) is not table:
                continue
            issued = entry.waiting.compiled
            try:
                updates = table.planner.adopt(
                    robot_name(entry.key),
                    issued,
                    priority=_priority(issued),
                    robot_class=entry.robot_class,
                    release_cap=issued.meeting_node_index,
                )
            except ReservationConflict:
                continue
            except TrafficError as exc:
                self.counters.errors += 1
                log.warning("traffic control: %s", exc)
                continue
            entry.waiting = None
            self._queue(updates)

    def _check(self, table: _SiteTable) -> None:
        try:
            table.manager.check_invariants()
        except TrafficInvariantError as exc:
            if str(exc) != table.invariant_error:
                self.counters.reservation_conflicts += 1
                log.error("traffic control: reservation table broken: %s", exc)
            table.invariant_error = str(exc)
        else:
            table.invariant_error = None

    def _break_deadlocks(self, table: _SiteTable) -> None:
        cycles = set(table.manager.detect_deadlock())
        self.counters.deadlocks_detected += len(cycles - table.cycles)
        table.cycles = cycles
        if not cycles:
            self.counters.deadlocks_unresolved = self._unresolved()
            return
        immovable = {name for name in table.manager.robots if self._cannot_move(name)}
        for reroute in table.planner.resolve_deadlocks(
            self._new_order_id, self._unfinished(), immovable=immovable
        ):
            self.counters.deadlocks_resolved += 1
            if reroute.order is not None and reroute.compiled is not None:
                self._begin_reroute(reroute, reroute.compiled, reroute.order)
        table.cycles = set(table.manager.detect_deadlock())
        self.counters.deadlocks_unresolved = self._unresolved()

    def _unresolved(self) -> int:
        return sum(len(t.cycles) for t in self._sites.values())

    def _new_order_id(self, robot: str, compiled: CompiledMission) -> str:
        return f"{compiled.order_id}-x{next(self._ids)}"

    def _unfinished(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for key in self._entries:
            tracked = self.progress.get(key)
            if tracked is not None:
                out[robot_name(key)] = {
                    a for a in tracked.action_ids if tracked.action_status.get(a) not in _DONE
                }
        return out

    def _begin_reroute(
        self, reroute: Reroute, compiled: CompiledMission, order: Order, *, around: str = ""
    ) -> None:
        """Cancel the robot's order; its new one follows once the cancel is done. ``around``:
        the robot that cannot move it goes around (else it steps aside)."""
        key = self._by_name[reroute.robot]
        entry = self._entries[key]
        tracked = self.progress.get(key)
        cancel_id = f"traffic-cancel-{next(self._ids)}"
        entry.reroute = _Reroute(
            cancel_action_id=cancel_id,
            compiled=compiled,
            order=order,
            mission_id=tracked.mission_id if tracked is not None else None,
            statuses=dict(tracked.action_status) if tracked is not None else {},
            results=dict(tracked.results) if tracked is not None else {},
        )
        if tracked is not None:
            # The old order is cancelled on purpose: its end is not the mission's.
            self.progress.forget(key)
        entry.order_id = compiled.order_id
        if around:
            self.counters.detours += 1
            log.info(
                "traffic control: %s goes around %s by %s",
                reroute.robot,
                around,
                ", ".join(reroute.resolution.detour) or "the next lane",
            )
        else:
            self.counters.reroutes += 1
            log.info(
                "traffic control: %s steps aside to %s (deadlock %s)",
                reroute.robot,
                reroute.resolution.refuge,
                ", ".join(reroute.resolution.cycle),
            )
        self._outbox.append((key, _instant(key, "cancelOrder", cancel_id)))

    def _follow_reroute(self, table: _SiteTable, entry: _Entry, state: State) -> None:
        reroute = entry.reroute
        if reroute is None:
            return
        name = robot_name(entry.key)
        if not reroute.sent:
            cancelled = any(
                a.action_id == reroute.cancel_action_id and a.action_status in _DONE
                for a in state.action_states
            )
            if cancelled and _standing_still(state):
                reroute.sent = True
                self._outbox.append((entry.key, reroute.order))
                self._track_rerouted(entry, reroute)
            return
        if state.order_id == reroute.compiled.order_id:
            entry.reroute = None
            entry.last_sequence = None
            entry.echoed, entry.held = False, []
            self._echoed(entry)
            self._queue(table.planner.order_taken(name))
            self._follow_node(table, entry, state)

    def _track_rerouted(self, entry: _Entry, reroute: _Reroute) -> None:
        compiled = reroute.compiled
        if reroute.mission_id is not None:
            last = compiled.nodes[-1]
            actions = {a.action_id for n in compiled.nodes for a in n.actions}
            actions |= {a.action_id for e in compiled.edges for a in e.actions}
            tracked = self.progress.track(
                reroute.mission_id,
                entry.key,
                order_id=compiled.order_id,
                final_node=(last.node_id, last.sequence_id),
                action_ids=actions,
            )
            # Keep what the old order did (e.g. UV doses delivered before stepping aside).
            tracked.action_status.update(reroute.statuses)
            tracked.results.update(reroute.results)
        if self.on_reroute is not None and entry.role is Role.MISSION:
            self.on_reroute(entry.key, compiled)

    def _idle_in_the_way(self, table: _SiteTable) -> dict[str, list[str]]:
        """Standing robots others wait for, or whose place lies ahead on others' paths.

        Moving them before the others arrive keeps a robot from standing in a dead end
        that the one coming for it then closes.
        """
        manager = table.manager
        out = {blocker: list(waiting) for blocker, waiting in manager.idle_in_the_way().items()}
        standing: dict[str, str] = {}
        moving: list[str] = []
        for name in manager.robots:
            key = self._by_name.get(name)
            entry = self._entries.get(key) if key is not None else None
            if entry is None:
                continue
            here = manager.current_node(name)
            if entry.role is Role.STANDING:
                standing[manager.path(name).anchors[here]] = name
            else:
                moving.append(name)
        for name in moving:
            path = manager.path(name)
            for anchor in path.anchors[manager.current_node(name) + 1 :]:
                blocker = standing.get(anchor)
                if blocker is not None and name not in out.setdefault(blocker, []):
                    out[blocker].append(name)
        return out

    def _make_way(self, table: _SiteTable) -> None:
        moved: set[str] = set()
        for blocker, waiting in self._idle_in_the_way(table).items():
            if blocker in moved:
                continue
            outcome = self._send_aside(table, blocker, waiting)
            if outcome is True:
                moved.add(blocker)
            elif outcome is False:
                # Boxed in by robots standing around it: move one of them first.
                for neighbour in self._standing_neighbours(table, blocker):
                    if neighbour not in moved and self._send_aside(
                        table, neighbour, [blocker, *waiting]
                    ):
                        moved.add(neighbour)
                        break
                else:
                    if not self._back_out(table, blocker):
                        log.debug(
                            "traffic control: %s in the way of %s; no refuge", blocker, waiting
                        )

    def _back_out(self, table: _SiteTable, blocker: str) -> bool:
        """A robot queued up to a boxed-in standing robot backs out to let it leave.

        The robot right at ``blocker`` is tried first; when it cannot back out (others
        queued behind it in a dead end), the one behind it is tried, and so on down the
        queue, so a line of robots in a spur empties from its far end one per tick.
        """
        for robot in _queued_behind(table.manager.waits_for(), blocker):
            key = self._by_name.get(robot)
            entry = self._entries.get(key) if key is not None else None
            if entry is None or entry.role is Role.STANDING or entry.reroute is not None:
                continue
            if self._cannot_move(robot):
                continue
            if table.manager.current_node(robot) != table.manager.released_through(robot):
                continue  # still driving up to its decision point
            try:
                reroute = table.planner.make_room(
                    robot, blocker, self._new_order_id, self._unfinished()
                )
            except TrafficError as exc:
                log.info("traffic control: %s cannot back out: %s", robot, exc)
                continue
            if reroute is None:
                continue
            self.counters.backed_out += 1
            if reroute.order is not None and reroute.compiled is not None:
                self._begin_reroute(reroute, reroute.compiled, reroute.order)
            return True
        return False

    def _send_aside(self, table: _SiteTable, robot: str, waiting: list[str]) -> bool | None:
        """Send a standing robot to a refuge: True if sent, False if no refuge is free,
        None if it cannot move now (offline, charging, running an order of its own)."""
        key = self._by_name.get(robot)
        entry = self._entries.get(key) if key is not None else None
        if entry is None or entry.role is not Role.STANDING:
            return None
        live = self.live.get(*entry.key)
        if live is None or not live.online or live.charging or live.pose is None:
            log.debug("traffic control: %s in the way, cannot move now", robot)
            return None
        if _fatal(live.state):
            log.debug("traffic control: %s in the way, stopped by a FATAL error", robot)
            return None
        if not _idle(live.state):
            log.debug("traffic control: %s in the way, still running an order", robot)
            return None
        refuge = self._refuge_for(table, robot, waiting)
        if refuge is None:
            return False
        compiled = walk_mission(
            table.manager.resources,
            refuge.there,
            mission=PatrolMission.model_validate(
                {"site": table.site.name, "name": "make way", "checkpoints": [refuge.waypoint]}
            ),
            order_id=f"{entry.key[1]}-way-{next(self._ids)}",
            manufacturer=entry.key[0],
            serial_number=entry.key[1],
            speed_m_s=MAKE_WAY_SPEED_M_S,
            start=(live.pose.x, live.pose.y, live.pose.map_id),
        )
        prepared = self._start_on(table, entry, compiled, Role.MAKE_WAY)
        if prepared is compiled or entry.waiting is not None:
            entry.role, entry.order_id, entry.waiting = Role.STANDING, None, None
            self._stand(table, entry, refuge.there[0])
            return False
        self.counters.make_way += 1
        log.info(
            "traffic control: %s makes way for %s, to %s",
            robot,
            ", ".join(waiting),
            refuge.waypoint,
        )
        self._outbox.append((entry.key, prepared.order()))
        return True

    # -- robots that cannot move ---------------------------------------------------------

    def _cannot_move(self, name: str) -> bool:
        """The robot is offline or reports a FATAL error: it stands where it is."""
        key = self._by_name.get(name)
        if key is None:
            return False
        live = self.live.get(*key)
        return live is None or not live.online or _fatal(live.state)

    def _watch_stalls(self, table: _SiteTable) -> None:
        """Robots waiting for one that cannot move: alarm past ``stall_alarm_s``, and send
        those at their decision point around it where the map allows."""
        now = self._monotonic()
        waits = table.manager.waits_for()
        stuck: dict[str, list[str]] = {}
        for robot, blocker in sorted(waits.items()):
            if self._cannot_move(blocker):
                stuck.setdefault(blocker, []).append(robot)
        for name in [n for n in table.stalls if n not in stuck]:
            self._end_stall(table, name)
        for name, waiting in stuck.items():
            stall = table.stalls.setdefault(name, _Stall(now))
            if now - stall.since < self.config.stall_alarm_s:
                continue
            if not stall.alarmed:
                stall.alarmed = True
                self.counters.stalls += 1
                behind = [r for r in _queued_behind(waits, name) if r not in waiting]
                self._raise_stall(table, name, [*waiting, *behind])
            for robot in waiting:
                if now - stall.tried.get(robot, -math.inf) >= STALL_RETRY_S:
                    stall.tried[robot] = now
                    self._go_around(table, robot, name)

    def _go_around(self, table: _SiteTable, robot: str, stuck: str) -> None:
        key = self._by_name.get(robot)
        entry = self._entries.get(key) if key is not None else None
        if entry is None or entry.role is Role.STANDING or entry.reroute is not None:
            return
        if self._cannot_move(robot):
            return
        avoid = {res for name in table.stalls for res in table.manager.holds(name)}
        try:
            reroute = table.planner.bypass(robot, avoid, self._new_order_id, self._unfinished())
        except TrafficError as exc:
            self.counters.errors += 1
            log.warning("traffic control: %s cannot go around %s: %s", robot, stuck, exc)
            return
        if reroute is None:
            log.debug("traffic control: no way for %s around %s", robot, stuck)
            return
        if reroute.order is not None and reroute.compiled is not None:
            self._begin_reroute(reroute, reroute.compiled, reroute.order, around=stuck)

    def _raise_stall(self, table: _SiteTable, name: str, waiting: list[str]) -> None:
        manager = table.manager
        key = self._by_name[name]
        here = manager.path(name).anchors[manager.current_node(name)]
        wp = manager.resources.waypoints[here]
        live = self.live.get(*key)
        why = "offline" if live is None or not live.online else "stopped by a FATAL error"
        place = f"{wp.name} ({here})" if wp.name else here
        message = (
            f"robot {name} stands {why} at {place} on {wp.level}; "
            f"{', '.join(waiting)} wait{'s' if len(waiting) == 1 else ''} for it"
        )
        log.warning("traffic control: %s", message)
        self._alarm(
            RaiseAlarm(
                source="system",
                severity="warning",
                code=STALL_ALARM,
                message=message,
                at=datetime.now(UTC),
                site_id=table.site_id,
                robot=key,
                dedup_key=_stall_key(name),
            )
        )

    def _end_stall(self, table: _SiteTable, name: str) -> None:
        stall = table.stalls.pop(name)
        if stall.alarmed:
            log.info("traffic control: nobody waits for %s any more, or it can move", name)
            self._alarm(ClearAlarms(_stall_key(name), datetime.now(UTC)))

    def _alarm(self, change: AlarmChange) -> None:
        if self.raise_alarm is not None:
            self.raise_alarm(change)

    def _standing_neighbours(self, table: _SiteTable, robot: str) -> list[str]:
        """Standing robots on the waypoints next to where ``robot`` stands."""
        manager = table.manager
        here = manager.path(robot).anchors[manager.current_node(robot)]
        out = []
        for hop in manager.resources.hops(here):
            for holder in manager.holders(waypoint_resource(hop.target)):
                key = self._by_name.get(holder)
                entry = self._entries.get(key) if key is not None else None
                if entry is not None and entry.role is Role.STANDING and holder not in out:
                    out.append(holder)
        return out

    def _refuge_for(self, table: _SiteTable, robot: str, waiting: list[str]) -> Refuge | None:
        manager = table.manager
        others = [r for r in manager.robots if r != robot]
        taken = {res for r in others for res in manager.holds(r)}
        taken |= {
            res
            for r in others
            for res in manager.path(r).step_needs(
                manager.released_through(r), manager.path(r).last
            )[:1]
        }
        ahead: set[str] = set()
        for r in others:
            ahead |= set(manager.path(r).anchors[manager.current_node(r) :])
        waiting_ahead: set[str] = set()
        for r in waiting:
            waiting_ahead |= set(manager.path(r).anchors[manager.current_node(r) :])
        start = manager.path(robot).anchors[manager.current_node(robot)]
        key = self._by_name[robot]
        robot_class = self._entries[key].robot_class
        for avoid, avoid_passing, any_waypoint in (
            (ahead, True, False),
            (waiting_ahead, True, False),
            (waiting_ahead, False, False),
            (ahead, False, True),
            # Crowded: any place off the way of those it blocks (others may push it on).
            (waiting_ahead, False, True),
        ):
            refuge = find_refuge(
                manager.resources,
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

    # -- sending -------------------------------------------------------------------------

    def _queue(self, updates: list[tuple[str, Order]]) -> None:
        for name, order in updates:
            key = self._by_name.get(name)
            if key is None:
                continue
            self.counters.updates_sent += 1
            entry = self._entries.get(key)
            if entry is not None and entry.order_id == order.order_id and not entry.echoed:
                # The first order may still be on its way (a worker thread made it): an
                # update arriving first would be taken for a new order, or refused.
                entry.held.append(order)
                continue
            self._outbox.append((key, order))

    def _echoed(self, entry: _Entry) -> None:
        if not entry.echoed:
            entry.echoed = True
            self._outbox.extend((entry.key, order) for order in entry.held)
            entry.held = []

    def flush(self) -> None:
        """Publish what the table produced, in order (on the event loop)."""
        with self._lock:
            out, self._outbox = self._outbox, []
        for robot, message in out:
            if isinstance(message, Order):
                self.orders.send_order(robot[0], robot[1], message)
            else:
                self.orders.send_instant_actions(robot[0], robot[1], message)

    def _schedule_flush(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            return  # the caller is on the loop: the next flush (tick or state) sends it
        loop.call_soon_threadsafe(self.flush)

    # -- views -----------------------------------------------------------------------------

    def snapshot(self, site_id: str) -> dict[str, Any]:
        """The site's reservation table as JSON-ready data (for the plan endpoint).

        ``robots``: per robot its role, orderId, node it was last at, release point,
        what it holds and waits for; ``reservations``: one row per robot and resource
        held, with the node range (sequenceIds ``2 from_node`` .. ``2 until_node``) of the
        robot's path it is held for; ``resources``: holders and queues of every held or
        queued resource; ``deadlocks``: current waits-for cycles; ``counters``.
        """
        with self._lock:
            table = self._sites.get(site_id)
            if table is None:
                return {
                    "site_id": site_id,
                    "robots": [],
                    "reservations": [],
                    "resources": [],
                    "deadlocks": [],
                    "counters": asdict(self.counters),
                }
            snap = table.planner.snapshot()
            for row in snap["robots"]:
                key = self._by_name.get(row["robot"])
                entry = self._entries.get(key) if key is not None else None
                row["manufacturer"], row["serial_number"] = key if key else (None, None)
                row["role"] = entry.role.value if entry is not None else None
            snap["site_id"] = site_id
            snap["reservations"] = self._reservations(table)
            snap["counters"] = asdict(self.counters)
            return snap

    def _reservations(self, table: _SiteTable) -> list[dict[str, Any]]:
        manager = table.manager
        rows: list[dict[str, Any]] = []
        for name in manager.robots:
            path = manager.path(name)
            here, released = manager.current_node(name), manager.released_through(name)
            span: dict[str, list[int]] = {}
            for i in range(here, released + 1):
                for resource in path.occupies[i]:
                    span.setdefault(resource, [i, i])[1] = i
                if i < released:
                    for resource in path.traverses[i]:
                        span.setdefault(resource, [i, i + 1])[1] = i + 1
            key = self._by_name.get(name)
            for resource in sorted(span):
                first, last = span[resource]
                rows.append(
                    {
                        "robot": name,
                        "manufacturer": key[0] if key else None,
                        "serial_number": key[1] if key else None,
                        "resource": resource,
                        "from_node": first,
                        "until_node": last,
                        "from_sequence_id": 2 * first,
                        "until_sequence_id": 2 * last,
                    }
                )
        return rows

    def sites(self) -> tuple[str, ...]:
        """Site ids under traffic control."""
        with self._lock:
            return tuple(self._sites)

    def manager(self, site_id: str) -> TrafficManager | None:
        """The site's reservation table (for tests and diagnostics)."""
        with self._lock:
            table = self._sites.get(site_id)
            return table.manager if table is not None else None


def _queued_behind(waits: dict[str, str], blocker: str) -> list[str]:
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


def _progress_of(state: State) -> tuple[int, int]:
    """(node the robot was last at, node it is released through) of the order it runs."""
    node = state.last_node_sequence_id // 2
    released = [n.sequence_id // 2 for n in state.node_states if n.released]
    return node, max([node, *released])


def _stall_key(name: str) -> str:
    return f"{STALL_KEY_PREFIX}{name}"


def stale_stall_alarms(db: Database) -> list[ClearAlarms]:
    """Clears for stall alarms left uncleared by an earlier run of the server (no table
    follows them now; one that still holds is raised again by the new table)."""
    with db.session() as session:
        keys = uncleared_keys(session, STALL_KEY_PREFIX)
    now = datetime.now(UTC)
    return [ClearAlarms(key, now) for key, _, _ in keys]


def _fatal(state: State | None) -> bool:
    """The robot reports a FATAL error: it needs someone before it moves (§6.10.6)."""
    return state is not None and any(e.error_level is ErrorLevel.FATAL for e in state.errors)


def _priority(compiled: CompiledMission) -> int:
    return PRIORITY.get(str(compiled.mission.priority), PRIORITY["normal"])


def _standing_still(state: State | None) -> bool:
    """No order nodes left to drive and not driving (a finished or cancelled order)."""
    return state is not None and not state.node_states and not state.driving


def _idle(state: State | None) -> bool:
    """Standing still with every action done: the robot takes a new order (§6.6.2)."""
    return (
        state is not None
        and _standing_still(state)
        and all(a.action_status in _DONE for a in state.action_states)
    )


def _nearest_waypoint(table: _SiteTable, x: float, y: float, level: str) -> str | None:
    best: tuple[float, str] | None = None
    for wp in table.manager.resources.waypoints.values():
        if wp.level != level:
            continue
        d = math.hypot(wp.x - x, wp.y - y)
        if best is None or (d, wp.id) < best:
            best = (d, wp.id)
    return best[1] if best is not None else None


def _instant(robot: RobotKey, action_type: str, action_id: str) -> InstantActions:
    return InstantActions(
        header_id=0,
        timestamp=utc_timestamp(),
        version=PROTOCOL_VERSION,
        manufacturer=robot[0],
        serial_number=robot[1],
        actions=[
            Action(action_type=action_type, action_id=action_id, blocking_type=BlockingType.HARD)
        ],
    )

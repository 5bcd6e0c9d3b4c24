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
  runs is planned from the node it was last at, holding what it was released
  (:mod:`~fleet_server.missions.traffic_resume`).
- Every tick, and as soon as a robot reports waiting at its decision point (at most every
  ``CLEAR_EVERY_S``): releases are extended, deadlocks (waits-for cycles of robots
  standing at their decision points) are broken by sending one robot to a refuge and
  back (:mod:`~fleet_server.missions.traffic_reroutes`), and a robot without a mission
  that stands in somebody's way, or on somebody's path ahead, is sent out of it
  (:mod:`~fleet_server.missions.traffic_make_way`).
- A robot that cannot move (offline, or reporting a FATAL error) keeps the place it holds;
  robots waiting for it raise an alarm and are sent around it where the map allows
  (:mod:`~fleet_server.missions.traffic_stalls`). It is never chosen to step aside or back
  out.
- An order ends for the link when the robot reports it standing with none of its nodes
  left (done or cancelled), or when :meth:`TrafficLink.finish` / :meth:`TrafficLink.tick`
  say its mission is over; the robot keeps the place it stands on.

What the link knows of its robots, and the steps its parts share, are in
:mod:`~fleet_server.missions.traffic_state`. Counters (:class:`TrafficCounters`) feed the
scenario KPIs; :meth:`TrafficLink.snapshot` is what ``GET /api/v1/sites/{id}/plan`` shows.

Threads: :meth:`start`, :meth:`finish`, :meth:`set_release_cap` may be called from the
runtime's worker threads; everything holds one lock, and orders are published from the
event loop only (:meth:`flush`), in the order they were made.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import asdict
from typing import Any

from sqlalchemy import select

from fleet_server.alarms.model import AlarmChange
from fleet_server.db import Database
from fleet_server.db.models import Robot
from fleet_server.dispatch.traffic import TrafficConfig, TrafficManager
from fleet_server.dispatch.traffic_deadlock import find_way
from fleet_server.dispatch.traffic_errors import (
    ReservationConflict,
    TrafficError,
    TrafficInvariantError,
)
from fleet_server.dispatch.traffic_release import ReleasePlanner, walk_mission
from fleet_server.fleet.live_state import LiveFleet, LivePose, RobotKey, RobotLive
from fleet_server.fleet.orders import OrderPublisher
from fleet_server.fleet.progress import MissionProgress
from fleet_server.missions.traffic_make_way import MakeWay
from fleet_server.missions.traffic_reroutes import RerouteCallback, Reroutes
from fleet_server.missions.traffic_resume import retry_resumes, take_back
from fleet_server.missions.traffic_stalls import StallWatch
from fleet_server.missions.traffic_state import (
    Entry,
    LinkState,
    Role,
    SiteTable,
    TrafficCounters,
    mission_priority,
    nearest_waypoint,
    robot_name,
    standing_still,
)
from fleet_server.sites.store import SiteMapUnavailable, SiteNotFound, SiteStore
from missions.compiler import CompiledMission
from missions.sites import RobotClass, Site
from missions.types import MissionSpec
from missions.vda5050 import Order

log = logging.getLogger(__name__)

UNTAKEN_WAY_TICKS = 10
CLEAR_EVERY_S = 0.2
"""Between two looks at a site's deadlocks and idle robots on robots' reports."""
MOVED_OFF_M = 1.0
"""A standing robot further than this from its waypoint has moved: it is placed anew."""


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
        self._state = LinkState(live, progress)
        self.counters: TrafficCounters = self._state.counters
        self._reroutes = Reroutes(self._state, self._rerouted)
        self._make_way = MakeWay(self._state, self._reroutes)
        self._stalls = StallWatch(self._state, self._reroutes, self._alarm, monotonic)
        self._monotonic = monotonic
        self._lock = threading.RLock()
        self._last_sync = -math.inf
        self._loop: asyncio.AbstractEventLoop | None = None
        self._not_loaded: dict[str, str] = {}
        """Site -> why its map could not be loaded (warned once per reason)."""

    # -- sites and robots ----------------------------------------------------------------

    def add_site(self, site_id: str, site: Site) -> None:
        """Control traffic on ``site`` (kept until the server stops)."""
        with self._lock:
            if site_id not in self._state.sites:
                manager = TrafficManager(site, self.config, check_invariants=self.checking)
                planner = ReleasePlanner(manager)
                self._state.sites[site_id] = SiteTable(site_id, site, manager, planner)

    def set_robot_site(self, robot: RobotKey, site_id: str | None) -> None:
        """Where ``robot`` works (None: nowhere any more: it leaves the table)."""
        with self._lock:
            state = self._state
            if site_id is None:
                state.robot_sites.pop(robot, None)
            else:
                state.robot_sites[robot] = site_id
            entry = state.entries.get(robot)
            if entry is not None and entry.site_id != site_id and entry.role is Role.STANDING:
                state.forget(entry)
            if site_id is not None and robot not in state.entries:
                state.place(robot)
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
            gone = set(self._state.robot_sites) - set(robot_sites)
        for robot in gone:
            self.set_robot_site(robot, None)
        for robot, site_id in robot_sites.items():
            if self._state.robot_sites.get(robot) != site_id or robot not in self._state.entries:
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
            for site_id in sorted(set(robot_sites.values()) - set(self._state.sites)):
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

    def _enter(
        self, site_id: str, robot: RobotKey, robot_class: RobotClass | None
    ) -> tuple[SiteTable, Entry] | None:
        """The site's table and the robot's entry on it (a new one if it had none there).

        None (counted and logged) if the site has no table: the robot runs free. Called
        with the lock held.
        """
        self._state.robot_sites.setdefault(robot, site_id)
        table = self._state.sites.get(site_id)
        if table is None:
            self.counters.unmanaged += 1
            log.warning("traffic control: no table for site %s; %s runs free", site_id, robot)
            return None
        entry = self._state.entries.get(robot)
        if entry is None or entry.site_id != site_id:
            entry = self._state.enter(robot, site_id)
        entry.robot_class = robot_class
        return table, entry

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
            placed = self._enter(site_id, robot, robot_class)
            if placed is None:
                return self._issue(robot, compiled, send)
            table, entry = placed
            prepared = self._state.start_on(table, entry, compiled, Role.MISSION)
            return self._issue(robot, prepared, send)

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
            table = self._state.sites.get(site_id)
            entry = self._state.entries.get(robot)
            live = self.live.get(*robot)
            if table is None or entry is None or entry.site_id != site_id or live is None:
                self.counters.unmanaged += 1
                log.warning("traffic control: %s drives to %s without it", robot, to_waypoint)
                return None
            name = robot_name(robot)
            pose = live.pose
            way = _way_to(table, name, pose, robot_class, to_waypoint)
            if way is None:
                self.counters.unmanaged += 1
                log.warning("traffic control: no way for %s to %s", name, to_waypoint)
                return None
            entry.robot_class = robot_class
            compiled = walk_mission(
                table.manager.resources,
                way,
                mission=mission,
                order_id=order_id,
                manufacturer=robot[0],
                serial_number=robot[1],
                speed_m_s=speed_m_s,
                start=(pose.x, pose.y, pose.map_id) if pose is not None else None,
            )
            prepared = self._state.start_on(table, entry, compiled, Role.WALK)
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
            placed = self._enter(site_id, robot, robot_class)
            if placed is None:
                return False
            table, entry = placed
            taken = take_back(
                self._state,
                table,
                entry,
                compiled,
                node=node,
                released=released,
                release_cap=release_cap,
                echoed=echoed,
            )
            if not taken:
                return False
        self._schedule_flush()
        return True

    def _issue(self, robot: RobotKey, compiled: CompiledMission, send: bool) -> CompiledMission:
        if send:
            self._state.send(robot, compiled.order())
            self._schedule_flush()
        return compiled

    def set_release_cap(self, robot: RobotKey, release_cap: int | None) -> bool:
        """Move the robot's release cap (None: lift it). False if its mission runs free."""
        with self._lock:
            table, entry = self._state.table_of(robot), self._state.entries.get(robot)
            if table is None or entry is None or entry.role is not Role.MISSION:
                return False
            if entry.waiting is not None:
                return True  # planned later, without the cap
            try:
                self._state.queue(table.planner.set_release_cap(robot_name(robot), release_cap))
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
            entry = self._state.entries.get(robot)
            if entry is None or entry.role is not Role.MISSION:
                return
            entry.ending = True
            entry.reroute = None
            live = self.live.get(*robot)
            if live is not None and standing_still(live.state):
                self._state.end(entry)
        self._schedule_flush()

    def busy(self, robot: RobotKey) -> bool:
        """Whether the robot drives for traffic control (making way, stepping aside)."""
        with self._lock:
            entry = self._state.entries.get(robot)
            return entry is not None and (
                entry.role in (Role.MAKE_WAY, Role.WALK) or entry.reroute is not None
            )

    # -- the robots' side (event loop) ---------------------------------------------------

    def on_state(self, robot: RobotLive) -> None:
        """A state message of ``robot`` was accepted."""
        state = robot.state
        if state is None:
            return
        with self._lock:
            entry = self._state.entries.get(robot.key)
            if entry is None or not entry.placed:
                if robot.key in self._state.robot_sites:
                    self._state.place(robot.key)
                return
            table = self._state.sites.get(entry.site_id)
            if table is None:
                return
            if entry.reroute is not None:
                self._reroutes.follow(table, entry, state)
            elif entry.order_id is not None and state.order_id == entry.order_id:
                self._state.echoed(entry)
                self._state.follow_node(table, entry, state)
            # An order ends when the robot stands with none of its nodes left: done,
            # or cancelled (by the runtime, a preemption, an emergency stop).
            order_over = (
                entry.role is not Role.STANDING
                and entry.reroute is None
                and entry.waiting is None
                and state.order_id == entry.order_id
            )
            if (order_over or (entry.role is Role.MISSION and entry.ending)) and standing_still(
                state
            ):
                self._state.end(entry)
            elif entry.role is Role.STANDING and standing_still(state):
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

    def _check_standing(self, table: SiteTable, entry: Entry, robot: RobotLive) -> None:
        """A standing robot that moved (hand-pushed, a foreign order) is placed anew."""
        pose = robot.pose
        name = robot_name(entry.key)
        if pose is None or name not in table.manager.robots:
            return
        anchor = table.manager.path(name).anchors[table.manager.current_node(name)]
        wp = table.manager.resources.waypoints[anchor]
        if wp.level == pose.map_id and math.hypot(wp.x - pose.x, wp.y - pose.y) <= MOVED_OFF_M:
            return
        waypoint = nearest_waypoint(table, pose.x, pose.y, pose.map_id)
        if waypoint is not None and waypoint != anchor:
            self._state.stand(table, entry, waypoint)

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
                for entry in list(self._state.entries.values()):
                    if entry.role is Role.MISSION and entry.key not in running:
                        self.finish(entry.key)
            self._drop_untaken_ways()
            for table in self._state.sites.values():
                self._start_waiting(table)
                retry_resumes(self._state, table)
                self._state.queue(table.planner.advance())
                self._check(table)
                self._clear_the_way(table)
                self._stalls.watch(table, self.config.stall_alarm_s)
        self.flush()

    def _clear_the_way(self, table: SiteTable) -> None:
        table.cleared_at = self._monotonic()
        self._break_deadlocks(table)
        self._make_way.clear(table)

    def _drop_untaken_ways(self) -> None:
        """A make-way order the robot has not taken for a while (refused, lost) is dropped:
        the robot still stands where it was, and keeps only that place."""
        for entry in list(self._state.entries.values()):
            if entry.role not in (Role.MAKE_WAY, Role.WALK) or entry.echoed or entry.reroute:
                continue
            entry.unanswered_ticks += 1
            if entry.unanswered_ticks > UNTAKEN_WAY_TICKS:
                log.info("traffic control: %s did not take %s", entry.key, entry.order_id)
                self._state.end(entry)

    def _start_waiting(self, table: SiteTable) -> None:
        for entry in self._state.entries.values():
            if entry.waiting is None or self._state.sites.get(entry.site_id) is not table:
                continue
            issued = entry.waiting.compiled
            try:
                updates = table.planner.adopt(
                    robot_name(entry.key),
                    issued,
                    priority=mission_priority(issued),
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
            self._state.queue(updates)

    def _check(self, table: SiteTable) -> None:
        try:
            table.manager.check_invariants()
        except TrafficInvariantError as exc:
            if str(exc) != table.invariant_error:
                self.counters.reservation_conflicts += 1
                log.error("traffic control: reservation table broken: %s", exc)
            table.invariant_error = str(exc)
        else:
            table.invariant_error = None

    def _break_deadlocks(self, table: SiteTable) -> None:
        cycles = set(table.manager.detect_deadlock())
        self.counters.deadlocks_detected += len(cycles - table.cycles)
        table.cycles = cycles
        if not cycles:
            self.counters.deadlocks_unresolved = self._unresolved()
            return
        immovable = {name for name in table.manager.robots if self._state.cannot_move(name)}
        for reroute in table.planner.resolve_deadlocks(
            self._reroutes.new_order_id, self._reroutes.unfinished(), immovable=immovable
        ):
            self.counters.deadlocks_resolved += 1
            self._reroutes.begin(reroute)
        table.cycles = set(table.manager.detect_deadlock())
        self.counters.deadlocks_unresolved = self._unresolved()

    def _unresolved(self) -> int:
        return sum(len(t.cycles) for t in self._state.sites.values())

    def _rerouted(self, robot: RobotKey, compiled: CompiledMission) -> None:
        if self.on_reroute is not None:
            self.on_reroute(robot, compiled)

    def _alarm(self, change: AlarmChange) -> None:
        if self.raise_alarm is not None:
            self.raise_alarm(change)

    # -- sending -------------------------------------------------------------------------

    def flush(self) -> None:
        """Publish what the table produced, in order (on the event loop)."""
        with self._lock:
            out, self._state.outbox = self._state.outbox, []
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
            table = self._state.sites.get(site_id)
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
                key = self._state.by_name.get(row["robot"])
                entry = self._state.entries.get(key) if key is not None else None
                row["manufacturer"], row["serial_number"] = key if key else (None, None)
                row["role"] = entry.role.value if entry is not None else None
            snap["site_id"] = site_id
            snap["reservations"] = self._reservations(table)
            snap["counters"] = asdict(self.counters)
            return snap

    def _reservations(self, table: SiteTable) -> list[dict[str, Any]]:
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
            key = self._state.by_name.get(name)
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
            return tuple(self._state.sites)

    def manager(self, site_id: str) -> TrafficManager | None:
        """The site's reservation table (for tests and diagnostics)."""
        with self._lock:
            table = self._state.sites.get(site_id)
            return table.manager if table is not None else None


def _way_to(
    table: SiteTable,
    name: str,
    pose: LivePose | None,
    robot_class: RobotClass | None,
    to_waypoint: str,
) -> tuple[str, ...] | None:
    """The shortest way to ``to_waypoint`` from where the table has the robot (else from
    the waypoint nearest its pose), or None if there is none."""
    manager = table.manager
    if name in manager.robots:
        here: str | None = manager.path(name).anchors[manager.current_node(name)]
    elif pose is not None:
        here = nearest_waypoint(table, pose.x, pose.y, pose.map_id)
    else:
        here = None
    if here is None or to_waypoint not in manager.resources.waypoints:
        return None
    return find_way(manager.resources, robot_class, here, to_waypoint, taken=())

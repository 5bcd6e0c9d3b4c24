"""The live hub: hears every change, routes it to the clients that subscribed to its site.

Hot path: the live-fleet listener only marks a robot dirty (a set insert). Mission
transitions arrive from worker threads through `publish_mission` (a deque append).
Everything else happens in the flusher, every `flush_interval_s` on the event loop: it
builds one entry per dirty robot (at most `robot_max_hz` times a second per robot; the
latest state in each window wins), offers entries to the subscribed clients, and lets
each client turn its pending updates into one delta frame.

Two slower loops keep the hub honest without touching the hot path: one re-reads the
robot → site directory from the registry, one reads mission events and alarms stored
since the last look (creations through the API, other processes' work), so nothing is
missed even when no hook reported it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from fleet_server.auth.roles import Principal
from fleet_server.db import Database
from fleet_server.db.outage import OutageLog
from fleet_server.fleet.live_state import LiveFleet, RobotEvent, RobotKey, RobotLive
from fleet_server.live.client import ALARMS, MISSIONS, ROBOTS, SCHEDULES, LiveClient, Update
from fleet_server.live.directory import Directory, read_directory
from fleet_server.live.entries import (
    AlarmLike,
    Entry,
    alarm_entry,
    robot_entry,
    silent_robot_entry,
    transition_entry,
)
from fleet_server.live.protocol import ALL_SITES, CloseCode, encode
from fleet_server.live.queries import (
    SiteRecords,
    Watermarks,
    read_mission_changes,
    read_new_alarms,
    read_site_records,
    read_watermarks,
)
from fleet_server.missions.runtime import MissionTransition

log = logging.getLogger(__name__)

_ROBOT_EVENTS = frozenset(
    {RobotEvent.ONLINE, RobotEvent.OFFLINE, RobotEvent.STATE, RobotEvent.POSE}
)
INBOX_LIMIT = 100_000
"""Hook updates waiting for the flusher; past it they are dropped (catch-up re-reads them)."""
MISSION_VERSIONS_KEPT = 10_000
"""Missions whose newest version is remembered, to drop updates that arrive out of order."""
RATE_SLACK = 0.98
"""Timer jitter allowance: a robot's next entry may come after 98 % of the minimum gap."""


@dataclass(frozen=True)
class LiveSettings:
    """How the live stream paces and bounds itself."""

    flush_interval_s: float = 0.1
    robot_max_hz: float = 5.0
    outbox_frames: int = 4
    max_pending: int = 2000
    stall_timeout_s: float = 10.0
    directory_refresh_s: float = 5.0
    catch_up_s: float = 1.0


@dataclass
class HubStats:
    """Counters for /metrics (clients still connected add their own on top)."""

    deltas: int = 0
    deferred_flushes: int = 0
    resnapshots: int = 0
    snapshots: int = 0
    inbox_dropped: int = 0
    disconnects: collections.Counter[str] = field(default_factory=collections.Counter)


class AlarmEventLike(Protocol):
    """A change to an alarm as the alarms service announces it."""

    @property
    def alarm(self) -> AlarmLike: ...


class LiveHub:
    """Routes live changes to subscribed clients, paced and bounded per client."""

    def __init__(
        self,
        live: LiveFleet,
        db: Database,
        settings: LiveSettings | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.live = live
        self.db = db
        self.settings = settings or LiveSettings()
        self.directory = Directory()
        self.stats = HubStats()
        self._monotonic = monotonic
        self._clients: set[LiveClient] = set()
        self._by_site: dict[str, set[LiveClient]] = {}
        self._dirty: set[RobotKey] = set()
        self._moved: dict[RobotKey, str | None] = {}
        self._next_allowed: dict[RobotKey, float] = {}
        self._inbox: collections.deque[tuple[str, Hashable, str | None, object]] = (
            collections.deque()
        )
        self._mission_versions: collections.OrderedDict[str, int] = collections.OrderedDict()
        self._watermarks = Watermarks(0, 0)
        self._refresh_now = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._remove_listener = live.add_listener(self._on_robot_event)

    # -- inputs --------------------------------------------------------------------------------

    def _on_robot_event(self, event: str, robot: RobotLive) -> None:
        # Runs inside ingest for every message: O(1), nothing else.
        if event in _ROBOT_EVENTS:
            self._dirty.add(robot.key)

    def publish_mission(self, moved: MissionTransition) -> None:
        """A committed mission transition (thread-safe; the runtime's transition hook)."""
        self._put(MISSIONS, str(moved.mission_id), moved.site_id, moved)

    def publish_alarm(self, site_id: str | None, entry: Entry) -> None:
        """An alarm raised, cleared or acknowledged (thread-safe; `entry` has an `id`).

        The extension point for the alarms service: alarms that are only inserted show up
        through the catch-up read anyway; changes to existing alarms need this call.
        """
        self._put(ALARMS, entry["id"], site_id, entry)

    def on_alarm_event(self, event: AlarmEventLike) -> None:
        """An alarms-service listener: `alarms.add_listener(hub.on_alarm_event)`."""
        self.publish_alarm(event.alarm.site_id, alarm_entry(event.alarm))

    def publish_schedule(self, site_id: str | None, entry: Entry) -> None:
        """A schedule created, changed, fired or deleted (thread-safe; `entry` has an `id`)."""
        self._put(SCHEDULES, entry["id"], site_id, entry)

    def _put(self, section: str, key: Hashable, site: str | None, payload: object) -> None:
        if len(self._inbox) >= INBOX_LIMIT:
            self.stats.inbox_dropped += 1
            return
        self._inbox.append((section, key, site, payload))

    # -- clients ---------------------------------------------------------------------------------

    def connect(self, principal: Principal, token: str) -> LiveClient:
        """A new client, subscribed to nothing yet."""
        client = LiveClient(
            principal,
            token,
            outbox_frames=self.settings.outbox_frames,
            max_pending=self.settings.max_pending,
            stall_timeout_s=self.settings.stall_timeout_s,
        )
        self._clients.add(client)
        return client

    def subscribe(self, client: LiveClient, sites: tuple[str, ...]) -> None:
        """Start streaming `sites` (already checked against the client's roles)."""
        for site in sites:
            if site in client.sites:
                continue
            client.sites.add(site)
            self._by_site.setdefault(site, set()).add(client)
            client.awaiting_snapshot.add(site)
        self._start_snapshots(client)

    def unsubscribe(self, client: LiveClient, sites: tuple[str, ...]) -> None:
        """Stop streaming `sites`."""
        for site in sites:
            client.sites.discard(site)
            members = self._by_site.get(site)
            if members is not None:
                members.discard(client)
                if not members:
                    del self._by_site[site]
            client.forget_site(site)

    def disconnect(self, client: LiveClient, reason: str) -> None:
        """Forget a client whose connection ended (`reason` labels the metric)."""
        if client not in self._clients:
            return
        self.unsubscribe(client, tuple(client.sites))
        self._clients.discard(client)
        if client.snapshot_task is not None:
            client.snapshot_task.cancel()
        self.stats.deltas += client.stats.deltas
        self.stats.deferred_flushes += client.stats.deferred_flushes
        self.stats.resnapshots += client.stats.resnapshots
        self.stats.disconnects[reason] += 1

    @property
    def clients(self) -> frozenset[LiveClient]:
        """Connected clients."""
        return frozenset(self._clients)

    def site_of(self, key: RobotKey) -> str | None:
        """The site a robot is registered at, from the last directory reading."""
        return self.directory.site_of_robot.get(key)

    def _targets(self, site: str | None) -> Iterator[LiveClient]:
        if site is not None:
            yield from self._by_site.get(site, ())
        yield from self._by_site.get(ALL_SITES, ())

    # -- running ---------------------------------------------------------------------------------

    async def start(self) -> None:
        """Read the directory and the watermarks before the first client can connect."""
        self.directory = await asyncio.to_thread(read_directory, self.db)
        self._watermarks = await asyncio.to_thread(read_watermarks, self.db)

    async def run(self) -> None:
        """Flush, refresh the directory and catch up with the database until cancelled."""
        settings = self.settings
        self._loop = asyncio.get_running_loop()
        async with asyncio.TaskGroup() as group:
            group.create_task(self._every(settings.flush_interval_s, self._flush_async))
            group.create_task(self._directory_loop())
            group.create_task(self._every(settings.catch_up_s, self.catch_up))

    def refresh_directory_soon(self) -> None:
        """Re-read the registry now rather than at the next period (thread-safe), e.g. after a
        robot was registered or moved to another site."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._refresh_now.set)

    async def _directory_loop(self) -> None:
        outage = OutageLog(log, "live hub directory")
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._refresh_now.wait(), self.settings.directory_refresh_s)
            self._refresh_now.clear()
            try:
                await self.refresh_directory()
            except Exception as exc:
                outage.failed(exc, "live hub could not re-read the robot directory")
            else:
                outage.succeeded()

    def close(self) -> None:
        """Stop listening and ask every client to go (server shutdown)."""
        self._remove_listener()
        for client in list(self._clients):
            client.request_close(CloseCode.GOING_AWAY, "server shutting down")

    @staticmethod
    async def _every(period_s: float, step: Callable[[], Awaitable[None]]) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        name = getattr(step, "__name__", str(step))
        outage = OutageLog(log, f"live hub {name}")
        while True:
            try:
                await step()
            except Exception as exc:
                # A failed step (a database hiccup) must not end the stream; try again.
                outage.failed(exc, "live hub step %s failed", name)
            else:
                outage.succeeded()
            next_at = max(next_at + period_s, loop.time())
            await asyncio.sleep(next_at - loop.time())

    async def _flush_async(self) -> None:
        self.flush()

    async def refresh_directory(self) -> None:
        """Re-read robot → site from the registry; robots that moved are sent again."""
        newer = await asyncio.to_thread(read_directory, self.db)
        for key, old_site in self.directory.moved_robots(newer).items():
            self._moved[key] = old_site
            if self.live.get(*key) is not None:
                self._dirty.add(key)
        self.directory = newer

    async def catch_up(self) -> None:
        """Deliver mission changes and alarms stored since the last look."""
        marks = self._watermarks
        directory = self.directory
        missions, event_mark = await asyncio.to_thread(
            read_mission_changes, self.db, marks.mission_event_id, directory
        )
        alarms, alarm_mark = await asyncio.to_thread(
            read_new_alarms, self.db, marks.alarm_id, directory
        )
        self._watermarks = Watermarks(event_mark, alarm_mark)
        for entry in missions:
            self._deliver_mission(entry)
        for entry in alarms:
            self._deliver(ALARMS, entry["id"], entry["site"], entry)

    # -- the flusher -----------------------------------------------------------------------------

    def flush(self) -> None:
        """Route what changed since the last flush and give each client its delta."""
        now = self._monotonic()
        self._drain_inbox()
        self._route_robots(now)
        for client in list(self._clients):
            client.flush(now)
            self._start_snapshots(client)

    def _drain_inbox(self) -> None:
        inbox = self._inbox
        for _ in range(len(inbox)):
            section, key, site, payload = inbox.popleft()
            if isinstance(payload, MissionTransition):
                robot = (
                    None
                    if payload.robot_id is None
                    else self.directory.key_of_robot_id.get(payload.robot_id)
                )
                self._deliver_mission(transition_entry(payload, robot))
            elif isinstance(payload, dict):
                self._deliver(section, key, site, payload)

    def _deliver_mission(self, entry: Entry) -> None:
        mission_id: str = entry["id"]
        version: int = entry["version"]
        versions = self._mission_versions
        known = versions.get(mission_id)
        if known is not None and known > version:
            return  # a catch-up read older than what a hook already delivered
        versions[mission_id] = version
        versions.move_to_end(mission_id)
        if len(versions) > MISSION_VERSIONS_KEPT:
            versions.popitem(last=False)
        self._deliver(MISSIONS, mission_id, entry["site"], entry)

    def _deliver(self, section: str, key: Hashable, site: str | None, entry: Entry) -> None:
        update: Update | None = None
        for client in self._targets(site):
            if update is None:
                update = Update.of(site, entry)
            client.offer(section, key, update)

    def _route_robots(self, now: float) -> None:
        if not self._dirty:
            return
        dirty, self._dirty = self._dirty, set()
        min_gap = RATE_SLACK / self.settings.robot_max_hz
        for key in dirty:
            if now < self._next_allowed.get(key, 0.0):
                self._dirty.add(key)  # the latest state goes out when the window ends
                continue
            robot = self.live.get(*key)
            if robot is None:
                continue
            site = self.site_of(key)
            old_site = self._moved.pop(key, site)
            update: Update | None = None
            for client in self._recipients(site, old_site):
                if update is None:
                    update = Update.of(site, robot_entry(robot, site))
                client.offer(ROBOTS, key, update)
            if update is not None:
                self._next_allowed[key] = now + min_gap

    def _recipients(self, site: str | None, old_site: str | None) -> Iterator[LiveClient]:
        yield from self._targets(site)
        if old_site != site and old_site is not None:
            # Subscribers of the site a robot left see it once more, with its new site.
            yield from self._by_site.get(old_site, ())

    # -- snapshots -------------------------------------------------------------------------------

    def _start_snapshots(self, client: LiveClient) -> None:
        if (
            client.awaiting_snapshot
            and client.snapshot_task is None
            and client.close_request is None
        ):
            client.snapshot_task = asyncio.create_task(
                self._send_snapshots(client), name="live-snapshot"
            )

    async def _send_snapshots(self, client: LiveClient) -> None:
        try:
            while client.awaiting_snapshot and client.close_request is None:
                site = min(client.awaiting_snapshot)
                records = await asyncio.to_thread(
                    read_site_records,
                    self.db,
                    None if site == ALL_SITES else site,
                    self.directory,
                )
                # Robots are read when the frame can go out at once, so that no robot
                # update offered meanwhile is older than the snapshot (and then dropped).
                await client.wait_for_room()
                if site not in client.awaiting_snapshot or client.close_request is not None:
                    continue
                client.outbox.put_nowait(self._snapshot_frame(site, records))
                client.awaiting_snapshot.discard(site)
                client.snapshot_sent(site, {m["id"]: m["version"] for m in records.missions})
                self.stats.snapshots += 1
        except Exception:
            log.exception("live snapshot failed")
            client.request_close(CloseCode.INTERNAL_ERROR, "snapshot failed")
        finally:
            client.snapshot_task = None

    def _snapshot_frame(self, site: str, records: SiteRecords) -> str:
        every = site == ALL_SITES
        robots = []
        seen: set[RobotKey] = set()
        for robot in self.live:
            robot_site = self.site_of(robot.key)
            if every or robot_site == site:
                robots.append(robot_entry(robot, robot_site))
                seen.add(robot.key)
        for key, robot_site in self.directory.site_of_robot.items():
            if key not in seen and (every or robot_site == site):
                robots.append(silent_robot_entry(key, robot_site))
        return encode(
            {
                "type": "snapshot",
                "site": site,
                "robots": robots,
                "missions": records.missions,
                "alarms": records.alarms,
            }
        )

    async def stop_snapshots(self) -> None:
        """Cancel snapshot tasks still running (at shutdown)."""
        tasks = [c.snapshot_task for c in self._clients if c.snapshot_task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

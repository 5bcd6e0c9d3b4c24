"""Site emergency mode (fire alarm, evacuation): robots to parking, missions held, dispatch blocked.

Starting it stores the emergency, blocks new dispatch at the site at once (the runtime's
`dispatch_blocked` gate), raises a critical alarm and a feed event. A reconciling step on
the event loop then, every tick, for each site in emergency:

- takes the site's missions off their robots (`MissionRuntime.suspend`): `active` ones
  become `paused`, `assigned`/`dispatched` ones go back to `pending`; the ids of the paused
  ones are stored with the emergency;
- cancels whatever order a robot of the site still runs (cancelOrder, VDA 5050 §6.6.3),
  since a robot cannot drive its mission and to a parking spot at once;
- gives the robots distinct parking spots (least total travel time, `parking.py`) and
  sends each idle robot to its spot.

A robot that comes online later, or a server restarted mid-emergency, is handled by the
same step. Clearing stores the end, puts the paused missions back to `pending`, cancels
parking orders still under way and lifts the block once no robot drives one (or after
`CLEARING_TIMEOUT_S`), so the runtime dispatches the missions again, by the same
resumption rule as a mission whose robot was lost (`MissionRuntime.suspend`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from fleet_server.alarms.model import AlarmChange, ClearAlarms, RaiseAlarm
from fleet_server.alarms.service import AlarmService
from fleet_server.db import Database
from fleet_server.db.models import Mission, SiteEmergency
from fleet_server.feeds.events import FeedEventData, emergency_event
from fleet_server.fleet.live_state import LiveFleet, RobotKey
from fleet_server.fleet.orders import OrderPublisher, instant_action
from fleet_server.missions.parking import assign_spots, parking_order, parking_spots, spot_times
from fleet_server.missions.runtime import MissionRuntime, robot_profile
from fleet_server.missions.state_machine import IllegalTransition
from fleet_server.missions.states import MissionState
from fleet_server.robots.registry import active_robots
from fleet_server.sites.store import SiteMapUnavailable, SiteNotFound, SiteStore
from missions.compiler import MissionCompileError
from missions.vda5050 import (
    ActionStatus,
    Order,
)

log = logging.getLogger(__name__)

S = MissionState
ACTOR = "emergency"
ALARM_CODE = "site.emergency"
HELD_STATES = (S.ASSIGNED, S.DISPATCHED, S.ACTIVE, S.PAUSED)
CANCEL_RETRY_S = 5.0
"""A robot still running an order this long after our cancelOrder is told again."""
ORDER_ECHO_S = 5.0
"""A parking order the robot has not taken after this long is planned and sent again."""
CLEARING_TIMEOUT_S = 15.0


class NoEmergency(LookupError):
    """The site is not in emergency mode."""


class EmergencyActive(Exception):
    """The site is in emergency mode already."""


class Phase(StrEnum):
    """Where a robot of a site in emergency is on its way to parking."""

    OFFLINE = "offline"
    STOPPING = "stopping"
    """Still running an order; cancelOrder sent."""
    IDLE = "idle"
    """Stopped, waiting for its parking order."""
    DRIVING = "driving"
    PARKED = "parked"
    NO_SPOT = "no_spot"
    """No free parking spot it can reach: it stays where it stopped."""


@dataclass
class ParkingRobot:
    """One robot's way to parking."""

    robot: RobotKey
    phase: Phase = Phase.OFFLINE
    spot: str | None = None
    order_id: str | None = None
    order_sent_at: float = 0.0
    orders_sent: int = 0
    cancel_sent_at: float | None = None


@dataclass
class Emergency:
    """A site's emergency as the service keeps it."""

    id: uuid.UUID
    site_id: str
    reason: str
    started_at: datetime
    started_by: str
    suspended: list[str] = field(default_factory=list)
    robots: dict[RobotKey, ParkingRobot] = field(default_factory=dict)
    cleared_at: datetime | None = None
    cleared_by: str | None = None
    clearing_since: float | None = None

    @property
    def order_prefix(self) -> str:
        """Parking orders of this emergency start with it (recognised after a restart)."""
        return f"park-{self.id.hex[:12]}-"

    def snapshot(self) -> Emergency:
        """A copy the API can read while the service works on the original."""
        return replace(
            self,
            suspended=list(self.suspended),
            robots={k: replace(v) for k, v in self.robots.items()},
        )


class EmergencyService:
    """Starts, follows and clears site emergencies."""

    def __init__(
        self,
        db: Database,
        live: LiveFleet,
        runtime: MissionRuntime,
        orders: OrderPublisher,
        sites: SiteStore,
        *,
        raise_alarm: Callable[[AlarmChange], None],
        publish: Callable[[FeedEventData], None],
        tick_s: float = 0.5,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.live = live
        self.runtime = runtime
        self.orders = orders
        self.sites = sites
        self.tick_s = tick_s
        self._raise_alarm = raise_alarm
        self._publish = publish
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._active: dict[str, Emergency] = {}
        self._blocked: frozenset[str] = frozenset()
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._action_counter = 0

    # -- what the runtime and the API ask ---------------------------------------------------

    def is_blocked(self, site_id: str) -> bool:
        """True while new missions at the site must not be dispatched (any thread)."""
        return site_id in self._blocked

    def current(self, site_id: str) -> Emergency | None:
        """A copy of the site's emergency, if it is in one (or still clearing it)."""
        with self._lock:
            found = self._active.get(site_id)
            return None if found is None else found.snapshot()

    def all_current(self) -> list[Emergency]:
        """Copies of every emergency in force."""
        with self._lock:
            return [e.snapshot() for e in self._active.values()]

    def load(self) -> None:
        """Read the emergencies in force from the database (at startup)."""
        with self.db.session() as session:
            rows = session.scalars(select(SiteEmergency).where(SiteEmergency.cleared_at.is_(None)))
            with self._lock:
                for row in rows:
                    self._active[row.site_id] = Emergency(
                        id=row.id,
                        site_id=row.site_id,
                        reason=row.reason,
                        started_at=row.started_at,
                        started_by=row.started_by,
                        suspended=[str(m) for m in row.suspended_missions],
                    )
                self._blocked = frozenset(self._active)

    def start(self, session: Session, site_id: str, reason: str, actor: str) -> Emergency:
        """Put a site in emergency mode (API thread); `EmergencyActive` if it is already."""
        now = datetime.now(UTC)
        with self._lock:
            if site_id in self._active:
                raise EmergencyActive(f"site {site_id!r} is in emergency mode already")
            row = SiteEmergency(
                site_id=site_id,
                reason=reason,
                started_at=now,
                started_by=actor,
                suspended_missions=[],
            )
            session.add(row)
            session.commit()
            emergency = Emergency(row.id, site_id, reason, now, actor)
            self._active[site_id] = emergency
            self._blocked = frozenset(self._active)
            copy = emergency.snapshot()
        self._raise_alarm(
            RaiseAlarm(
                source="system",
                severity="critical",
                code=ALARM_CODE,
                message=f"site {site_id} in emergency mode: {reason} (by {actor})",
                at=now,
                site_id=site_id,
                dedup_key=_alarm_key(site_id),
            )
        )
        self._publish(emergency_event(True, site_id, row.id, reason, actor, now))
        self._wake_from_thread()
        return copy

    def clear(self, session: Session, site_id: str, actor: str) -> Emergency:
        """End a site's emergency (API thread); `NoEmergency` if it is in none."""
        now = datetime.now(UTC)
        with self._lock:
            emergency = self._active.get(site_id)
            if emergency is None or emergency.cleared_at is not None:
                raise NoEmergency(f"site {site_id!r} is not in emergency mode")
            row = session.get(SiteEmergency, emergency.id)
            if row is not None:
                row.cleared_at, row.cleared_by = now, actor
                session.commit()
            emergency.cleared_at, emergency.cleared_by = now, actor
            emergency.clearing_since = self._monotonic()
            suspended = list(emergency.suspended)
            copy = emergency.snapshot()
        # Pending now, dispatched once the block lifts (no robot still drives to parking).
        self._requeue(session, suspended)
        self._raise_alarm(ClearAlarms(_alarm_key(site_id), now))
        self._publish(emergency_event(False, site_id, emergency.id, emergency.reason, actor, now))
        self._wake_from_thread()
        return copy

    def _wake_from_thread(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake.set)

    # -- the reconciling step (event loop) ----------------------------------------------------

    async def run(self) -> None:
        """Step on every wake and at least every `tick_s`, until cancelled."""
        self._loop = asyncio.get_running_loop()
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.tick_s):  # not wait_for: see feeds.delivery
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self.step()
            except Exception:
                log.exception("emergency step failed")

    async def step(self) -> None:
        """Hold missions, stop robots and send them to parking; finish clearings."""
        with self._lock:
            emergencies = list(self._active.values())
        for emergency in emergencies:
            if emergency.clearing_since is not None:
                await self._step_clearing(emergency)
                continue
            await asyncio.to_thread(self._suspend_missions, emergency)
            await asyncio.to_thread(self._enrol_robots, emergency)
            for parking in list(emergency.robots.values()):
                self._observe(emergency, parking, stop_others=True)
            for robot, order in await asyncio.to_thread(self._plan, emergency):
                self.orders.send_order(robot[0], robot[1], order)

    async def _step_clearing(self, emergency: Emergency) -> None:
        for parking in list(emergency.robots.values()):
            self._observe(emergency, parking, stop_others=False)
            if parking.phase is Phase.DRIVING:
                self._cancel(parking)
        clearing_since = emergency.clearing_since or 0.0
        driving = any(p.phase is Phase.DRIVING for p in emergency.robots.values())
        if driving and self._monotonic() - clearing_since < CLEARING_TIMEOUT_S:
            return
        await asyncio.to_thread(self._requeue_with_session, list(emergency.suspended))
        with self._lock:
            self._active.pop(emergency.site_id, None)
            self._blocked = frozenset(self._active)
        self.runtime.poke()
        log.info("site %s: emergency cleared, dispatching again", emergency.site_id)

    # -- missions (worker thread) ---------------------------------------------------------------

    def _suspend_missions(self, emergency: Emergency) -> None:
        cause = f"site emergency: {emergency.reason}"[:200]
        added: list[str] = []
        with self.db.session() as session:
            query = select(Mission).where(
                Mission.site_id == emergency.site_id, Mission.state.in_(HELD_STATES)
            )
            for mission in list(session.scalars(query)):
                key = str(mission.id)
                held = MissionState(mission.state) is S.PAUSED
                if held and key in emergency.suspended and mission.id not in self.runtime.running:
                    continue
                try:
                    self.runtime.suspend(session, mission, cause, ACTOR)
                except (StaleDataError, IllegalTransition) as exc:
                    # The runtime moved it meanwhile: the next tick looks again.
                    session.rollback()
                    log.info("emergency: mission %s changed meanwhile: %s", key, exc)
                    continue
                if MissionState(mission.state) is S.PAUSED and key not in emergency.suspended:
                    added.append(key)
            if not added:
                return
            with self._lock:
                emergency.suspended.extend(added)
                suspended = list(emergency.suspended)
            row = session.get(SiteEmergency, emergency.id)
            if row is not None:
                row.suspended_missions = suspended
                session.commit()

    def _requeue_with_session(self, mission_ids: list[str]) -> None:
        with self.db.session() as session:
            self._requeue(session, mission_ids)

    def _requeue(self, session: Session, mission_ids: list[str]) -> None:
        for key in mission_ids:
            mission = session.get(Mission, uuid.UUID(key))
            if mission is None or MissionState(mission.state) is not S.PAUSED:
                continue
            try:
                self.runtime.requeue(session, mission, "site emergency cleared", ACTOR)
            except (StaleDataError, IllegalTransition) as exc:
                session.rollback()
                log.warning("emergency: mission %s not requeued: %s", key, exc)

    # -- robots ----------------------------------------------------------------------------------

    def _enrol_robots(self, emergency: Emergency) -> None:
        with self.db.session() as session:
            keys = [
                (r.manufacturer, r.serial_number) for r in active_robots(session, emergency.site_id)
            ]
        with self._lock:
            for key in keys:
                emergency.robots.setdefault(key, ParkingRobot(key))

    def _observe(self, emergency: Emergency, parking: ParkingRobot, *, stop_others: bool) -> None:
        """Phase from the robot's last state; a robot running another order is stopped."""
        live = self.live.get(*parking.robot)
        state = live.state if live is not None else None
        if live is None or not live.online or live.pose is None or state is None:
            parking.phase = Phase.OFFLINE
            return
        busy = bool(state.node_states) or any(
            a.action_status not in (ActionStatus.FINISHED, ActionStatus.FAILED)
            for a in state.action_states
        )
        ours = state.order_id.startswith(emergency.order_prefix)
        if ours and parking.order_id is None and parking.orders_sent == 0:
            # After a restart: adopt the parking order the robot already has.
            parking.order_id = state.order_id
            parking.spot = (
                state.node_states[-1].node_id if state.node_states else state.last_node_id
            )
        if ours and state.order_id == parking.order_id:
            if busy:
                parking.phase = Phase.DRIVING
            elif state.last_node_id == parking.spot:
                parking.phase = Phase.PARKED
            else:
                parking.phase, parking.order_id = Phase.IDLE, None  # stopped short: again
            return
        if busy:
            parking.phase = Phase.STOPPING
            if stop_others:
                self._cancel(parking)
            return
        waiting = parking.order_id is not None
        if waiting and self._monotonic() - parking.order_sent_at < ORDER_ECHO_S:
            parking.phase = Phase.DRIVING  # sent, not echoed yet
            return
        parking.order_id = None
        parking.cancel_sent_at = None
        if parking.phase is not Phase.NO_SPOT:
            parking.phase = Phase.IDLE

    def _cancel(self, parking: ParkingRobot) -> None:
        now = self._monotonic()
        if parking.cancel_sent_at is not None and now - parking.cancel_sent_at < CANCEL_RETRY_S:
            return
        parking.cancel_sent_at = now
        self._action_counter += 1
        manufacturer, serial = parking.robot
        action_id = f"emergency-cancel-{uuid.uuid4().hex[:8]}-{self._action_counter}"
        message = instant_action(parking.robot, "cancelOrder", action_id)
        self.orders.send_instant_actions(manufacturer, serial, message)

    def _plan(self, emergency: Emergency) -> list[tuple[RobotKey, Order]]:
        """Spots for robots without one, orders for idle robots with one (worker thread)."""
        robots = emergency.robots.values()
        wanting = [
            p
            for p in robots
            if p.spot is None and p.phase in (Phase.STOPPING, Phase.IDLE, Phase.NO_SPOT)
        ]
        idle = [p for p in robots if p.phase is Phase.IDLE and p.order_id is None]
        if not wanting and not idle:
            return []
        with self.db.session() as session:
            try:
                site = self.sites.load(session, emergency.site_id)
            except (SiteNotFound, SiteMapUnavailable) as exc:
                log.warning("emergency at %s: no site map to park by: %s", emergency.site_id, exc)
                return []
            registered = {
                (r.manufacturer, r.serial_number): r
                for r in active_robots(session, emergency.site_id)
            }
        profiles = {}
        for key, robot in registered.items():
            profiles[key] = robot_profile(robot, self.live.get(*key))
        taken = {p.spot for p in robots if p.spot is not None}
        free = [s for s in parking_spots(site) if s not in taken]
        times = {}
        for parking in wanting:
            live = self.live.get(*parking.robot)
            if live is not None and live.pose is not None and parking.robot in profiles:
                times[parking.robot] = spot_times(site, profiles[parking.robot], live.pose, free)
        chosen = assign_spots(times, free)
        for parking in wanting:
            parking.spot = chosen.get(parking.robot)
            if parking.spot is None and parking.phase is Phase.IDLE:
                parking.phase = Phase.NO_SPOT
            elif parking.spot is not None and parking.phase is Phase.NO_SPOT:
                parking.phase = Phase.IDLE
        idle = [p for p in robots if p.phase is Phase.IDLE and p.order_id is None]
        orders = []
        for parking in idle:
            live = self.live.get(*parking.robot)
            if parking.spot is None or live is None or live.pose is None:
                continue
            parking.orders_sent += 1
            order_id = f"{emergency.order_prefix}{parking.robot[1]}-{parking.orders_sent}"
            try:
                order = parking_order(
                    site, profiles[parking.robot], live.pose, parking.spot, order_id
                )
            except (MissionCompileError, KeyError, ValueError) as exc:
                log.warning(
                    "emergency: robot %s cannot drive to %s: %s", parking.robot, parking.spot, exc
                )
                parking.phase, parking.spot = Phase.NO_SPOT, None
                continue
            parking.order_id, parking.order_sent_at = order_id, self._monotonic()
            parking.phase = Phase.DRIVING
            orders.append((parking.robot, order))
        return orders


def _alarm_key(site_id: str) -> str:
    return f"emergency:{site_id}"


@contextlib.asynccontextmanager
async def running_emergency(
    db: Database,
    live: LiveFleet,
    runtime: MissionRuntime,
    orders: OrderPublisher,
    sites: SiteStore,
    alarms: AlarmService,
    publish: Callable[[FeedEventData], None],
) -> AsyncIterator[EmergencyService]:
    """Emergency mode, with the runtime's dispatch gate, for as long as the context lasts."""
    loop = asyncio.get_running_loop()

    def raise_alarm(change: AlarmChange) -> None:
        if not loop.is_closed():
            loop.call_soon_threadsafe(alarms.writer.enqueue, change)

    service = EmergencyService(
        db, live, runtime, orders, sites, raise_alarm=raise_alarm, publish=publish
    )
    await asyncio.to_thread(service.load)
    runtime.dispatch_blocked = service.is_blocked
    task = asyncio.create_task(service.run(), name="site-emergency")
    try:
        yield service
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

"""Missions at run time: assign pending missions, send their orders, follow them to the end.

The runtime runs on the server's event loop. Database work runs in a worker thread
(`asyncio.to_thread`); MQTT publishing and the progress tracker stay on the loop. Which
robot does which mission, preemption and charging are the `Dispatcher`'s
(`fleet_server.missions.dispatcher`); this module follows each order to its end.

A robot that goes offline or reports a FATAL error pauses its mission; past the grace
period (`reassign_after_s`) the mission goes back to the queue with what is left of it
(`fleet_server.missions.resume`) and another robot carries on from there.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from fleet_server.db import Database
from fleet_server.db.models import Mission, MissionEvent, Robot
from fleet_server.db.outage import OutageLog
from fleet_server.fleet.live_state import LiveFleet, RobotEvent, RobotKey, RobotLive
from fleet_server.fleet.orders import OrderPublisher, instant_action
from fleet_server.fleet.progress import MissionProgress, ProgressEvent, ProgressKind
from fleet_server.missions.charging import ChargingPolicy
from fleet_server.missions.dispatcher import Dispatcher, RoundOutput
from fleet_server.missions.recovery import OrderRecovery
from fleet_server.missions.resume import Resumption, what_is_left
from fleet_server.missions.resume_store import keep_resumption
from fleet_server.missions.state_machine import IllegalTransition, transition
from fleet_server.missions.states import TERMINAL_STATES, MissionState
from fleet_server.missions.traffic_link import TrafficLink
from fleet_server.sites.store import SiteStore
from missions.compiler import (
    CompiledMission,
    QuietHours,
    RobotProfile,
    compile_mission,
)
from missions.report import ActionOutcome, DisinfectionReport, build_disinfection_report
from missions.types import (
    Capability,
    DisinfectionMission,
    MissionSpec,
    NoShowAction,
    parse_mission,
)
from missions.vda5050 import (
    ActionStatus,
    ErrorLevel,
    Order,
    utc_timestamp,
)
from missions.vda5050.protocol import PROTOCOL_VERSION

log = logging.getLogger(__name__)

S = MissionState
ACTOR = "dispatcher"
LIVE_STATES = (S.ASSIGNED, S.DISPATCHED, S.ACTIVE, S.PAUSED)


@dataclass(frozen=True, slots=True)
class MissionTransition:
    """A committed lifecycle transition, as transition hooks receive it."""

    mission_id: uuid.UUID
    site_id: str
    kind: str
    priority: str
    robot_id: int | None
    from_state: MissionState | None
    to_state: MissionState
    cause: str
    at: datetime
    created_at: datetime
    version: int
    """The mission row's version after the commit: orders updates of one mission."""


TransitionHook = Callable[[MissionTransition], None]
"""Called after each commit that moved a mission, on the committing (worker) thread."""


@dataclass
class Running:
    """A mission whose order a robot has."""

    mission_id: uuid.UUID
    robot: RobotKey
    compiled: CompiledMission
    site_id: str
    profile: RobotProfile
    rounds_done: int = 0
    return_after_cancel: bool = False
    guide_released: bool = False
    started: bool = False
    lost_since: float | None = None
    """Monotonic time since which the robot is offline or no longer runs our order."""
    paused_by_loss: bool = False
    priority: str = "normal"
    sent_at: float = field(default_factory=time.monotonic)
    """Monotonic time the order went out (the plan estimates the rest from it)."""
    faulted: bool = False
    """Paused by a FATAL error that the robot still reports."""
    preempted_by: uuid.UUID | None = None
    """The emergency this mission gives its robot to (cancelOrder sent)."""
    resumption: Resumption | None = None
    """What earlier parts of the mission did (None: this is the first)."""
    full_spec: MissionSpec | None = None
    """The mission as stored, when `compiled.mission` is only what was left of it."""
    quiet: QuietHours | None = None
    """The quiet hours the order was compiled with (recovery compiles it again with them)."""
    home: str | None = None
    """The graph waypoint the robot set out from (a guide goes back there after a no-show)."""


@dataclass
class _Dispatch:
    mission_id: uuid.UUID
    robot: RobotKey
    compiled: CompiledMission
    site_id: str
    profile: RobotProfile
    priority: str = "normal"
    resumption: Resumption | None = None
    full_spec: MissionSpec | None = None
    before: list[str] = field(default_factory=list)
    """Instant actions to send before the order (stopCharging)."""
    quiet: QuietHours | None = None
    """The quiet hours the order was compiled with."""


@dataclass
class _FollowUps:
    """What progress handling asks the loop to publish."""

    orders: list[tuple[RobotKey, Order]] = field(default_factory=list)
    instant: list[tuple[RobotKey, str]] = field(default_factory=list)
    """(robot, actionType) instant actions to send."""


DEFAULT_UV_IRRADIANCE_AT_1M_MW_CM2 = 2.67
"""Lamp irradiance assumed for a UV robot whose registration states none (the agent's
default too, so plan and robot agree: the order carries the value the plan used)."""


DEFAULT_MAX_SPEED_M_S = 1.0
"""Speed assumed for a robot that has sent no factsheet yet."""


def robot_profile(robot: Robot, live: RobotLive | None = None) -> RobotProfile:
    """The compiler's view of a registered robot; its speed from its factsheet when known."""
    known = {c.value for c in Capability}
    caps = tuple(Capability(c) for c in robot.capabilities if c in known)
    factsheet = live.factsheet if live is not None else None
    speed = DEFAULT_MAX_SPEED_M_S
    if factsheet is not None:
        speed = min(5.0, max(0.05, factsheet.physical_parameters.speed_max))
    return RobotProfile(
        manufacturer=robot.manufacturer,
        serial_number=robot.serial_number,
        kind=robot.kind,
        capabilities=caps or (Capability.PATROL,),
        max_speed_m_s=speed,
        uv_irradiance_at_1m_mw_cm2=DEFAULT_UV_IRRADIANCE_AT_1M_MW_CM2,
    )


def _spec(mission: Mission, site_name: str) -> MissionSpec:
    # Missions name their site by id in the API; the compiler checks the map's name.
    return parse_mission({**mission.spec, "site": site_name})


class MissionRuntime:
    """Assigns, dispatches and follows missions; reacts to robot progress."""

    def __init__(
        self,
        db: Database,
        live: LiveFleet,
        orders: OrderPublisher,
        sites: SiteStore,
        *,
        tick_s: float = 1.0,
        reassign_after_s: float = 60.0,
        charging: ChargingPolicy | None = None,
        replan_interval_s: float = 5.0,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.live = live
        self.orders = orders
        self.sites = sites
        self.tick_s = tick_s
        self.reassign_after_s = reassign_after_s
        self._now = now
        self._monotonic = monotonic
        self._orphans: dict[RobotKey, str] = {}
        """Robots that lost a mission we gave to another robot: the order they may still hold."""
        self.progress = MissionProgress()
        self.running: dict[uuid.UUID, Running] = {}
        self._events: collections.deque[ProgressEvent] = collections.deque()
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._remove_listener = live.add_listener(self._on_robot_event)
        self._action_counter = 0
        self._transition_hooks: list[TransitionHook] = []
        self._outage = OutageLog(log, "mission runtime")
        self.dispatcher = Dispatcher(self, charging or ChargingPolicy(), replan_interval_s)
        """Plans, dispatches, preempts and sends robots to charge (one round per step)."""
        self.dispatch_blocked: Callable[[str], bool] = lambda _site_id: False
        """True for a site whose pending missions must wait (site emergency mode)."""
        self.quiet_hours: Callable[[str], QuietHours | None] = lambda _site_id: None
        """A site's quiet hours for an order compiled now (set by the schedules service)."""
        self.recovery = OrderRecovery(self)
        """Orders are recorded before they go out and re-adopted after a restart."""
        self.traffic = TrafficLink(orders, live, self.progress, on_reroute=self._traffic_rerouted)
        """Traffic control: releases each mission's path as it is reserved (snapshot())."""

    def add_transition_hook(self, hook: TransitionHook) -> Callable[[], None]:
        """Call hook(transition) after every commit that moved a mission; returns a remover.

        Hooks run on the thread that committed (a worker thread), so they must be
        thread-safe and quick: hand the transition over, do not work on it there.
        """
        # Copy on write: announcing iterates the current list without a lock.
        self._transition_hooks = [*self._transition_hooks, hook]

        def remove() -> None:
            self._transition_hooks = [h for h in self._transition_hooks if h is not hook]

        return remove

    def _commit(self, session: Session) -> None:
        """Commit, then tell the transition hooks about every transition the commit stored."""
        # Every transition here is committed through this method with no query after it
        # (a query would autoflush its event out of `session.new`).
        events = [o for o in session.new if isinstance(o, MissionEvent)]
        session.commit()
        hooks = self._transition_hooks
        if not events or not hooks:
            return
        events.sort(key=lambda e: e.id)  # ids follow insertion order: the transition order
        for event in events:
            mission = session.get(Mission, event.mission_id)  # in the identity map: no query
            if mission is None:
                continue
            transition_done = MissionTransition(
                mission_id=mission.id,
                site_id=mission.site_id,
                kind=mission.kind,
                priority=mission.priority,
                robot_id=mission.robot_id,
                from_state=None if event.from_state is None else MissionState(event.from_state),
                to_state=MissionState(event.to_state),
                cause=event.cause,
                at=event.at,
                created_at=mission.created_at,
                version=mission.version,
            )
            for hook in hooks:
                try:
                    hook(transition_done)
                except Exception:
                    # A faulty observer must not undo or stop the runtime's work.
                    log.exception("mission transition hook failed for %s", mission.id)

    # -- wiring ------------------------------------------------------------------------------

    def poke(self) -> None:
        """Look at pending missions now (thread-safe)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake.set)

    def close(self) -> None:
        """Stop listening to the fleet."""
        self._remove_listener()
        self.recovery.close()

    async def run(self) -> None:
        """Step on every poke and at least every `tick_s`, until cancelled."""
        self._loop = asyncio.get_running_loop()
        await self.recovery.adopt_live_missions()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.tick_s)
            self._wake.clear()
            await self.step_or_keep_traffic()

    async def step_or_keep_traffic(self) -> bool:
        """One :meth:`step`; False if it failed (logged; retried at the next one)."""
        try:
            await self.step()
        except Exception as exc:
            # A failing step must not stop dispatching; it is logged and retried (robot
            # progress not yet applied is kept for the next step).
            self._outage.failed(exc, "mission runtime step failed")
            # Traffic control needs no database: robots under way keep being released as
            # the way ahead frees (e.g. while the database is unavailable).
            self._tick_traffic()
            return False
        self._outage.succeeded()
        return True

    async def step(self) -> None:
        """Apply robot progress, reassign lost missions, assign and dispatch pending ones."""
        await self.traffic.sync(self.db, self.sites)
        events = list(self._events)
        self._events.clear()
        if events:
            follow = _FollowUps()
            try:
                await asyncio.to_thread(self._apply_progress, events, follow)
            except Exception:
                # The events not yet committed go back, ahead of newer ones: a robot's
                # `order finished` during a database outage is applied when it is back.
                self._events.extendleft(reversed(events))
                # Those of the events that were stored still go out (unrecorded: the
                # database is what failed); a robot waiting for its next round gets it.
                self._publish(follow)
                raise
            runs = list(self.running.values())
            await asyncio.to_thread(self.recovery.record_follow_ups, follow.orders, runs)
            self._publish(follow)
        lost = self._lost_for_too_long()
        if lost:
            await asyncio.to_thread(self._reassign, lost)
        dispatches = await asyncio.to_thread(self._assign_pending)
        self._through_traffic(dispatches)
        # Recorded before they go out: a server killed in between finds every order.
        await asyncio.to_thread(self.recovery.record_dispatches, dispatches)
        for dispatch in dispatches:
            self._send_initial(dispatch)
        self._publish_round(self.dispatcher.take_output())
        self.traffic.tick(self._driving())

    def _driving(self) -> set[RobotKey]:
        return {run.robot for run in self.running.values()} | self.dispatcher.driving()

    def _tick_traffic(self) -> None:
        try:
            self.traffic.tick(self._driving())
        except Exception:
            log.exception("traffic control tick failed")

    def _through_traffic(self, dispatches: list[_Dispatch]) -> None:
        """Each new order releases only the part of its path traffic control reserved."""
        for d in dispatches:
            d.compiled = self.traffic.start(d.site_id, d.robot, d.compiled, d.profile.robot_class)

    def _traffic_rerouted(self, robot: RobotKey, compiled: CompiledMission) -> None:
        """The robot stepped aside: its mission now runs as the order of `compiled`."""
        for run in self.running.values():
            if run.robot == robot:
                run.compiled = compiled

    def _on_robot_event(self, event: str, robot: RobotLive) -> None:
        if event in (RobotEvent.OFFLINE, RobotEvent.ONLINE, RobotEvent.ERRORS_CHANGED):
            self._wake.set()  # the fleet changed: plan again
        if event in (RobotEvent.OFFLINE, RobotEvent.ONLINE):
            kind = (
                ProgressKind.ROBOT_OFFLINE
                if event == RobotEvent.OFFLINE
                else ProgressKind.ROBOT_ONLINE
            )
            for run in self.running.values():
                if run.robot == robot.key:
                    self._events.append(ProgressEvent(str(run.mission_id), kind))
                    self._wake.set()
            return
        if event != RobotEvent.STATE or robot.state is None:
            return
        self.traffic.on_state(robot)
        self._cancel_orphan(robot)
        progress = self.progress.on_state(robot.key, robot.state)
        if progress:
            self._events.extend(progress)
            self._wake.set()

    def _cancel_orphan(self, robot: RobotLive) -> None:
        """A robot back after its mission went to another robot must not run it twice."""
        order_id = self._orphans.get(robot.key)
        state = robot.state
        if order_id is None or state is None:
            return
        if state.order_id == order_id and (
            state.node_states
            or any(
                a.action_status not in (ActionStatus.FINISHED, ActionStatus.FAILED)
                for a in state.action_states
            )
        ):
            log.warning(
                "robot %s/%s still runs reassigned order %s: cancelling", *robot.key, order_id
            )
            self._send_instant(robot.key, "cancelOrder", False)
        self._orphans.pop(robot.key, None)

    def _lost_for_too_long(self) -> list[uuid.UUID]:
        """Missions whose robot is offline, or dropped our order, for longer than the grace."""
        now = self._monotonic()
        lost = []
        for run in self.running.values():
            live = self.live.get(*run.robot)
            state = live.state if live else None
            gone = live is None or not live.online
            dropped = run.started and state is not None and state.order_id != run.compiled.order_id
            if run.faulted and state is not None and not _has_fatal_error(live):
                run.faulted = False
                self._events.append(
                    ProgressEvent(str(run.mission_id), ProgressKind.ROBOT_ONLINE, "fault cleared")
                )
                self._wake.set()
            if not (gone or dropped or run.faulted):
                run.lost_since = None
                continue
            run.lost_since = run.lost_since if run.lost_since is not None else now
            if now - run.lost_since >= self.reassign_after_s:
                lost.append(run.mission_id)
        return lost

    def _reassign(self, mission_ids: list[uuid.UUID]) -> None:
        """Give lost missions back to the queue; the assignment loop picks a robot again."""
        with self.db.session() as session:
            for mission_id in mission_ids:
                run = self.running.get(mission_id)
                mission = session.get(Mission, mission_id)
                if run is None or mission is None:
                    self.running.pop(mission_id, None)
                    continue
                note = self._keep_what_was_done(run, mission)
                state = MissionState(mission.state)
                if state is S.ACTIVE:
                    transition(mission, S.PAUSED, "robot lost", ACTOR, session)
                if MissionState(mission.state) in (S.PAUSED, S.DISPATCHED):
                    transition(
                        mission,
                        S.PENDING,
                        f"robot {run.robot[1]} lost for {self.reassign_after_s:.0f} s; "
                        f"reassigning{note}",
                        ACTOR,
                        session,
                    )
                self._commit(session)
                # Stored: only now is the run given up (a database error above leaves it
                # followed, to be reassigned at the next step).
                self.running.pop(mission_id, None)
                self.progress.forget(run.robot)
                self._orphans[run.robot] = run.compiled.order_id
                # Nothing more of that order may reach the robot: no resend, no release.
                self._call_on_loop(self.orders.withdraw_order, *run.robot, run.compiled.order_id)
                self.traffic.finish(run.robot)
        self._wake.set()

    def _keep_what_was_done(self, run: Running, mission: Mission) -> str:
        """Remember what is left of a stopped run for its next robot, in memory and with the
        mission (committed with the caller's transition); '; <note>' or ''."""
        tracked = self.progress.get(run.robot)
        if tracked is None or tracked.mission_id != str(run.mission_id) or not run.started:
            if run.resumption is None:
                return ""
            # Not started: nothing more done, but this part's orderId is used up.
            left = dataclasses.replace(run.resumption, part=run.resumption.part + 1)
        else:
            left = what_is_left(
                run.compiled,
                tracked.action_status,
                tracked.results,
                run.resumption,
                run.rounds_done,
            )
        self.dispatcher.resumptions[run.mission_id] = left
        keep_resumption(mission, left)
        return f"; {left.note}"

    # -- requests from the API (worker threads) ------------------------------------------------

    def cancel(self, session: Session, mission: Mission, actor: str) -> None:
        """Cancel now; a robot that has the order is told to stop (cancelOrder)."""
        transition(mission, S.CANCELLED, f"cancelled by {actor}", actor, session)
        self._commit(session)
        self.dispatcher.forget(mission.id)
        run = self.running.pop(mission.id, None)
        if run is not None:
            self._call_on_loop(self._send_instant, run.robot, "cancelOrder", True)

    def pause(self, session: Session, mission: Mission, actor: str) -> None:
        """Ask the robot to pause; the mission is `paused` once the robot says so."""
        self._require(mission, {S.ACTIVE}, S.PAUSED)
        run = self.running.get(mission.id)
        if run is not None:
            self._call_on_loop(self._send_instant, run.robot, "startPause", False)

    def resume(self, session: Session, mission: Mission, actor: str) -> None:
        """Ask the robot to carry on; the mission is `active` once the robot says so."""
        self._require(mission, {S.PAUSED}, S.ACTIVE)
        run = self.running.get(mission.id)
        if run is not None:
            self._call_on_loop(self._send_instant, run.robot, "stopPause", False)

    def suspend(self, session: Session, mission: Mission, cause: str, actor: str) -> None:
        """Take a mission off its robot but keep it (site emergency mode): `active` becomes
        `paused`, `assigned`/`dispatched` go back to `pending`; the runtime stops following
        the robot's order, which the caller cancels on the robot."""
        run = self.running.pop(mission.id, None)
        # Like a lost robot (_reassign): what is done stays done when it is dispatched again.
        note = self._keep_what_was_done(run, mission) if run is not None else ""
        state = MissionState(mission.state)
        if state is S.ACTIVE:
            transition(mission, S.PAUSED, f"{cause}{note}"[:200], actor, session)
        elif state in (S.ASSIGNED, S.DISPATCHED):
            transition(mission, S.PENDING, cause, actor, session)
        self._commit(session)
        if run is not None:
            self.progress.forget(run.robot)
            self._call_on_loop(self.orders.withdraw_order, *run.robot, run.compiled.order_id)
            self.traffic.finish(run.robot)

    def requeue(self, session: Session, mission: Mission, cause: str, actor: str) -> None:
        """A suspended (`paused`, off its robot) mission back to `pending`, to be dispatched."""
        self._require(mission, {S.PAUSED}, S.PENDING)
        transition(mission, S.PENDING, cause, actor, session)
        self._commit(session)
        self.poke()

    @staticmethod
    def _require(mission: Mission, allowed: set[MissionState], to: MissionState) -> None:
        if MissionState(mission.state) not in allowed:
            raise IllegalTransition(mission.id, MissionState(mission.state), to)

    def _call_on_loop(self, fn: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(fn, *args)

    # -- the loop's side ---------------------------------------------------------------------

    def _next_action_id(self, kind: str) -> str:
        self._action_counter += 1
        return f"{kind}-{uuid.uuid4().hex[:8]}-{self._action_counter}"

    def _send_instant(self, robot: RobotKey, action_type: str, cancelling: bool) -> None:
        action_id = self._next_action_id(action_type)
        if cancelling:
            with contextlib.suppress(KeyError):
                self.progress.cancel_requested(robot, action_id)
        message = instant_action(robot, action_type, action_id)
        self.orders.send_instant_actions(robot[0], robot[1], message)

    def _send_initial(self, dispatch: _Dispatch) -> None:
        compiled = dispatch.compiled
        order = compiled.order()
        run = Running(
            dispatch.mission_id,
            dispatch.robot,
            compiled,
            dispatch.site_id,
            dispatch.profile,
            priority=dispatch.priority,
            sent_at=self._monotonic(),
            resumption=dispatch.resumption,
            full_spec=dispatch.full_spec,
            rounds_done=0 if dispatch.resumption is None else dispatch.resumption.rounds_done,
            quiet=dispatch.quiet,
            home=next((wp for wp in dispatch.compiled.node_waypoints if wp is not None), None),
        )
        self.running[dispatch.mission_id] = run
        for action_type in dispatch.before:
            self._send_instant(dispatch.robot, action_type, False)
        self._track(run)
        self.orders.send_order(dispatch.robot[0], dispatch.robot[1], order)

    def _track(self, run: Running) -> None:
        self.progress.track_order(str(run.mission_id), run.robot, run.compiled)

    def _publish(self, follow: _FollowUps) -> None:
        for robot, order in follow.orders:
            self.orders.send_order(robot[0], robot[1], order)
        for robot, action_type in follow.instant:
            self._send_instant(robot, action_type, action_type == "cancelOrder")

    def _publish_round(self, output: RoundOutput) -> None:
        """Send what a dispatcher round decided: preemptions, charging trips, stops."""
        for robot, action_type in output.instant:
            if action_type == "cancelOrder" and self.progress.get(robot) is None:
                continue  # the preempted order already ended
            self._send_instant(robot, action_type, action_type == "cancelOrder")
        for robot in output.arrived:
            self.traffic.finish(robot)
        for trip in output.trips:
            compiled = self.traffic.start(trip.site_id, trip.robot, trip.compiled, trip.robot_class)
            self.orders.send_order(trip.robot[0], trip.robot[1], compiled.order())

    # -- assignment (worker thread) ----------------------------------------------------------

    def _assign_pending(self) -> list[_Dispatch]:
        """One dispatcher round: the missions to send now (see `Dispatcher`)."""
        return self.dispatcher.run_round()

    # -- progress (worker thread) ------------------------------------------------------------

    def _apply_progress(self, events: list[ProgressEvent], follow: _FollowUps) -> None:
        """Apply `events` in order, removing each from the list once it is done (committed
        or of no concern); on an error the list holds the ones not applied."""
        with self.db.session() as session:
            while events:
                event = events[0]
                mission = session.get(Mission, uuid.UUID(event.mission_id))
                run = self.running.get(uuid.UUID(event.mission_id))
                if mission is None or run is None:
                    events.pop(0)
                    continue
                if MissionState(mission.state) in TERMINAL_STATES:
                    self._after_terminal(run, event, follow)
                    events.pop(0)
                    continue
                sent = len(follow.orders), len(follow.instant)
                try:
                    self._apply_one(session, mission, run, event, follow)
                    self._commit(session)
                except Exception:
                    # Nothing of it is stored: applied again (from the stored state) later,
                    # its follow-ups with it.
                    session.rollback()
                    del follow.orders[sent[0] :], follow.instant[sent[1] :]
                    raise
                events.pop(0)
                if (
                    MissionState(mission.state) in TERMINAL_STATES
                    and event.kind is not ProgressKind.CANCELLED
                    and not run.return_after_cancel  # followed until cancelled, then sent back
                ):
                    self._finish(run)

    def _after_terminal(self, run: Running, event: ProgressEvent, follow: _FollowUps) -> None:
        if event.kind is ProgressKind.CANCELLED and run.return_after_cancel:
            follow.orders.append((run.robot, self._way_back(run)))
        if event.kind in (ProgressKind.CANCELLED, ProgressKind.ORDER_DONE):
            self._finish(run)

    def _finish(self, run: Running) -> None:
        self.running.pop(run.mission_id, None)
        tracked = self.progress.get(run.robot)
        if tracked is not None and tracked.mission_id == str(run.mission_id):
            self.progress.forget(run.robot)

    def _apply_one(
        self,
        session: Session,
        mission: Mission,
        run: Running,
        event: ProgressEvent,
        follow: _FollowUps,
    ) -> None:
        state = MissionState(mission.state)
        kind = event.kind
        if kind is ProgressKind.STARTED:
            run.started = True
            if state is S.DISPATCHED:
                transition(mission, S.ACTIVE, "robot took the order", ACTOR, session)
        elif kind is ProgressKind.ROBOT_OFFLINE:
            if state is S.ACTIVE:
                transition(mission, S.PAUSED, "robot offline", ACTOR, session)
                run.paused_by_loss = True
        elif kind is ProgressKind.ROBOT_ONLINE:
            if state is S.PAUSED and run.paused_by_loss and not run.faulted:
                cause = event.detail or "robot back online"
                transition(mission, S.ACTIVE, cause, ACTOR, session)
                run.paused_by_loss = False
        elif kind is ProgressKind.PAUSED and state is S.ACTIVE:
            transition(mission, S.PAUSED, "robot paused", ACTOR, session)
        elif kind is ProgressKind.RESUMED and state is S.PAUSED:
            transition(mission, S.ACTIVE, "robot resumed", ACTOR, session)
        elif kind is ProgressKind.FAULT:
            # Issue 8 item 6: paused, not failed; reassigned if the fault outlasts the grace.
            run.faulted = True
            if state is S.ACTIVE:
                transition(mission, S.PAUSED, f"robot fault: {event.detail}", ACTOR, session)
                run.paused_by_loss = True
        elif kind is ProgressKind.CANCELLED and run.preempted_by is not None:
            self._requeue_preempted(session, mission, run)
        elif kind is ProgressKind.ACTION:
            self._on_action(session, mission, run, event, follow)
        elif kind is ProgressKind.ORDER_DONE:
            self._on_order_done(session, mission, run, event, follow)

    def _on_action(
        self,
        session: Session,
        mission: Mission,
        run: Running,
        event: ProgressEvent,
        follow: _FollowUps,
    ) -> None:
        compiled = run.compiled
        meeting = compiled.meeting_node_index
        if meeting is None or run.guide_released or event.action_id is None:
            return
        meeting_actions = {
            a.action_id
            for a in compiled.nodes[meeting].actions
            if a.action_type == "guideWaitForPerson"
        }
        if event.action_id not in meeting_actions:
            return
        if (
            event.detail == ActionStatus.FINISHED.value
            or compiled.on_no_show is NoShowAction.WAIT_AT_DESTINATION
        ):
            if event.detail in (ActionStatus.FINISHED.value, ActionStatus.FAILED.value):
                run.guide_released = True
                if not self.traffic.set_release_cap(run.robot, None):
                    follow.orders.append((run.robot, compiled.next_order_update(None)))
            return
        if event.detail != ActionStatus.FAILED.value:
            return
        run.guide_released = True
        run.return_after_cancel = compiled.on_no_show is NoShowAction.RETURN_TO_START
        follow.instant.append((run.robot, "cancelOrder"))
        self._ensure_active(session, mission)
        transition(mission, S.FAILED, "the visitor did not show up", ACTOR, session)

    def _on_order_done(
        self,
        session: Session,
        mission: Mission,
        run: Running,
        event: ProgressEvent,
        follow: _FollowUps,
    ) -> None:
        compiled = run.compiled
        self._ensure_active(session, mission)
        spec = run.full_spec or compiled.mission
        if isinstance(spec, DisinfectionMission):
            report = self._report(run, spec)
            mission.report = (
                report.model_dump(mode="json") if hasattr(report, "model_dump") else None
            )
            if report.passed:
                transition(mission, S.COMPLETED, "every point received its dose", ACTOR, session)
            else:
                transition(
                    mission, S.FAILED, f"disinfection incomplete: {report.verdict}", ACTOR, session
                )
            return
        failed = [a for a in event.failed_actions if not self._tolerated(compiled, a)]
        if compiled.repeat_until_stopped and not failed:
            run.rounds_done += 1
            self._next_round(run, follow)
            return
        if failed:
            transition(mission, S.FAILED, f"actions failed: {', '.join(failed)}", ACTOR, session)
        else:
            transition(mission, S.COMPLETED, "order finished", ACTOR, session)

    def _requeue_preempted(self, session: Session, mission: Mission, run: Running) -> None:
        """The robot stopped for an emergency: the mission waits for a robot again."""
        note = self._keep_what_was_done(run, mission)
        if MissionState(mission.state) is S.ACTIVE:
            transition(mission, S.PAUSED, f"preempted by {run.preempted_by}", ACTOR, session)
        transition(
            mission,
            S.PENDING,
            f"robot {run.robot[1]} stopped for emergency mission {run.preempted_by}; "
            f"waits for a robot{note}",
            ACTOR,
            session,
        )
        self._finish(run)

    @staticmethod
    def _tolerated(compiled: CompiledMission, action_id: str) -> bool:
        # A guidance no-show with wait_at_destination still delivers the robot there.
        meeting = compiled.meeting_node_index
        return (
            meeting is not None
            and compiled.on_no_show is NoShowAction.WAIT_AT_DESTINATION
            and any(a.action_id == action_id for a in compiled.nodes[meeting].actions)
        )

    @staticmethod
    def _ensure_active(session: Session, mission: Mission) -> None:
        state = MissionState(mission.state)
        if state is S.DISPATCHED:
            transition(mission, S.ACTIVE, "robot took the order", ACTOR, session)
        elif state is S.PAUSED:
            transition(mission, S.ACTIVE, "robot resumed", ACTOR, session)

    def _report(self, run: Running, spec: DisinfectionMission) -> DisinfectionReport:
        tracked = self.progress.get(run.robot)
        outcomes = []
        if tracked is not None:
            for action_id, status in tracked.action_status.items():
                outcomes.append(
                    ActionOutcome(
                        action_id=action_id,
                        action_status=status.value,
                        result_description=tracked.results.get(action_id),
                    )
                )
        carried = run.resumption
        if carried is not None:
            # Targets done by earlier parts (before a preemption or a lost robot) count too.
            return build_disinfection_report(
                spec,
                [*carried.carried_points, *run.compiled.planned_points],
                [*carried.carried_outcomes, *outcomes],
                {**carried.carried_rooms, **run.compiled.room_plans},
            )
        return build_disinfection_report(
            spec, list(run.compiled.planned_points), outcomes, run.compiled.room_plans
        )

    def _next_round(self, run: Running, follow: _FollowUps) -> None:
        """Patrol until stopped: the next round as a new order from where the last one ended."""
        previous = run.compiled
        with self.db.session() as session:
            site = self.sites.load(session, run.site_id)
        run.quiet = self.quiet_hours(run.site_id)
        run.compiled = compile_mission(
            previous.mission,
            site,
            run.profile,
            start=previous.end_pose,
            order_id=f"{run.mission_id}-r{run.rounds_done}",
            quiet=run.quiet,
        )
        run.compiled = self.traffic.start(
            run.site_id, run.robot, run.compiled, run.profile.robot_class
        )
        self._track(run)
        follow.orders.append((run.robot, run.compiled.order()))

    def _way_back(self, run: Running) -> Order:
        """The order back to where the robot set out from, through traffic control (a drive
        like a robot making way); along the way it came where traffic control cannot."""
        compiled = run.compiled
        home = run.home or next((wp for wp in compiled.node_waypoints if wp is not None), None)
        if home is not None:
            speed = max((e.max_speed or 0.0 for e in compiled.edges), default=0.0)
            walk = self.traffic.walk(
                run.site_id,
                run.robot,
                home,
                order_id=f"{run.mission_id}-return",
                mission=compiled.mission,
                speed_m_s=speed or run.profile.max_speed_m_s,
                robot_class=run.profile.robot_class,
            )
            if walk is not None:
                return walk.order()
        return self._return_order(run)

    def _return_order(self, run: Running) -> Order:
        """Back along the way it came, from the meeting point to the first node."""
        compiled = run.compiled
        meeting = compiled.meeting_node_index or 0
        nodes = list(reversed(compiled.nodes[: meeting + 1]))
        edges = list(reversed(compiled.edges[:meeting]))
        order_nodes = [
            n.model_copy(update={"sequence_id": 2 * i, "actions": [], "released": True})
            for i, n in enumerate(nodes)
        ]
        order_edges = [
            e.model_copy(
                update={
                    "sequence_id": 2 * i + 1,
                    "start_node_id": nodes[i].node_id,
                    "end_node_id": nodes[i + 1].node_id,
                    "actions": [],
                    "released": True,
                    "edge_id": f"{e.edge_id}-back",
                }
            )
            for i, e in enumerate(edges)
        ]
        return Order(
            header_id=0,
            timestamp=utc_timestamp(),
            version=PROTOCOL_VERSION,
            manufacturer=run.robot[0],
            serial_number=run.robot[1],
            order_id=f"{run.mission_id}-return",
            order_update_id=0,
            nodes=order_nodes,
            edges=order_edges,
        )


def _has_fatal_error(live: RobotLive | None) -> bool:
    state = live.state if live is not None else None
    return state is not None and any(e.error_level is ErrorLevel.FATAL for e in state.errors)

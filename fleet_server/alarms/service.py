"""Raising alarms from live events, off the hot path.

Listeners on the live fleet and the order publisher run on the event loop and only queue
changes (`RaiseAlarm`, `ClearAlarms`) with the writer, which stores them in batches. Robot
errors are compared with what each robot reported before, so a state message at 10 Hz with
a standing error costs one set lookup.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from fleet_server.alarms.model import (
    ORDER_GAVE_UP,
    ORDER_REJECTED,
    ROBOT_OFFLINE,
    ROBOT_UNREGISTERED,
    AlarmChange,
    AlarmEvent,
    AlarmListener,
    ClearAlarms,
    RaiseAlarm,
    error_alarm,
    error_key,
    offline_key,
    robot_label,
    unregistered_key,
)
from fleet_server.alarms.store import uncleared_keys
from fleet_server.alarms.writer import BATCH_WINDOW_S, AlarmCounters, AlarmWriter
from fleet_server.db import Database
from fleet_server.fleet.live_state import LiveFleet, RobotEvent, RobotKey, RobotLive
from fleet_server.robots.directory import RegisteredRobot, RobotDirectory
from missions.vda5050 import Error, InstantActions, Order

log = logging.getLogger(__name__)

UNREGISTERED_PER_MINUTE = 10
"""New "unregistered robot" alarms per minute; a client inventing identities gets no more."""
UNREGISTERED_RECHECK_S = 600.0
MAX_TRACKED_UNREGISTERED = 10_000


def _now() -> datetime:
    return datetime.now(UTC)


class AlarmService:
    """Turns robot events and order outcomes into stored alarms, and announces changes."""

    def __init__(
        self,
        db: Database,
        live: LiveFleet,
        directory: RobotDirectory,
        *,
        batch_window_s: float = BATCH_WINDOW_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.live = live
        self.directory = directory
        self._monotonic = monotonic
        self.counters = AlarmCounters()
        self.writer = AlarmWriter(db, self.counters, batch_window_s)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._remove_listeners: list[Callable[[], None]] = []
        self._errors: dict[RobotKey, set[str]] = {}
        """Per robot: the error keys it has uncleared alarms for."""
        self._synced: set[RobotKey] = set()
        self._unregistered_checked: dict[RobotKey, float] = {}
        self._bucket = float(UNREGISTERED_PER_MINUTE)
        self._bucket_at = monotonic()

    # -- listeners and queueing ------------------------------------------------------------

    def add_listener(self, listener: AlarmListener) -> Callable[[], None]:
        """Call listener(event) on the event loop after each committed change (raised,
        cleared, acknowledged); returns a function that removes it."""
        return self.writer.add_listener(listener)

    def announce_from_thread(self, event: AlarmEvent) -> None:
        """Announce a change committed elsewhere (e.g. an acknowledgement by the API)."""
        self.writer.announce_from_thread(event)

    def _enqueue(self, change: AlarmChange) -> None:
        self.writer.enqueue(change)

    def robot_registered(self, robot: RobotKey) -> None:
        """Clear the robot's "unregistered" alarm (thread-safe; call after the commit)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._on_registered, robot)

    def _on_registered(self, robot: RobotKey) -> None:
        self._unregistered_checked.pop(robot, None)
        self._synced.discard(robot)  # its errors count from its next state on
        self._enqueue(ClearAlarms(unregistered_key(robot), _now()))

    def robot_unregistered(self, robot: RobotKey) -> None:
        """Ingest dropped a message from a robot that is not registered (on the event loop)."""
        entry = self.directory.get(robot)
        self._report_unregistered(robot, decommissioned=entry is not None)

    def _on_directory_change(self, entry: RegisteredRobot) -> None:
        if not entry.decommissioned:
            self.robot_registered(entry.key)

    # -- live fleet events ---------------------------------------------------------------

    def _on_robot_event(self, event: str, robot: RobotLive) -> None:
        if event == RobotEvent.STATE:
            if robot.key not in self._synced:
                self._synced.add(robot.key)
                self._compare_errors(robot)
        elif event == RobotEvent.ERRORS_CHANGED:
            self._compare_errors(robot)
        elif event == RobotEvent.ONLINE:
            self._on_online(robot)
        elif event == RobotEvent.OFFLINE:
            self._on_offline(robot)

    def _compare_errors(self, robot: RobotLive) -> None:
        entry = self.directory.get(robot.key)
        if entry is None or entry.decommissioned or robot.state is None:
            return
        now = _now()
        current = {error_key(robot.key, e): e for e in robot.state.errors}
        known = self._errors.get(robot.key, set())
        for key, error in current.items():
            if key not in known:
                self._enqueue(error_alarm(robot.key, error, now, entry.site_id, entry.id))
        for key in known - current.keys():
            self._enqueue(ClearAlarms(key, now))
        if current:
            self._errors[robot.key] = set(current)
        else:
            self._errors.pop(robot.key, None)

    def _on_online(self, robot: RobotLive) -> None:
        entry = self.directory.get(robot.key)
        if entry is not None and not entry.decommissioned:
            self._enqueue(ClearAlarms(offline_key(robot.key), _now()))
            return
        self._report_unregistered(robot.key, decommissioned=entry is not None)

    def _on_offline(self, robot: RobotLive) -> None:
        entry = self.directory.get(robot.key)
        if entry is None or entry.decommissioned:
            return
        self._synced.discard(robot.key)  # compare errors afresh when it is back
        self._enqueue(
            RaiseAlarm(
                source="robot",
                severity="error",
                code=ROBOT_OFFLINE,
                message=f"robot {robot_label(robot.key)} went offline during a mission",
                at=_now(),
                site_id=entry.site_id,
                robot_id=entry.id,
                robot=robot.key,
                dedup_key=offline_key(robot.key),
                only_with_live_mission=True,
            )
        )

    def _report_unregistered(self, robot: RobotKey, *, decommissioned: bool) -> None:
        """Issue 11: unknown robots are reported, once per identity and rate-limited."""
        now = self._monotonic()
        last = self._unregistered_checked.get(robot)
        if last is not None and now - last < UNREGISTERED_RECHECK_S:
            return
        if len(self._unregistered_checked) >= MAX_TRACKED_UNREGISTERED:
            self._unregistered_checked.clear()
        self._unregistered_checked[robot] = now
        self._bucket = min(
            float(UNREGISTERED_PER_MINUTE),
            self._bucket + (now - self._bucket_at) * UNREGISTERED_PER_MINUTE / 60.0,
        )
        self._bucket_at = now
        if self._bucket < 1.0:
            self.counters.unregistered_suppressed += 1
            return
        self._bucket -= 1.0
        entry = self.directory.get(robot)
        what = "decommissioned" if decommissioned else "unregistered"
        self._enqueue(
            RaiseAlarm(
                source="system",
                severity="warning",
                code=ROBOT_UNREGISTERED,
                message=f"{what} robot {robot_label(robot)} is connected; its messages are ignored",
                at=_now(),
                site_id=entry.site_id if entry is not None else None,
                robot_id=entry.id if entry is not None else None,
                robot=robot,
                dedup_key=unregistered_key(robot),
                unless_registered=True,
            )
        )

    # -- order publisher callbacks ---------------------------------------------------------

    def on_order_gave_up(
        self, robot: RobotKey, message: Order | InstantActions, reason: str
    ) -> None:
        """OrderPublisher gave up resending: the robot never confirmed the message."""
        self._order_alarm(ORDER_GAVE_UP, robot, message, f"not confirmed: {reason}")

    def on_order_rejected(
        self, robot: RobotKey, message: Order | InstantActions, error: Error
    ) -> None:
        """The robot refused an order or instant action (VDA 5050 §6.6.4)."""
        why = error.error_type + (f": {error.error_description}" if error.error_description else "")
        self._order_alarm(ORDER_REJECTED, robot, message, f"rejected: {why}")

    def _order_alarm(
        self, code: str, robot: RobotKey, message: Order | InstantActions, what: str
    ) -> None:
        entry = self.directory.get(robot)
        if isinstance(message, Order):
            subject, order_id = f"order {message.order_id}", message.order_id
        else:
            kinds = ", ".join(a.action_type for a in message.actions)
            subject, order_id = f"instant actions ({kinds})", None
        self._enqueue(
            RaiseAlarm(
                source="mission" if order_id else "robot",
                severity="error",
                code=code,
                message=f"robot {robot_label(robot)}: {subject} {what}",
                at=_now(),
                site_id=entry.site_id if entry is not None else None,
                robot_id=entry.id if entry is not None else None,
                robot=robot,
                order_id=order_id,
            )
        )

    # -- lifecycle ---------------------------------------------------------------------------

    def load_known_errors(self, session: Session) -> None:
        """Remember uncleared robot-error alarms: a restart neither repeats nor forgets them."""
        for key, manufacturer, serial in uncleared_keys(session, "error:"):
            if manufacturer is not None and serial is not None:
                self._errors.setdefault((manufacturer, serial), set()).add(key)

    async def flush(self) -> None:
        """Store everything queued so far and announce it."""
        await self.writer.flush()

    def start(self) -> None:
        """Listen to the live fleet (call on the event loop); robots online already are checked."""
        self._loop = self.writer.loop = asyncio.get_running_loop()
        self._remove_listeners = [
            self.live.add_listener(self._on_robot_event),
            self.directory.add_listener(self._on_directory_change),
        ]
        for robot in self.live:
            if robot.online:
                self._on_online(robot)

    def stop(self) -> None:
        """Stop listening; whatever is queued is still written by a last `flush`."""
        for remove in self._remove_listeners:
            remove()
        self._remove_listeners = []


@contextlib.asynccontextmanager
async def running_alarms(
    db: Database, live: LiveFleet, directory: RobotDirectory
) -> AsyncIterator[AlarmService]:
    """An alarm service listening and writing for as long as the context lasts."""
    service = AlarmService(db, live, directory)

    def load() -> None:
        with db.session() as session:
            service.load_known_errors(session)

    await asyncio.to_thread(load)
    service.start()
    writer = asyncio.create_task(service.writer.run(), name="alarm-writer")
    try:
        yield service
    finally:
        service.stop()
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writer
        await service.flush()

"""Queued alarm changes into the database in batches, then out to listeners.

Producers on the event loop only append to a queue; a task applies it a short window after
the first change arrived, in one transaction on a worker thread, and then announces what
was committed. A database outage fills the queue up to `MAX_QUEUED`; past that, new
changes are dropped and counted rather than growing memory without bound.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from fleet_server.alarms.model import AlarmChange, AlarmEvent, AlarmListener
from fleet_server.alarms.store import apply_change
from fleet_server.db import Database
from fleet_server.db.outage import OutageLog, database_unavailable

log = logging.getLogger(__name__)

BATCH_WINDOW_S = 0.2
MAX_QUEUED = 10_000
OUTAGE_RETRY_S = 1.0
"""How soon a batch the database did not take is tried again."""


@dataclass
class AlarmCounters:
    """What the alarm service did, for /metrics and tests."""

    queued: int = 0
    raised: int = 0
    cleared: int = 0
    dropped: int = 0
    failed: int = 0
    unregistered_suppressed: int = 0


class AlarmWriter:
    """Batches alarm changes into the database and announces the committed ones."""

    def __init__(
        self, db: Database, counters: AlarmCounters, batch_window_s: float = BATCH_WINDOW_S
    ) -> None:
        self.db = db
        self.counters = counters
        self.batch_window_s = batch_window_s
        self.loop: asyncio.AbstractEventLoop | None = None
        self._queue: list[AlarmChange] = []
        self._wake = asyncio.Event()
        self._listeners: list[AlarmListener] = []
        self._outage = OutageLog(log, "alarm writer")

    def add_listener(self, listener: AlarmListener) -> Callable[[], None]:
        """Call listener(event) on the event loop after each committed change; returns a
        function that removes it."""
        self._listeners = [*self._listeners, listener]

        def remove() -> None:
            self._listeners = [x for x in self._listeners if x is not listener]

        return remove

    def announce(self, events: list[AlarmEvent]) -> None:
        """Tell every listener (on the event loop); one that raises is logged, not fatal."""
        for event in events:
            for listener in self._listeners:
                try:
                    listener(event)
                except Exception:
                    log.exception(
                        "alarm listener failed on %s of alarm %s", event.kind, event.alarm.id
                    )

    def announce_from_thread(self, event: AlarmEvent) -> None:
        """Announce a change committed elsewhere (e.g. an acknowledgement by the API)."""
        loop = self.loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.announce, [event])

    def enqueue(self, change: AlarmChange) -> None:
        """Queue one change (on the event loop)."""
        if len(self._queue) >= MAX_QUEUED:
            self.counters.dropped += 1
            if self.counters.dropped % 1000 == 1:
                log.warning(
                    "alarm queue full (database unreachable?): dropped %s", self.counters.dropped
                )
            return
        self._queue.append(change)
        self.counters.queued += 1
        self._wake.set()

    def _write(self, changes: list[AlarmChange]) -> list[AlarmEvent]:
        with self.db.session() as session:
            try:
                events = [e for change in changes for e in apply_change(session, change)]
                session.commit()
                return events
            except Exception as exc:
                session.rollback()
                if database_unavailable(exc):
                    raise  # kept queued by flush() until the database is back
                log.exception("storing %s alarm changes failed; retrying one by one", len(changes))
        # One bad change (e.g. its site was deleted meanwhile) must not block the others.
        events = []
        for change in changes:
            with self.db.session() as session:
                try:
                    found = apply_change(session, change)
                    session.commit()
                    events += found
                except Exception as exc:
                    if database_unavailable(exc):
                        raise  # gone meanwhile: the batch is stored again when it is back
                    self.counters.failed += 1
                    log.exception("dropped alarm change %s", type(change).__name__)
        return events

    async def flush(self) -> None:
        """Store everything queued so far and announce it."""
        changes, self._queue = self._queue, []
        if not changes:
            return
        try:
            events = await asyncio.to_thread(self._write, changes)
        except Exception:
            # The database is unreachable: nothing is dropped, the next flush tries again.
            self._queue = changes + self._queue
            raise
        self.counters.raised += sum(e.kind == "alarm.raised" for e in events)
        self.counters.cleared += sum(e.kind == "alarm.cleared" for e in events)
        self.announce(events)

    async def run(self) -> None:
        """Flush a short window after something was queued, until cancelled."""
        self.loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            await asyncio.sleep(self.batch_window_s)
            self._wake.clear()
            try:
                await self.flush()
            except Exception as exc:
                self._outage.failed(exc, "alarm writer failed")
                await asyncio.sleep(OUTAGE_RETRY_S)
                self._wake.set()
            else:
                self._outage.succeeded()

"""Events in from any thread, into the outbox table in batches, then out to the senders.

`publish` only appends to a deque (thread-safe) and wakes the writer; the writer stores a
batch in one transaction on a worker thread (event rows and their deliveries together)
and only then tells the webhook sender and the MQTT bridge, so nothing is sent that a
restart could forget.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from fleet_server.db import Database
from fleet_server.db.outage import OutageLog
from fleet_server.feeds.events import FeedEventData
from fleet_server.feeds.store import store_events

log = logging.getLogger(__name__)

MAX_QUEUED = 50_000
BATCH_WINDOW_S = 0.05
StoredListener = Callable[[list[FeedEventData]], None]


class FeedOutbox:
    """Queues feed events and stores them; listeners hear about each stored batch."""

    def __init__(self, db: Database, batch_window_s: float = BATCH_WINDOW_S) -> None:
        self.db = db
        self.batch_window_s = batch_window_s
        self._queue: collections.deque[FeedEventData] = collections.deque()
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listeners: list[StoredListener] = []
        self.stored = 0
        self.dropped = 0

    def add_listener(self, listener: StoredListener) -> None:
        """Call listener(events) on the event loop after each stored batch."""
        self._listeners = [*self._listeners, listener]

    def publish(self, event: FeedEventData) -> None:
        """Queue an event (any thread)."""
        if len(self._queue) >= MAX_QUEUED:
            self.dropped += 1
            if self.dropped % 1000 == 1:
                log.warning("feed queue full (database unreachable?): dropped %s", self.dropped)
            return
        self._queue.append(event)
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake.set)

    def _store(self, events: list[FeedEventData]) -> None:
        with self.db.session() as session:
            store_events(session, events, datetime.now(UTC))
            session.commit()

    async def flush(self) -> None:
        """Store everything queued so far and tell the listeners."""
        events = []
        while self._queue:
            events.append(self._queue.popleft())
        if not events:
            return
        try:
            await asyncio.to_thread(self._store, events)
        except Exception:
            # Kept for the next flush: the database may be back by then.
            self._queue.extendleft(reversed(events))
            raise
        self.stored += len(events)
        for listener in self._listeners:
            try:
                listener(events)
            except Exception:
                log.exception("feed listener failed")

    async def run(self) -> None:
        """Store a short window after something was queued, until cancelled."""
        self._loop = asyncio.get_running_loop()
        if self._queue:
            self._wake.set()
        outage = OutageLog(log, "feeds outbox")
        while True:
            await self._wake.wait()
            await asyncio.sleep(self.batch_window_s)
            self._wake.clear()
            try:
                await self.flush()
            except Exception as exc:
                outage.failed(exc, "storing feed events failed; retrying in 1 s")
                await asyncio.sleep(1.0)
                self._wake.set()
            else:
                outage.succeeded()

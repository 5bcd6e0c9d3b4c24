"""Webhook deliveries: POST each due event, record the outcome, retry with backoff.

Deliveries run as tasks, at most `concurrency` at a time; one still running is never
started again. A 2xx answer delivers; anything else (another status, a timeout, a refused
connection, a redirect) counts as a failed try. After `max_attempts` failed tries the
delivery is a dead letter, listed by the API until someone redelivers or discards it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime

import httpx

from fleet_server.db import Database
from fleet_server.db.outage import OutageLog
from fleet_server.feeds.signing import (
    DELIVERY_HEADER,
    EVENT_ID_HEADER,
    EVENT_TYPE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signature,
)
from fleet_server.feeds.store import (
    AttemptResult,
    DueDelivery,
    RetryPolicy,
    due_deliveries,
    next_due_at,
    prune_delivered,
    record_attempt,
)

log = logging.getLogger(__name__)

USER_AGENT = "fleet-server-webhooks/1"
BATCH = 50
PRUNE_EVERY_S = 3600.0


class WebhookSender:
    """Sends due deliveries and records their outcome."""

    def __init__(
        self,
        db: Database,
        policy: RetryPolicy,
        *,
        timeout_s: float = 10.0,
        poll_interval_s: float = 5.0,
        concurrency: int = 16,
        retention_days: int = 7,
    ) -> None:
        self.db = db
        self.policy = policy
        self.timeout_s = timeout_s
        self.poll_interval_s = poll_interval_s
        self.retention_days = retention_days
        self._slots = asyncio.Semaphore(concurrency)
        self._in_flight: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._client: httpx.AsyncClient | None = None
        self.delivered = 0
        self.failed = 0

    def wake(self) -> None:
        """Look for due deliveries now (on the event loop)."""
        self._wake.set()

    def _headers(self, due: DueDelivery, body: bytes) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            EVENT_TYPE_HEADER: due.event.type,
            EVENT_ID_HEADER: str(due.event.id),
            DELIVERY_HEADER: str(due.id),
            TIMESTAMP_HEADER: str(int(time.time())),
            SIGNATURE_HEADER: signature(due.secret, body),
        }

    async def _post(self, due: DueDelivery) -> AttemptResult:
        client = self._client
        if client is None:
            return AttemptResult(False, None, "sender stopped")
        body = due.event.body()
        try:
            response = await client.post(due.url, content=body, headers=self._headers(due, body))
        except httpx.HTTPError as exc:
            return AttemptResult(False, None, f"{type(exc).__name__}: {exc}".strip(": "))
        if 200 <= response.status_code < 300:
            return AttemptResult(True, response.status_code, None)
        return AttemptResult(False, response.status_code, f"HTTP {response.status_code}")

    def _record(self, due: DueDelivery, result: AttemptResult) -> str | None:
        with self.db.session() as session:
            state = record_attempt(session, due.id, result, datetime.now(UTC), self.policy)
            session.commit()
            return state

    async def _deliver(self, due: DueDelivery) -> None:
        try:
            async with self._slots:
                result = await self._post(due)
                state = await asyncio.to_thread(self._record, due, result)
            if result.ok:
                self.delivered += 1
            else:
                self.failed += 1
                log.info(
                    "webhook %s: delivery %s of %s failed (%s); now %s",
                    due.webhook_id,
                    due.id,
                    due.event.type,
                    result.error,
                    state,
                )
        except Exception:
            log.exception("webhook delivery %s failed unexpectedly", due.id)
        finally:
            self._in_flight.discard(due.id)
            self._wake.set()

    def _due(self) -> tuple[list[DueDelivery], datetime | None]:
        with self.db.session() as session:
            now = datetime.now(UTC)
            found = due_deliveries(session, now, set(self._in_flight), BATCH)
            return found, None if found else next_due_at(session)

    def _prune(self) -> None:
        before = datetime.now(UTC).timestamp() - self.retention_days * 86_400
        with self.db.session() as session:
            prune_delivered(session, datetime.fromtimestamp(before, UTC))
            session.commit()

    async def run(self) -> None:
        """Deliver until cancelled; in-flight posts are cancelled with it."""
        pruned_at = 0.0
        outage = OutageLog(log, "webhook deliveries")
        async with httpx.AsyncClient(timeout=self.timeout_s, follow_redirects=False) as client:
            self._client = client
            try:
                while True:
                    self._wake.clear()
                    try:
                        if time.monotonic() - pruned_at > PRUNE_EVERY_S:
                            pruned_at = time.monotonic()
                            await asyncio.to_thread(self._prune)
                        found, next_at = await asyncio.to_thread(self._due)
                    except Exception as exc:
                        outage.failed(exc, "reading due webhook deliveries failed")
                        found, next_at = [], None
                    else:
                        outage.succeeded()
                    for due in found:
                        self._in_flight.add(due.id)
                        task = asyncio.create_task(self._deliver(due), name=f"webhook-{due.id}")
                        self._tasks.add(task)
                        task.add_done_callback(self._tasks.discard)
                    wait_s = self.poll_interval_s
                    if next_at is not None:
                        wait_s = min(wait_s, (next_at - datetime.now(UTC)).total_seconds())
                    if found and len(found) == BATCH:
                        wait_s = 0.0
                    # asyncio.timeout, not wait_for: wait_for (3.11) loses a cancellation
                    # that arrives as the event is set, and shutdown would wait forever.
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(max(0.01, wait_s)):
                            await self._wake.wait()
            finally:
                for task in list(self._tasks):
                    task.cancel()
                for task in list(self._tasks):
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                self._client = None

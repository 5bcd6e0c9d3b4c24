"""The outbox in the database: events with their deliveries, due deliveries, attempt results."""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from fleet_server.db.models import FeedEvent, Webhook, WebhookDelivery
from fleet_server.feeds.events import FeedEventData

MAX_ERROR_CHARS = 500


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how far apart a delivery is tried before it becomes a dead letter."""

    max_attempts: int = 8
    backoff_base_s: float = 5.0
    backoff_max_s: float = 3600.0

    def delay_s(self, attempts: int, rng: random.Random | None = None) -> float:
        """Wait after the `attempts`-th failed try: exponential, capped, with equal jitter
        (half fixed, half random) so receivers that failed together do not retry together."""
        full = min(self.backoff_max_s, self.backoff_base_s * 2 ** max(0, attempts - 1))
        jitter: float = (rng or random).uniform(0, full / 2)
        return float(full / 2 + jitter)


@dataclass(frozen=True)
class DueDelivery:
    """A delivery to try now, with what sending it needs."""

    id: int
    webhook_id: int
    url: str
    secret: str
    attempts: int
    event: FeedEventData


def webhook_wants(webhook: Webhook, event: FeedEventData) -> bool:
    """Whether the webhook takes this event (its types, and its site when it names one)."""
    if event.type not in webhook.event_types:
        return False
    return webhook.site_id is None or webhook.site_id == event.site_id


def store_events(session: Session, events: Iterable[FeedEventData], now: datetime) -> int:
    """Add the events and one pending delivery per interested webhook; returns deliveries."""
    hooks = list(session.scalars(select(Webhook).where(Webhook.enabled.is_(True))))
    added = 0
    for event in events:
        session.add(
            FeedEvent(
                id=event.id,
                type=event.type,
                site_id=event.site_id,
                occurred_at=event.occurred_at,
                data=event.data,
            )
        )
        for hook in hooks:
            if webhook_wants(hook, event):
                session.add(
                    WebhookDelivery(
                        webhook_id=hook.id, event_id=event.id, next_attempt_at=now, created_at=now
                    )
                )
                added += 1
    return added


def event_data(row: FeedEvent) -> FeedEventData:
    """The in-memory event of a stored row (same id, same body)."""
    return FeedEventData(
        type=row.type, site_id=row.site_id, data=row.data, id=row.id, occurred_at=row.occurred_at
    )


def due_deliveries(
    session: Session, now: datetime, skip: set[int], limit: int
) -> list[DueDelivery]:
    """Pending deliveries of enabled webhooks whose next try is due, oldest first."""
    query = (
        select(WebhookDelivery, Webhook, FeedEvent)
        .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
        .join(FeedEvent, FeedEvent.id == WebhookDelivery.event_id)
        .where(
            WebhookDelivery.state == "pending",
            WebhookDelivery.next_attempt_at <= now,
            Webhook.enabled.is_(True),
        )
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit + len(skip))
    )
    found = []
    for delivery, hook, event in session.execute(query).all():
        if delivery.id in skip:
            continue
        found.append(
            DueDelivery(
                delivery.id, hook.id, hook.url, hook.secret, delivery.attempts, event_data(event)
            )
        )
    return found[:limit]


def next_due_at(session: Session) -> datetime | None:
    """When the earliest pending delivery of an enabled webhook is due."""
    query = (
        select(func.min(WebhookDelivery.next_attempt_at))
        .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
        .where(WebhookDelivery.state == "pending", Webhook.enabled.is_(True))
    )
    return session.scalar(query)


@dataclass(frozen=True)
class AttemptResult:
    """What one try of a delivery gave."""

    ok: bool
    status: int | None
    error: str | None


def record_attempt(
    session: Session,
    delivery_id: int,
    result: AttemptResult,
    now: datetime,
    policy: RetryPolicy,
) -> str | None:
    """Store a try: delivered, retried later, or dead-lettered; the webhook's health too.

    Returns the delivery's new state, None when it (or its webhook) was deleted meanwhile.
    """
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.state != "pending":
        return None
    hook = session.get(Webhook, delivery.webhook_id)
    if hook is None:
        return None
    delivery.attempts += 1
    delivery.last_status = result.status
    if result.ok:
        delivery.state, delivery.finished_at, delivery.last_error = "delivered", now, None
        hook.last_success_at, hook.consecutive_failures = now, 0
        return delivery.state
    error = (result.error or f"HTTP {result.status}")[:MAX_ERROR_CHARS]
    delivery.last_error = error
    hook.last_failure_at, hook.last_error = now, error
    hook.consecutive_failures += 1
    if delivery.attempts >= policy.max_attempts:
        delivery.state, delivery.finished_at = "dead", now
    else:
        delivery.next_attempt_at = now + timedelta(seconds=policy.delay_s(delivery.attempts))
    return delivery.state


def dead_letter_counts(session: Session) -> dict[int, int]:
    """Dead letters per webhook id."""
    query = (
        select(WebhookDelivery.webhook_id, func.count())
        .where(WebhookDelivery.state == "dead")
        .group_by(WebhookDelivery.webhook_id)
    )
    return {hook_id: count for hook_id, count in session.execute(query).all()}


def pending_counts(session: Session) -> dict[int, int]:
    """Deliveries still to be made, per webhook id."""
    query = (
        select(WebhookDelivery.webhook_id, func.count())
        .where(WebhookDelivery.state == "pending")
        .group_by(WebhookDelivery.webhook_id)
    )
    return {hook_id: count for hook_id, count in session.execute(query).all()}


def prune_delivered(session: Session, before: datetime) -> int:
    """Delete delivered deliveries finished before `before`, and events nobody still needs."""
    result = session.execute(
        delete(WebhookDelivery).where(
            WebhookDelivery.state == "delivered", WebhookDelivery.finished_at < before
        )
    )
    gone: int | None = getattr(result, "rowcount", None)
    still_needed = select(WebhookDelivery.event_id)
    session.execute(
        delete(FeedEvent).where(FeedEvent.occurred_at < before, FeedEvent.id.not_in(still_needed))
    )
    return int(gone or 0)


def redeliver(session: Session, delivery: WebhookDelivery, now: datetime) -> None:
    """Put a dead letter back in the queue with a fresh count of tries."""
    delivery.state, delivery.attempts, delivery.next_attempt_at = "pending", 0, now
    delivery.finished_at = None

"""The operations-centre feed: webhooks, the event outbox and its deliveries; site emergencies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from fleet_server.db.base import Base, BigId, utcnow

DELIVERY_STATES = ("pending", "delivered", "dead")


class Webhook(Base):
    """An outbound webhook: where events of which types (and which site) are POSTed."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(128))
    """HMAC-SHA256 key of the signatures; kept in clear because signing needs it."""
    event_types: Mapped[list[Any]] = mapped_column(default=list)
    site_id: Mapped[str | None] = mapped_column(
        String(64), ForeignKey("sites.id", ondelete="CASCADE")
    )
    """Only events of this site; NULL: every site (and events of no site)."""
    enabled: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    last_success_at: Mapped[datetime | None]
    last_failure_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    consecutive_failures: Mapped[int] = mapped_column(default=0)


class FeedEvent(Base):
    """One event of the feed (the outbox), stored before anything is delivered."""

    __tablename__ = "feed_events"
    __table_args__ = (Index("ix_feed_events_occurred_at", "occurred_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    """Receivers de-duplicate by this id: a retried delivery carries the same one."""
    type: Mapped[str] = mapped_column(String(64))
    site_id: Mapped[str | None] = mapped_column(String(64))
    """No foreign key: an event stays readable after its site is deleted."""
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class WebhookDelivery(Base):
    """One event for one webhook: pending (with its next try), delivered, or dead-lettered."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint(f"state IN ({', '.join(repr(s) for s in DELIVERY_STATES)})", name="state"),
        Index("ix_webhook_deliveries_state_next_attempt_at", "state", "next_attempt_at"),
        Index("ix_webhook_deliveries_webhook_id_state", "webhook_id", "state"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("feed_events.id", ondelete="CASCADE"), index=True
    )
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_status: Mapped[int | None]
    """HTTP status of the last try (NULL: no answer)."""
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    """When it was delivered or dead-lettered."""


class SiteEmergency(Base):
    """A site's emergency mode (fire alarm, evacuation); active while `cleared_at` is NULL."""

    __tablename__ = "site_emergencies"
    __table_args__ = (Index("ix_site_emergencies_site_id_cleared_at", "site_id", "cleared_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    site_id: Mapped[str] = mapped_column(String(64), ForeignKey("sites.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_by: Mapped[str] = mapped_column(String(100))
    cleared_at: Mapped[datetime | None]
    cleared_by: Mapped[str | None] = mapped_column(String(100))
    suspended_missions: Mapped[list[Any]] = mapped_column(default=list)
    """Ids of the missions the emergency took off their robots: resumed when it clears."""

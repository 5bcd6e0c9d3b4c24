"""Webhooks of the operations-centre feed as the API takes and shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator

from fleet_server.feeds.events import EVENT_TYPES


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")
    if parts.username or parts.password:
        raise ValueError("must not carry credentials; the signature authenticates the server")
    return url


def _check_types(types: list[str]) -> list[str]:
    unknown = [t for t in types if t not in EVENT_TYPES]
    if unknown:
        raise ValueError(f"unknown event types {unknown}; known: {', '.join(EVENT_TYPES)}")
    return list(dict.fromkeys(types))


class WebhookCreate(BaseModel):
    """A new webhook."""

    name: str = Field(min_length=1, max_length=100, pattern=r"^[^\x00]*$")
    url: str = Field(max_length=2000)
    event_types: list[str] = Field(min_length=1, max_length=len(EVENT_TYPES))
    site_id: str | None = Field(default=None, max_length=64)
    """Only events of this site (none: every site)."""
    enabled: bool = True

    _url = field_validator("url")(_check_url)
    _types = field_validator("event_types")(_check_types)


class WebhookUpdate(BaseModel):
    """Changes to a webhook; `site_id: null` widens it to every site."""

    name: str | None = Field(default=None, min_length=1, max_length=100, pattern=r"^[^\x00]*$")
    url: str | None = Field(default=None, max_length=2000)
    event_types: list[str] | None = Field(default=None, min_length=1)
    site_id: str | None = Field(default=None, max_length=64)
    enabled: bool | None = None
    rotate_secret: bool = False
    """Make a new signing secret (shown once in the answer)."""

    _url = field_validator("url")(lambda v: None if v is None else _check_url(v))
    _types = field_validator("event_types")(lambda v: None if v is None else _check_types(v))


class WebhookHealth(BaseModel):
    """How deliveries to a webhook go."""

    healthy: bool
    last_success_at: datetime | None
    last_failure_at: datetime | None
    last_error: str | None
    consecutive_failures: int
    pending: int
    dead_letters: int


class WebhookPublic(BaseModel):
    """A webhook as the API shows it (without its secret)."""

    id: int
    name: str
    url: str
    event_types: list[str]
    site_id: str | None
    enabled: bool
    created_by: str | None
    created_at: datetime
    health: WebhookHealth


class WebhookWithSecret(WebhookPublic):
    """The answer that shows the signing secret: creation and rotation only."""

    secret: str


class DeadLetter(BaseModel):
    """A delivery that failed its last try, with the event it carried."""

    id: int
    event: dict[str, Any]
    attempts: int
    last_status: int | None
    last_error: str | None
    dead_since: datetime | None


class FeedWebhookStatus(BaseModel):
    """One webhook's state as the city overview shows it."""

    id: int
    name: str
    enabled: bool
    healthy: bool
    consecutive_failures: int
    dead_letters: int
    last_success_at: datetime | None


class FeedStatus(BaseModel):
    """The feed at a glance: each webhook, and the MQTT bridge."""

    webhooks: list[FeedWebhookStatus]
    mqtt_bridge_enabled: bool
    mqtt_bridge_connected: bool

"""Signatures, retry delays, which webhook wants which event, bridge topics."""

from __future__ import annotations

import hashlib
import hmac
import random
from typing import Any

import pytest

from fleet_server.db.models import Webhook
from fleet_server.feeds.bridge import bridge_topic
from fleet_server.feeds.events import FeedEventData
from fleet_server.feeds.signing import new_secret, signature, verify
from fleet_server.feeds.store import RetryPolicy, webhook_wants


def test_signature_is_the_hmac_of_the_raw_body_and_verifies_only_with_the_secret() -> None:
    secret = new_secret()
    body = FeedEventData(type="robot.online", site_id="clinic", data={"robot": "a/b"}).body()
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert signature(secret, body) == f"sha256={expected}"
    assert verify(secret, body, signature(secret, body))
    assert not verify(new_secret(), body, signature(secret, body))
    assert not verify(secret, body + b" ", signature(secret, body))
    assert not verify(secret, body, expected)  # the scheme prefix is required
    assert not verify(secret, body, None)


def test_the_body_is_stable_for_one_event() -> None:
    event = FeedEventData(type="alarm.raised", site_id=None, data={"message": "汉字"})
    assert event.body() == event.body()
    assert "汉字".encode() in event.body()


@pytest.mark.parametrize("attempts", [1, 2, 3, 6, 20])
def test_retry_delay_doubles_with_jitter_and_is_capped(attempts: int) -> None:
    policy = RetryPolicy(max_attempts=30, backoff_base_s=2.0, backoff_max_s=60.0)
    full = min(60.0, 2.0 * 2 ** (attempts - 1))
    delays = [policy.delay_s(attempts, random.Random(seed)) for seed in range(50)]
    assert all(full / 2 <= d <= full for d in delays)
    assert len(set(delays)) > 1  # jittered


def _hook(**fields: Any) -> Webhook:
    return Webhook(name="h", url="http://x", secret="s", **fields)


def test_a_webhook_takes_its_types_and_its_site_only() -> None:
    everywhere = _hook(event_types=["alarm.raised"], site_id=None)
    clinic = _hook(event_types=["alarm.raised"], site_id="clinic")
    raised_clinic = FeedEventData(type="alarm.raised", site_id="clinic", data={})
    raised_nowhere = FeedEventData(type="alarm.raised", site_id=None, data={})
    cleared = FeedEventData(type="alarm.cleared", site_id="clinic", data={})
    assert webhook_wants(everywhere, raised_clinic) and webhook_wants(everywhere, raised_nowhere)
    assert webhook_wants(clinic, raised_clinic)
    assert not webhook_wants(clinic, raised_nowhere)
    assert not webhook_wants(everywhere, cleared)


def test_bridge_topics_follow_site_and_type() -> None:
    event = FeedEventData(type="site.emergency.started", site_id="clinic", data={})
    assert bridge_topic("city/fleet", event) == "city/fleet/clinic/site/emergency/started"
    no_site = FeedEventData(type="robot.online", site_id=None, data={})
    assert bridge_topic("fleet/events", no_site) == "fleet/events/_/robot/online"

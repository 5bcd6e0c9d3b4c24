"""The optional MQTT bridge: every stored feed event published to an external broker.

Topic: `{prefix}/{site_id or "_"}/{event type with "." as "/"}`, e.g.
`city/fleet/clinic/mission/transition`; payload: the same JSON body a webhook receives;
QoS 1, not retained. The bridge has its own MQTT link (its own paho client and network
thread) so an unreachable city broker never slows the robots' broker.
"""

from __future__ import annotations

import asyncio
import logging
import os

from fleet_server.feeds.events import FeedEventData
from fleet_server.mqtt_client import MqttLink
from fleet_server.settings import parse_mqtt_url

log = logging.getLogger(__name__)

QOS = 1
NO_SITE = "_"


def bridge_topic(prefix: str, event: FeedEventData) -> str:
    """Where an event is published."""
    return "/".join((prefix, event.site_id or NO_SITE, *event.type.split(".")))


class MqttBridge:
    """Publishes feed events to an external broker."""

    def __init__(self, url: str, prefix: str, loop: asyncio.AbstractEventLoop) -> None:
        self.prefix = prefix
        self.url = url
        self.link = MqttLink(parse_mqtt_url(url), client_id=f"fleet-feed-{os.getpid()}", loop=loop)
        self.published = 0

    @property
    def connected(self) -> bool:
        """True while the session with the external broker is up."""
        return self.link.connected

    async def start(self, timeout_s: float = 3.0) -> None:
        """Connect in the background (a broker that is down now is retried)."""
        await self.link.start(timeout_s)

    async def stop(self) -> None:
        """Disconnect."""
        await self.link.stop()

    def on_stored(self, events: list[FeedEventData]) -> None:
        """Publish a stored batch (an outbox listener)."""
        for event in events:
            self.link.publish(bridge_topic(self.prefix, event), event.body(), qos=QOS)
            self.published += 1

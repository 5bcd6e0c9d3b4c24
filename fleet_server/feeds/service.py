"""The feed service: listens to missions, alarms and robots; stores, delivers and bridges."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from fleet_server.alarms.model import AlarmEvent
from fleet_server.alarms.service import AlarmService
from fleet_server.db import Database
from fleet_server.feeds.bridge import MqttBridge
from fleet_server.feeds.delivery import WebhookSender
from fleet_server.feeds.events import FeedEventData, alarm_event, mission_event, robot_event
from fleet_server.feeds.outbox import FeedOutbox
from fleet_server.feeds.store import RetryPolicy
from fleet_server.fleet.live_state import LiveFleet, RobotEvent, RobotLive
from fleet_server.missions.runtime import MissionRuntime, MissionTransition
from fleet_server.robots.directory import RobotDirectory
from fleet_server.settings import Settings


@dataclass
class FeedService:
    """The outbox, the webhook sender and (when configured) the MQTT bridge."""

    outbox: FeedOutbox
    sender: WebhookSender
    directory: RobotDirectory
    loop: asyncio.AbstractEventLoop
    bridge: MqttBridge | None = None

    def publish(self, event: FeedEventData) -> None:
        """Queue an event for every interested webhook and the bridge (any thread)."""
        self.outbox.publish(event)

    def on_transition(self, moved: MissionTransition) -> None:
        """A mission runtime transition hook (worker threads)."""
        self.publish(mission_event(moved))

    def on_alarm(self, event: AlarmEvent) -> None:
        """An alarm-service listener."""
        found = alarm_event(event)
        if found is not None:
            self.publish(found)

    def on_robot(self, event: str, robot: RobotLive) -> None:
        """A live-fleet listener: registered robots going online or offline."""
        if event not in (RobotEvent.ONLINE, RobotEvent.OFFLINE):
            return
        entry = self.directory.get(robot.key)
        if entry is None or entry.decommissioned:
            return
        self.publish(
            robot_event(
                event == RobotEvent.ONLINE, robot.manufacturer, robot.serial_number, entry.site_id
            )
        )

    def _on_stored(self, _events: list[FeedEventData]) -> None:
        self.sender.wake()

    def wake_sender_from_thread(self) -> None:
        """Look for due deliveries now (e.g. after a redelivery was queued by the API)."""
        if not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.sender.wake)


def retry_policy(settings: Settings) -> RetryPolicy:
    """The retry policy the settings describe."""
    return RetryPolicy(
        max_attempts=settings.webhook_max_attempts,
        backoff_base_s=settings.webhook_backoff_base_s,
        backoff_max_s=settings.webhook_backoff_max_s,
    )


@contextlib.asynccontextmanager
async def running_feeds(
    settings: Settings,
    db: Database,
    live: LiveFleet,
    directory: RobotDirectory,
    alarms: AlarmService,
    runtime: MissionRuntime,
) -> AsyncIterator[FeedService]:
    """Feeds listening, storing and delivering for as long as the context lasts."""
    sender = WebhookSender(
        db,
        retry_policy(settings),
        timeout_s=settings.webhook_timeout_s,
        poll_interval_s=min(5.0, settings.webhook_backoff_base_s),
        retention_days=settings.webhook_retention_days,
    )
    loop = asyncio.get_running_loop()
    service = FeedService(FeedOutbox(db), sender, directory, loop)
    service.outbox.add_listener(service._on_stored)
    if settings.feed_mqtt_url:
        bridge = MqttBridge(settings.feed_mqtt_url, settings.feed_mqtt_topic_prefix, loop)
        await bridge.start()
        service.bridge = bridge
        service.outbox.add_listener(bridge.on_stored)
    removers: list[Callable[[], None]] = [
        runtime.add_transition_hook(service.on_transition),
        alarms.add_listener(service.on_alarm),
        live.add_listener(service.on_robot),
    ]
    tasks = [
        asyncio.create_task(service.outbox.run(), name="feed-outbox"),
        asyncio.create_task(sender.run(), name="webhook-sender"),
    ]
    try:
        yield service
    finally:
        for remove in removers:
            remove()
        # Whatever is queued is stored before the sender stops: a restart delivers it.
        with contextlib.suppress(Exception):
            await service.outbox.flush()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if service.bridge is not None:
            await service.bridge.stop()

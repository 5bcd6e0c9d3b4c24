"""The long-lived services of one server process, started and stopped in the app lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from fleet_server.alarms.service import AlarmService, running_alarms
from fleet_server.auth.context import AuthContext
from fleet_server.auth.signing_key import load_signing_key
from fleet_server.auth.users import ensure_admin as ensure_admin  # re-exported for the demo
from fleet_server.broker import EmbeddedBroker
from fleet_server.db import Database, upgrade_to_head
from fleet_server.feeds.service import FeedService, running_feeds
from fleet_server.fleet.ingest import Ingest, tune_gc_for_ingest
from fleet_server.fleet.live_state import LiveFleet
from fleet_server.fleet.orders import OrderPublisher
from fleet_server.live.hub import LiveHub, LiveSettings
from fleet_server.missions.charging import ChargingPolicy
from fleet_server.missions.emergency import EmergencyService, running_emergency
from fleet_server.missions.runtime import MissionRuntime
from fleet_server.missions.traffic_stalls import stale_stall_alarms
from fleet_server.mqtt_client import MqttLink
from fleet_server.observability.fleet_metrics import FleetMetrics, MetricSources, MissionCounts
from fleet_server.robots.broker_sync import BrokerAccountSync, running_embedded_broker
from fleet_server.robots.directory import RobotDirectory, running_directory
from fleet_server.schedules.materialise import ScheduleMaterialiser, running_schedules
from fleet_server.schedules.quiet_hours import QuietHoursBook
from fleet_server.settings import Settings
from fleet_server.sites.store import SiteStore
from fleet_server.telemetry.sampler import TelemetrySampler, running_telemetry

log = logging.getLogger(__name__)

SWEEP_INTERVAL_S = 0.5


@dataclass
class FleetServices:
    """What routes and background tasks share: settings, database, broker link, live state."""

    settings: Settings
    db: Database
    auth: AuthContext
    live: LiveFleet
    link: MqttLink
    ingest: Ingest
    orders: OrderPublisher
    sites: SiteStore
    missions: MissionRuntime
    hub: LiveHub
    metrics: FleetMetrics
    robots: RobotDirectory
    alarms: AlarmService
    telemetry: TelemetrySampler
    feeds: FeedService | None = None
    """Webhooks and the MQTT bridge of the operations-centre feed."""
    emergency: EmergencyService | None = None
    broker: EmbeddedBroker | None = None
    broker_accounts: BrokerAccountSync | None = None
    """The embedded broker's password and ACL files, when it enforces robot accounts."""
    schedules: ScheduleMaterialiser | None = None
    """Makes scheduled missions a horizon ahead."""
    quiet_hours: QuietHoursBook | None = None
    """Each site's quiet hours, as the compiler takes them."""


async def _sweep_silent_robots(live: LiveFleet) -> None:
    # Backstop for robots whose last will never arrives (e.g. a broker that lost it).
    while True:
        await asyncio.sleep(SWEEP_INTERVAL_S)
        live.mark_silent_offline(time.monotonic())


def _start_order_publisher(
    stack: contextlib.AsyncExitStack,
    link: MqttLink,
    live: LiveFleet,
    interface: str,
    alarms: AlarmService,
) -> OrderPublisher:
    """Orders out with a bounded resend; its timer task stops before the link does."""
    orders = OrderPublisher(
        link,
        live,
        interface,
        on_gave_up=alarms.on_order_gave_up,
        on_rejected=alarms.on_order_rejected,
    )
    resend = asyncio.create_task(orders.run(), name="order-resend")

    async def stop() -> None:
        resend.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await resend
        orders.close()

    stack.push_async_callback(stop)
    return orders


def _start_mission_runtime(
    stack: contextlib.AsyncExitStack, runtime: MissionRuntime
) -> MissionRuntime:
    """Assignment and progress run as one task; it stops before the order publisher."""
    task = asyncio.create_task(runtime.run(), name="mission-runtime")

    async def stop() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        runtime.close()

    stack.push_async_callback(stop)
    return runtime


async def _start_live_hub(
    stack: contextlib.AsyncExitStack, settings: Settings, live: LiveFleet, db: Database
) -> LiveHub:
    """The live stream's hub; it stops (closing its clients) before the mission runtime."""
    hub = LiveHub(
        live,
        db,
        LiveSettings(
            flush_interval_s=settings.live_flush_interval_s,
            robot_max_hz=settings.live_robot_max_hz,
            outbox_frames=settings.live_outbox_frames,
            stall_timeout_s=settings.live_stall_timeout_s,
        ),
    )
    await hub.start()
    task = asyncio.create_task(hub.run(), name="live-hub")

    async def stop() -> None:
        hub.close()
        await hub.stop_snapshots()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    stack.push_async_callback(stop)
    return hub


def open_database(settings: Settings) -> Database:
    """Migrate the database to the newest schema and create the first admin if configured."""
    upgrade_to_head(settings.database_url)
    db = Database.open(settings.database_url)
    if settings.admin_password is not None:
        with db.session() as session:
            ensure_admin(session, settings.admin_password.get_secret_value())
    return db


@contextlib.asynccontextmanager
async def run_services(settings: Settings) -> AsyncIterator[FleetServices]:
    """Migrate the database, start the broker (if embedded), the MQTT link and ingest."""
    async with contextlib.AsyncExitStack() as stack:
        db = await asyncio.to_thread(open_database, settings)
        stack.callback(db.close)
        robots = await stack.enter_async_context(running_directory(db))
        auth = AuthContext.from_settings(settings, load_signing_key(settings))
        broker: EmbeddedBroker | None = None
        broker_accounts: BrokerAccountSync | None = None
        endpoint = settings.mqtt_endpoint()
        if settings.uses_embedded_broker:
            embedded = await stack.enter_async_context(running_embedded_broker(settings, robots))
            broker, broker_accounts, endpoint = (
                embedded.broker,
                embedded.accounts,
                embedded.endpoint,
            )
        loop = asyncio.get_running_loop()
        live = LiveFleet(offline_after_s=settings.robot_offline_factor * settings.robot_keepalive_s)
        # Unique per run: two servers with one client id would take over each other's session.
        client_id = f"fleet-server-{os.getpid()}-{secrets.token_hex(3)}"
        link = MqttLink(endpoint, client_id=client_id, loop=loop)
        ingest = Ingest(
            live,
            settings.vda_interface,
            directory=robots,
            max_payload_bytes=settings.mqtt_max_payload_bytes,
        )
        ingest.subscribe(link)
        tune_gc_for_ingest()
        await link.start()
        stack.push_async_callback(link.stop)
        sweeper = asyncio.create_task(_sweep_silent_robots(live), name="sweep-silent-robots")

        async def stop_sweeper() -> None:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper

        stack.push_async_callback(stop_sweeper)
        alarms = await stack.enter_async_context(running_alarms(db, live, robots))
        ingest.on_unregistered = alarms.robot_unregistered
        orders = _start_order_publisher(stack, link, live, settings.vda_interface, alarms)
        sites = SiteStore(settings.data_dir)
        # Entered before the runtime starts: scheduled missions whose time passed while the
        # server was down are cancelled as missed before anything could start them late.
        schedules = await stack.enter_async_context(running_schedules(settings, db, sites, alarms))
        quiet_hours = QuietHoursBook(db)
        missions = _start_mission_runtime(
            stack,
            MissionRuntime(
                db,
                live,
                orders,
                sites,
                reassign_after_s=settings.mission_reassign_after_s,
                charging=ChargingPolicy(settings.charging_default, settings.charging_classes),
                replan_interval_s=settings.dispatch_replan_interval_s,
            ),
        )
        missions.quiet_hours = quiet_hours.option
        missions.traffic.raise_alarm = alarms.writer.enqueue  # called on the loop (tick)
        for change in await asyncio.to_thread(stale_stall_alarms, db):
            alarms.writer.enqueue(change)
        schedules.missions_created = missions.poke
        hub = await _start_live_hub(stack, settings, live, db)
        stack.callback(alarms.add_listener(hub.on_alarm_event))
        # A robot registered or moved shows up at its site at once, not at the next re-read.
        stack.callback(robots.add_listener(lambda _robot: hub.refresh_directory_soon()))
        telemetry = await stack.enter_async_context(
            running_telemetry(
                db,
                live,
                robots,
                interval_s=settings.telemetry_interval_s,
                retention_days=settings.telemetry_retention_days,
            )
        )
        stack.callback(missions.add_transition_hook(hub.publish_mission))
        metrics = FleetMetrics(
            MetricSources(live, ingest, link, orders, hub, MissionCounts(db), missions)
        )
        stack.callback(missions.add_transition_hook(metrics.on_transition))
        feeds = await stack.enter_async_context(
            running_feeds(settings, db, live, robots, alarms, missions)
        )
        emergency = await stack.enter_async_context(
            running_emergency(db, live, missions, orders, sites, alarms, feeds.publish)
        )
        yield FleetServices(
            settings=settings,
            db=db,
            auth=auth,
            live=live,
            link=link,
            ingest=ingest,
            orders=orders,
            sites=sites,
            missions=missions,
            hub=hub,
            metrics=metrics,
            robots=robots,
            alarms=alarms,
            telemetry=telemetry,
            feeds=feeds,
            emergency=emergency,
            broker=broker,
            broker_accounts=broker_accounts,
            schedules=schedules,
            quiet_hours=quiet_hours,
        )

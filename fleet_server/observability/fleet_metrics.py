"""The server's Prometheus metrics, collected at scrape time from the components' counters.

Missions by state come from the database, read at most every `max_age_s` (5 s) however
often Prometheus scrapes; everything else is in memory already (traffic control's counters
and the dispatcher's state come from the mission runtime). The dispatch latency
(mission created → order dispatched) is observed by a mission-runtime transition hook.
"""

from __future__ import annotations

import asyncio
import collections
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select

from fleet_server.db import Database
from fleet_server.db.models import Mission
from fleet_server.fleet.ingest import Ingest
from fleet_server.fleet.live_state import LiveFleet
from fleet_server.fleet.orders import OrderPublisher
from fleet_server.live.hub import LiveHub
from fleet_server.missions.charging import TripPhase
from fleet_server.missions.runtime import MissionRuntime, MissionTransition
from fleet_server.missions.states import MissionState
from fleet_server.mqtt_client import MqttLink
from fleet_server.observability.exposition import Histogram, MetricFamily, render

NO_SITE = "none"
"""Site label of robots registered at no site (or not registered)."""
DISPATCH_LATENCY_BUCKETS_S = (
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
)  # fmt: skip
MISSION_COUNTS_MAX_AGE_S = 5.0

MissionCountKey = tuple[str, str]
"""(site id, state)."""


class MissionCounts:
    """Missions by site and state, read from the database at most every `max_age_s`."""

    def __init__(
        self,
        db: Database,
        max_age_s: float = MISSION_COUNTS_MAX_AGE_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.max_age_s = max_age_s
        self._monotonic = monotonic
        self._counts: dict[MissionCountKey, int] = {}
        self._read_at: float | None = None
        self._lock = asyncio.Lock()
        self.reads = 0

    async def current(self) -> dict[MissionCountKey, int]:
        """The counts, re-read (off the event loop) when older than `max_age_s`."""
        async with self._lock:  # concurrent scrapes share one read
            now = self._monotonic()
            if self._read_at is None or now - self._read_at >= self.max_age_s:
                self._counts = await asyncio.to_thread(self._read)
                self._read_at = self._monotonic()
                self.reads += 1
        return self._counts

    def _read(self) -> dict[MissionCountKey, int]:
        with self.db.session() as session:
            rows = session.execute(
                select(Mission.site_id, Mission.state, func.count()).group_by(
                    Mission.site_id, Mission.state
                )
            )
            return {(site, MissionState(state).value): int(n) for site, state, n in rows}


@dataclass(frozen=True)
class MetricSources:
    """The components whose counters /metrics reports."""

    live: LiveFleet
    ingest: Ingest
    link: MqttLink
    orders: OrderPublisher
    hub: LiveHub
    mission_counts: MissionCounts
    missions: MissionRuntime | None = None
    """The mission runtime: its dispatcher and traffic control (none: not reported)."""


class FleetMetrics:
    """Everything /metrics shows, gathered when scraped."""

    def __init__(self, sources: MetricSources) -> None:
        self.sources = sources
        self.dispatch_latency = Histogram(
            "fleet_mission_dispatch_latency_seconds",
            "Time from a mission's creation to its order being dispatched to a robot.",
            DISPATCH_LATENCY_BUCKETS_S,
        )
        self._transitions: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()

    def on_transition(self, moved: MissionTransition) -> None:
        """Count a committed transition; time dispatches (thread-safe: a runtime hook)."""
        with self._lock:
            self._transitions[moved.to_state.value] += 1
        if moved.to_state is MissionState.DISPATCHED:
            self.dispatch_latency.observe(max(0.0, (moved.at - moved.created_at).total_seconds()))

    async def exposition(self) -> str:
        """The metrics in the Prometheus text format."""
        counts = await self.sources.mission_counts.current()
        return render(self.collect(counts))

    def collect(self, mission_counts: dict[MissionCountKey, int]) -> list[MetricFamily]:
        """Every family, from the current counters and the given mission counts."""
        return [
            *self._robot_families(),
            *self._ingest_families(),
            *self._link_families(),
            *self._order_families(),
            *self._mission_families(mission_counts),
            *self._live_families(),
            *self._traffic_families(),
            *self._dispatcher_families(),
        ]

    def _robot_families(self) -> list[MetricFamily]:
        hub = self.sources.hub
        online: collections.Counter[str] = collections.Counter()
        known: collections.Counter[str] = collections.Counter()
        for site in hub.directory.sites:
            online[site] += 0
            known[site] += 0
        for robot in self.sources.live:
            site = hub.site_of(robot.key) or NO_SITE
            known[site] += 1
            if robot.online:
                online[site] += 1
        online_family = MetricFamily(
            "fleet_robots_online", "gauge", "Robots online now, by the site they are registered at."
        )
        known_family = MetricFamily(
            "fleet_robots_known", "gauge", "Robots that reported since the server started, by site."
        )
        for site in sorted(known):
            online_family.add(online[site], site=site)
            known_family.add(known[site], site=site)
        return [online_family, known_family]

    def _ingest_families(self) -> list[MetricFamily]:
        ingest = self.sources.ingest
        accepted = MetricFamily(
            "fleet_ingest_messages_total", "counter", "Robot messages accepted, by topic kind."
        )
        for kind, n in sorted(ingest.accepted.items()):
            accepted.add(n, kind=str(kind))
        rejected = MetricFamily(
            "fleet_ingest_rejected_total", "counter", "Robot messages dropped, by reason."
        )
        for reason, n in sorted(ingest.rejected_by_reason.items()):
            rejected.add(n, reason=reason)
        ignored = MetricFamily(
            "fleet_ingest_ignored_total", "counter", "Robot messages ignored on purpose, by why."
        )
        for why, n in sorted(ingest.ignored.items()):
            ignored.add(n, why=why)
        listener_errors = MetricFamily(
            "fleet_live_state_listener_errors_total",
            "counter",
            "Live-state listeners that raised (each is logged).",
        ).add(self.sources.live.listener_errors)
        return [accepted, rejected, ignored, listener_errors]

    def _link_families(self) -> list[MetricFamily]:
        link = self.sources.link
        counters = link.counters
        handler_errors = MetricFamily(
            "fleet_mqtt_handler_errors_total",
            "counter",
            "MQTT message handlers that raised, by topic kind.",
        )
        for kind, n in sorted(counters.handler_errors.items()):
            handler_errors.add(n, kind=kind)
        return [
            MetricFamily(
                "fleet_mqtt_link_connected", "gauge", "1 while the broker session is up."
            ).add(1 if link.connected else 0),
            MetricFamily(
                "fleet_mqtt_connects_total", "counter", "Broker sessions established."
            ).add(counters.connects),
            MetricFamily(
                "fleet_mqtt_messages_received_total",
                "counter",
                "MQTT messages handed to handlers.",
            ).add(counters.received),
            handler_errors,
        ]

    def _order_families(self) -> list[MetricFamily]:
        counters = self.sources.orders.counters
        spec = (
            ("fleet_orders_sent_total", "Orders and instant actions sent.", counters.sent),
            ("fleet_orders_resent_total", "Resends of unacknowledged orders.", counters.resent),
            (
                "fleet_orders_echoed_total",
                "Orders confirmed by the robot's state.",
                counters.echoed,
            ),
            ("fleet_orders_rejected_total", "Orders the robot rejected.", counters.rejected),
            ("fleet_orders_gave_up_total", "Orders given up after every resend.", counters.gave_up),
            ("fleet_orders_superseded_total", "Orders replaced before echo.", counters.superseded),
        )
        return [MetricFamily(name, "counter", text).add(n) for name, text, n in spec]

    def _mission_families(self, counts: dict[MissionCountKey, int]) -> list[MetricFamily]:
        by_state = MetricFamily(
            "fleet_missions",
            "gauge",
            f"Missions by site and state (read at most every {MISSION_COUNTS_MAX_AGE_S:g} s).",
        )
        sites = sorted({site for site, _state in counts} | self.sources.hub.directory.sites)
        for site in sites:
            for state in MissionState:
                by_state.add(counts.get((site, state.value), 0), site=site, state=state.value)
        transitions = MetricFamily(
            "fleet_mission_transitions_total",
            "counter",
            "Mission transitions this process committed, by the state entered.",
        )
        with self._lock:
            moved = dict(self._transitions)
        for state in MissionState:
            transitions.add(moved.get(state.value, 0), state=state.value)
        return [by_state, transitions, self.dispatch_latency.family()]

    def _live_families(self) -> list[MetricFamily]:
        hub = self.sources.hub
        clients = hub.clients
        stats = hub.stats
        deltas = stats.deltas + sum(c.stats.deltas for c in clients)
        deferred = stats.deferred_flushes + sum(c.stats.deferred_flushes for c in clients)
        resnapshots = stats.resnapshots + sum(c.stats.resnapshots for c in clients)
        disconnects = MetricFamily(
            "fleet_live_disconnects_total", "counter", "Live-stream connections ended, by reason."
        )
        for reason, n in sorted(stats.disconnects.items()):
            disconnects.add(n, reason=reason)
        return [
            MetricFamily("fleet_live_clients", "gauge", "Live-stream clients connected.").add(
                len(clients)
            ),
            MetricFamily(
                "fleet_live_outbox_frames", "gauge", "Frames waiting in all live clients' outboxes."
            ).add(sum(c.outbox.qsize() for c in clients)),
            MetricFamily("fleet_live_deltas_total", "counter", "Delta frames queued.").add(deltas),
            MetricFamily("fleet_live_snapshots_total", "counter", "Snapshot frames queued.").add(
                stats.snapshots
            ),
            MetricFamily(
                "fleet_live_deferred_flushes_total",
                "counter",
                "Flushes that found a client's outbox full (its updates kept coalescing).",
            ).add(deferred),
            MetricFamily(
                "fleet_live_resnapshots_total",
                "counter",
                "Clients sent fresh snapshots because too many changes piled up.",
            ).add(resnapshots),
            disconnects,
        ]

    def _traffic_families(self) -> list[MetricFamily]:
        runtime = self.sources.missions
        if runtime is None:
            return []
        c = runtime.traffic.counters
        counters = (
            (
                "fleet_traffic_reservation_conflicts_total",
                "Two robots found on one reservation (0 while traffic control works).",
                c.reservation_conflicts,
            ),
            ("fleet_traffic_deadlocks_detected_total", "Deadlocks detected.", c.deadlocks_detected),
            ("fleet_traffic_deadlocks_resolved_total", "Deadlocks resolved.", c.deadlocks_resolved),
            (
                "fleet_traffic_reroutes_total",
                "Robots sent to a refuge and back to break a deadlock.",
                c.reroutes,
            ),
            (
                "fleet_traffic_make_way_total",
                "Robots without a mission sent out of somebody's way.",
                c.make_way,
            ),
            (
                "fleet_traffic_step_asides_total",
                "Robots that stepped aside to let a boxed-in robot without a mission out.",
                c.backed_out,
            ),
            ("fleet_traffic_updates_sent_total", "Order updates releasing nodes.", c.updates_sent),
            (
                "fleet_traffic_starts_deferred_total",
                "Missions released through node 0 only: the robot stood where another held.",
                c.starts_deferred,
            ),
            (
                "fleet_traffic_unmanaged_total",
                "Missions sent without traffic control (no site table, or a refused path).",
                c.unmanaged,
            ),
            (
                "fleet_traffic_stalls_total",
                "Robots that could not move (offline, FATAL error) with others waiting for "
                "them past the alarm threshold.",
                c.stalls,
            ),
            (
                "fleet_traffic_detours_total",
                "Robots sent around a robot that could not move.",
                c.detours,
            ),
            ("fleet_traffic_errors_total", "Traffic control steps that failed.", c.errors),
        )
        return [
            *(MetricFamily(name, "counter", text).add(n) for name, text, n in counters),
            MetricFamily(
                "fleet_traffic_deadlocks_unresolved",
                "gauge",
                "Deadlocks present now that no robot could be sent out of.",
            ).add(c.deadlocks_unresolved),
        ]

    def _dispatcher_families(self) -> list[MetricFamily]:
        runtime = self.sources.missions
        if runtime is None:
            return []
        dispatcher = runtime.dispatcher
        plans = dict(dispatcher.plans)
        runs = list(runtime.running.values())
        trips = list(dispatcher.trips.values())
        sites = sorted(
            self.sources.hub.directory.sites
            | plans.keys()
            | {run.site_id for run in runs}
            | {trip.site_id for trip in trips}
        )
        running = MetricFamily(
            "fleet_dispatcher_missions_running", "gauge", "Missions whose order a robot has."
        )
        held = MetricFamily(
            "fleet_dispatcher_missions_held",
            "gauge",
            "Running missions whose robot is lost (offline, dropped the order) or reports a "
            "FATAL error: reassigned once the grace period is over.",
        )
        queued = MetricFamily(
            "fleet_dispatcher_plan_queued", "gauge", "Missions in robots' queues in the plan."
        )
        unassigned = MetricFamily(
            "fleet_dispatcher_plan_unassigned", "gauge", "Waiting missions the plan gave no robot."
        )
        solve = MetricFamily(
            "fleet_dispatcher_plan_solve_seconds", "gauge", "How long the last plan took to solve."
        )
        made = MetricFamily(
            "fleet_dispatcher_plan_made_timestamp_seconds",
            "gauge",
            "When the last plan was made (Unix time; 0: none yet).",
        )
        blocked = MetricFamily(
            "fleet_dispatcher_dispatch_blocked",
            "gauge",
            "1 while the site's emergency mode stops dispatching and charging.",
        )
        charging = MetricFamily(
            "fleet_dispatcher_charging_robots",
            "gauge",
            "Robots on a charging trip, going to the charger or charging there.",
        )
        for site in sites:
            site_runs = [run for run in runs if run.site_id == site]
            running.add(len(site_runs), site=site)
            faulted = sum(run.faulted for run in site_runs)
            lost = sum(run.lost_since is not None and not run.faulted for run in site_runs)
            held.add(faulted, site=site, cause="robot_fault")
            held.add(lost, site=site, cause="robot_lost")
            plan = plans.get(site)
            queued.add(sum(len(q) for q in plan.queues.values()) if plan else 0, site=site)
            unassigned.add(len(plan.unassigned) if plan else 0, site=site)
            solve.add(plan.solve_s if plan else 0.0, site=site)
            made.add(plan.made_at.timestamp() if plan else 0.0, site=site)
            blocked.add(1 if runtime.dispatch_blocked(site) else 0, site=site)
            for phase in TripPhase:
                n = sum(t.site_id == site and t.phase is phase for t in trips)
                charging.add(n, site=site, phase=phase.value)
        return [
            running,
            held,
            queued,
            unassigned,
            solve,
            made,
            blocked,
            charging,
            MetricFamily(
                "fleet_dispatcher_resumptions",
                "gauge",
                "Stopped missions waiting to resume with what is left of them.",
            ).add(len(dispatcher.resumptions)),
        ]

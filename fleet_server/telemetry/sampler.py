"""Sampling the live fleet into `telemetry_samples`, and forgetting old samples.

The ingest hot path never writes telemetry: a task wakes every `interval_s`, takes one
sample of each online registered robot that reported since its last sample, and stores
the batch in one transaction on a worker thread. So a robot at 10 Hz costs one row per
interval, and a slow database delays history, never ingest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, insert

from fleet_server.db import Database
from fleet_server.db.models import TelemetrySample
from fleet_server.db.outage import OutageLog
from fleet_server.fleet.live_state import LiveFleet, RobotKey
from fleet_server.robots.directory import RobotDirectory

log = logging.getLogger(__name__)

PRUNE_EVERY_S = 3600.0


@dataclass(frozen=True, slots=True)
class Sample:
    """One row of telemetry, taken on the event loop."""

    robot_id: int
    at: datetime
    x: float
    y: float
    theta: float
    map_id: str
    battery: float | None


@dataclass
class TelemetryCounters:
    """What the sampler did, for /metrics and tests."""

    batches: int = 0
    samples: int = 0
    pruned: int = 0
    failed_batches: int = 0


class TelemetrySampler:
    """Takes downsampled telemetry from the live fleet and keeps `retention` of it."""

    def __init__(
        self,
        db: Database,
        live: LiveFleet,
        directory: RobotDirectory,
        *,
        interval_s: float,
        retention: timedelta,
        prune_every_s: float = PRUNE_EVERY_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if interval_s <= 0:
            raise ValueError(f"interval_s must be positive, got {interval_s}")
        self.db = db
        self.live = live
        self.directory = directory
        self.interval_s = interval_s
        self.retention = retention
        self.prune_every_s = prune_every_s
        self._monotonic = monotonic
        self.counters = TelemetryCounters()
        self._last_sampled: dict[RobotKey, datetime] = {}
        self._outage = OutageLog(log, "telemetry")

    def collect(self) -> list[Sample]:
        """One sample per online registered robot with news since its last sample (on the loop)."""
        samples = []
        for robot in self.live:
            pose, seen = robot.pose, robot.last_seen
            if not robot.online or pose is None or seen is None:
                continue
            entry = self.directory.get(robot.key)
            if entry is None or entry.decommissioned:
                continue
            if self._last_sampled.get(robot.key) == seen:
                continue  # nothing new since the last sample
            self._last_sampled[robot.key] = seen
            samples.append(
                Sample(
                    entry.id, seen, pose.x, pose.y, pose.theta, pose.map_id, robot.battery_charge
                )
            )
        return samples

    def store(self, samples: list[Sample]) -> None:
        """Insert one batch in one transaction (worker thread)."""
        if not samples:
            return
        with self.db.session() as session:
            session.execute(insert(TelemetrySample), [asdict(s) for s in samples])
            session.commit()
        self.counters.batches += 1
        self.counters.samples += len(samples)

    def prune(self, now: datetime | None = None) -> int:
        """Delete samples older than the retention (worker thread); returns how many."""
        cutoff = (now or datetime.now(UTC)) - self.retention
        with self.db.session() as session:
            result = session.execute(delete(TelemetrySample).where(TelemetrySample.at < cutoff))
            session.commit()
        removed = int(getattr(result, "rowcount", 0) or 0)
        self.counters.pruned += removed
        return removed

    def _store_and_prune(self, samples: list[Sample], prune: bool) -> None:
        try:
            self.store(samples)
        except Exception as exc:
            # History is best effort: a lost batch is a gap of one interval, logged (an
            # outage once, when it begins).
            self.counters.failed_batches += 1
            self._outage.failed(exc, "storing %s telemetry samples failed", len(samples))
        else:
            self._outage.succeeded()
        if prune:
            try:
                removed = self.prune()
            except Exception as exc:
                self._outage.failed(exc, "deleting old telemetry failed")
            else:
                if removed:
                    log.info("deleted %s telemetry samples older than %s", removed, self.retention)

    async def run(self) -> None:
        """Sample every `interval_s` and prune every `prune_every_s`, until cancelled."""
        next_prune = self._monotonic()
        while True:
            prune = self._monotonic() >= next_prune
            if prune:
                next_prune = self._monotonic() + self.prune_every_s
            await asyncio.to_thread(self._store_and_prune, self.collect(), prune)
            await asyncio.sleep(self.interval_s)


@contextlib.asynccontextmanager
async def running_telemetry(
    db: Database,
    live: LiveFleet,
    directory: RobotDirectory,
    *,
    interval_s: float,
    retention_days: float,
) -> AsyncIterator[TelemetrySampler]:
    """A sampler task for as long as the context lasts."""
    sampler = TelemetrySampler(
        db, live, directory, interval_s=interval_s, retention=timedelta(days=retention_days)
    )
    task = asyncio.create_task(sampler.run(), name="telemetry-sampler")
    try:
        yield sampler
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

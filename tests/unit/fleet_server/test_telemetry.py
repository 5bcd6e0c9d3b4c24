"""Telemetry history: one sample per robot per interval at most, retention, thinned reads."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from fleet_server.db import Database, upgrade_to_head
from fleet_server.db.models import Robot, Site, TelemetrySample
from fleet_server.fleet.live_state import LiveFleet
from fleet_server.robots.directory import RobotDirectory, load_directory
from fleet_server.telemetry.history import telemetry_history
from fleet_server.telemetry.sampler import TelemetrySampler, running_telemetry
from missions.vda5050 import AgvPosition, ConnectionState

REGISTERED = ("acme", "r1")
RETIRED = ("acme", "r2")
STRANGER = ("evil", "x1")


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'telemetry.db'}"
    upgrade_to_head(url)
    database = Database.open(url)
    with database.session() as session:
        session.add(Site(id="north", name="North", kind="hospital"))
        session.commit()
        session.add(Robot(manufacturer="acme", serial_number="r1", kind="patrol", site_id="north"))
        session.add(
            Robot(
                manufacturer="acme",
                serial_number="r2",
                kind="patrol",
                site_id="north",
                decommissioned=True,
            )
        )
        session.commit()
    yield database
    database.close()


@pytest.fixture
def directory(db: Database) -> RobotDirectory:
    return load_directory(db)


def _move(live: LiveFleet, robot: tuple[str, str], x: float) -> None:
    position = AgvPosition(x=x, y=2.0, theta=0.5, map_id="L1", position_initialized=True)
    live.apply_position(robot, position, 1.0)


def _samples(db: Database) -> list[TelemetrySample]:
    with db.session() as session:
        return list(session.scalars(select(TelemetrySample).order_by(TelemetrySample.id)))


def test_one_sample_per_registered_robot_that_reported_since_the_last(
    db: Database, directory: RobotDirectory
) -> None:
    live = LiveFleet(offline_after_s=15)
    sampler = TelemetrySampler(db, live, directory, interval_s=10, retention=timedelta(days=30))
    for robot in (REGISTERED, RETIRED, STRANGER):
        _move(live, robot, 1.0)
    for x in (2.0, 3.0, 4.0):  # several messages within one interval: one sample, the last
        _move(live, REGISTERED, x)
    record = live.get(*REGISTERED)
    assert record is not None
    seen = record.last_seen
    sampler.store(sampler.collect())
    assert sampler.collect() == []  # nothing new since
    _move(live, REGISTERED, 5.0)
    live.apply_connection(REGISTERED, ConnectionState.OFFLINE, 2.0)
    assert sampler.collect() == []  # offline robots are not sampled
    rows = _samples(db)
    assert [(r.x, r.y, r.theta, r.map_id) for r in rows] == [(4.0, 2.0, 0.5, "L1")]
    assert rows[0].at == seen
    assert sampler.counters.samples == 1


def test_samples_older_than_the_retention_are_deleted(
    db: Database, directory: RobotDirectory
) -> None:
    sampler = TelemetrySampler(
        db, LiveFleet(offline_after_s=15), directory, interval_s=1, retention=timedelta(days=30)
    )
    now = datetime(2026, 6, 1, tzinfo=UTC)
    with db.session() as session:
        robot_id = session.scalar(select(Robot.id).where(Robot.serial_number == "r1"))
        for age_days in (40, 31, 29, 1):
            session.add(
                TelemetrySample(
                    robot_id=robot_id,
                    at=now - timedelta(days=age_days),
                    x=0,
                    y=0,
                    theta=0,
                    map_id="L1",
                    battery=50.0,
                )
            )
        session.commit()
    assert sampler.prune(now) == 2
    assert sorted((now - r.at).days for r in _samples(db)) == [1, 29]


async def test_the_background_task_samples_every_interval(
    db: Database, directory: RobotDirectory
) -> None:
    live = LiveFleet(offline_after_s=15)
    async with running_telemetry(
        db, live, directory, interval_s=0.05, retention_days=30
    ) as sampler:
        for x in range(1, 6):
            _move(live, REGISTERED, float(x))
            await asyncio.sleep(0.08)
        await asyncio.sleep(0.1)
    assert 3 <= sampler.counters.batches <= 6
    assert [r.x for r in _samples(db)] == sorted({r.x for r in _samples(db)})


def test_history_is_thinned_to_the_first_sample_of_each_bucket(db: Database) -> None:
    start = datetime(2026, 6, 1, tzinfo=UTC)
    with db.session() as session:
        robot_id = session.scalar(select(Robot.id).where(Robot.serial_number == "r1"))
        assert robot_id is not None
        for second in range(0, 600, 10):  # a sample every 10 s for 10 minutes
            session.add(
                TelemetrySample(
                    robot_id=robot_id,
                    at=start + timedelta(seconds=second),
                    x=float(second),
                    y=0,
                    theta=0,
                    map_id="L1",
                    battery=None,
                )
            )
        session.commit()
        assert session.scalar(select(func.count()).select_from(TelemetrySample)) == 60
        whole = telemetry_history(session, robot_id, start, start + timedelta(minutes=10), 100)
        assert (whole.stored, whole.bucket_s, len(whole.points)) == (60, None, 60)
        thin = telemetry_history(session, robot_id, start, start + timedelta(minutes=10), 6)
        assert (thin.stored, thin.bucket_s) == (60, 100.0)
        assert [p.x for p in thin.points] == [0.0, 100.0, 200.0, 300.0, 400.0, 500.0]
        part = telemetry_history(
            session, robot_id, start + timedelta(seconds=55), start + timedelta(seconds=95), 10
        )
        assert [p.x for p in part.points] == [60.0, 70.0, 80.0, 90.0]

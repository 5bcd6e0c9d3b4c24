"""Materialising schedules: one mission per occurrence a horizon ahead, missed ones reported.

A real database (SQLite and PostgreSQL) and the clinic map; the clock is injected, so each
test walks through days of schedule time in a few ticks.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, func, select

from fleet_server.auth.audit import SYSTEM
from fleet_server.db import Database, upgrade_to_head
from fleet_server.db.models import Alarm, Mission, MissionEvent, Schedule, ScheduleOccurrence, Site
from fleet_server.missions.states import MissionState
from fleet_server.schedules.materialise import (
    OCCURRENCE_MISSED,
    OCCURRENCE_REFUSED,
    ScheduleMaterialiser,
    ScheduleTiming,
)
from fleet_server.schedules.service import ScheduleFields, create_schedule, update_schedule
from fleet_server.sites.store import SiteStore
from missions.sites import import_site
from tests.unit.fleet_server.db.databases import BACKENDS, temporary_database

RMF = Path(__file__).resolve().parents[3] / "fixtures" / "maps" / "rmf"
PATROL = {"kind": "patrol", "checkpoints": ["L1_left_nurse_center", "L2_north_counter"]}
SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
HOUR = timedelta(hours=1)
TIMING = ScheduleTiming(horizon=HOUR, lateness=timedelta(minutes=10), tick_s=30.0)


class Clock:
    """A settable wall clock."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture(scope="module", params=BACKENDS)
def db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    folder = tmp_path_factory.mktemp("materialise")
    with temporary_database(request.param, folder) as url:
        upgrade_to_head(url)
        database = Database.open(url)
        yield database
        database.close()


@pytest.fixture(scope="module")
def sites(db: Database, tmp_path_factory: pytest.TempPathFactory) -> SiteStore:
    return SiteStore(tmp_path_factory.mktemp("sites"))


@pytest.fixture
def site_id(db: Database) -> Iterator[str]:
    """A fresh site with the clinic map; its schedules go after the test, so the next
    test's ticks see only their own."""
    clinic = _clinic_map()
    site = f"s-{uuid.uuid4().hex[:8]}"
    with db.session() as session:
        session.add(Site(id=site, name=site, kind="hospital", site_map=clinic))
        session.commit()
    yield site
    with db.session() as session:
        session.execute(delete(Schedule).where(Schedule.site_id == site))
        session.commit()


_CLINIC: dict[str, object] = {}


def _clinic_map() -> dict[str, object]:
    if not _CLINIC:
        _CLINIC.update(
            import_site(RMF / "clinic.building.yaml", kind="hospital").model_dump(mode="json")
        )
    return _CLINIC


def _schedule(
    db: Database,
    sites: SiteStore,
    site_id: str,
    rrule: str,
    *,
    tz: ZoneInfo = SHANGHAI,
    created: datetime,
    **fields: object,
) -> int:
    values: dict[str, object] = {
        "name": f"round {uuid.uuid4().hex[:6]}",
        "site_id": site_id,
        "rrule": rrule,
        "timezone": tz.key,
        "dtstart": created.astimezone(tz).replace(tzinfo=None, hour=0, minute=0, second=0),
        "mission_template": PATROL,
        "exdates": [],
        "until": None,
        "enabled": True,
    }
    values.update(fields)
    with db.session() as session:
        schedule = create_schedule(session, sites, ScheduleFields(**values), SYSTEM)  # type: ignore[arg-type]
        schedule.created_at = created
        session.commit()
        return schedule.id


def _starts(db: Database, schedule_id: int) -> list[datetime]:
    """earliest_start of the schedule's missions, oldest first."""
    with db.session() as session:
        specs = session.scalars(select(Mission.spec).where(Mission.schedule_id == schedule_id))
        return sorted(datetime.fromisoformat(s["earliest_start"]) for s in specs)


def _occurrences(db: Database, schedule_id: int) -> list[tuple[datetime, str]]:
    with db.session() as session:
        rows = session.execute(
            select(ScheduleOccurrence.occurs_at, ScheduleOccurrence.status)
            .where(ScheduleOccurrence.schedule_id == schedule_id)
            .order_by(ScheduleOccurrence.occurs_at)
        )
        return [(at, status) for at, status in rows]


def _alarms(db: Database, site_id: str, code: str) -> list[Alarm]:
    with db.session() as session:
        return list(
            session.scalars(select(Alarm).where(Alarm.site_id == site_id, Alarm.code == code))
        )


def _local(tz: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=tz)  # type: ignore[misc, arg-type]


def test_missions_appear_a_horizon_ahead_and_only_once(
    db: Database, sites: SiteStore, site_id: str
) -> None:
    clock = Clock(_local(SHANGHAI, 2027, 1, 10, 12, 0))
    schedule_id = _schedule(db, sites, site_id, "FREQ=DAILY;BYHOUR=22", created=clock.at)
    materialiser = ScheduleMaterialiser(db, sites, TIMING, now=clock)
    clock.at = _local(SHANGHAI, 2027, 1, 10, 20, 30)
    assert materialiser.tick().materialised == 0  # 22:00 is 90 minutes away
    clock.at = _local(SHANGHAI, 2027, 1, 10, 21, 5)
    assert materialiser.tick().materialised == 1
    assert materialiser.tick().materialised == 0
    assert _starts(db, schedule_id) == [_local(SHANGHAI, 2027, 1, 10, 22, 0)]
    with db.session() as session:
        mission = session.scalars(select(Mission).where(Mission.schedule_id == schedule_id)).one()
        assert mission.state == MissionState.PENDING and mission.created_by == "scheduler"
        assert mission.spec["site"] == site_id
        events = session.scalars(select(MissionEvent).where(MissionEvent.mission_id == mission.id))
        assert [e.to_state for e in events] == [MissionState.PENDING]
    clock.at = _local(SHANGHAI, 2027, 1, 11, 21, 30)
    materialiser.tick()
    assert _starts(db, schedule_id)[-1] == _local(SHANGHAI, 2027, 1, 11, 22, 0)
    assert [status for _at, status in _occurrences(db, schedule_id)] == ["materialised"] * 2


def test_exdates_and_until_are_honoured(db: Database, sites: SiteStore, site_id: str) -> None:
    clock = Clock(_local(SHANGHAI, 2027, 1, 10, 0, 0))
    schedule_id = _schedule(
        db,
        sites,
        site_id,
        "FREQ=HOURLY;BYHOUR=22,23,0,1,2",
        created=clock.at,
        exdates=[datetime(2027, 1, 10, 23, 0)],
        until=_local(SHANGHAI, 2027, 1, 11, 1, 30),
    )
    materialiser = ScheduleMaterialiser(db, sites, TIMING, now=clock)
    for hour in range(21, 21 + 8):  # 21:30 on the 10th to 04:30 on the 11th
        clock.at = _local(SHANGHAI, 2027, 1, 10, 21, 30) + (hour - 21) * HOUR
        materialiser.tick()
    assert _starts(db, schedule_id) == [
        _local(SHANGHAI, 2027, 1, 10, 22, 0),
        _local(SHANGHAI, 2027, 1, 11, 0, 0),
        _local(SHANGHAI, 2027, 1, 11, 1, 0),
    ]


def test_berlin_local_times_hold_across_the_dst_change(
    db: Database, sites: SiteStore, site_id: str
) -> None:
    clock = Clock(_local(BERLIN, 2027, 3, 26, 12, 0))
    evening = _schedule(db, sites, site_id, "FREQ=DAILY;BYHOUR=22", tz=BERLIN, created=clock.at)
    night = _schedule(
        db, sites, site_id, "FREQ=DAILY;BYHOUR=2;BYMINUTE=30", tz=BERLIN, created=clock.at
    )
    timing = ScheduleTiming(horizon=3 * HOUR, lateness=timedelta(minutes=10), tick_s=30.0)
    materialiser = ScheduleMaterialiser(db, sites, timing, now=clock)
    while clock.at < _local(BERLIN, 2027, 3, 29, 21, 0):
        clock.at = clock.at.astimezone(UTC) + 2 * HOUR  # ticks 2 h apart, each 3 h ahead
        materialiser.tick()
    utc = [s.astimezone(UTC).strftime("%d %H:%M") for s in _starts(db, evening)]
    assert utc == ["26 21:00", "27 21:00", "28 20:00", "29 20:00"]  # CET, then CEST
    # 02:30 does not exist on the 28th: RFC 5545 §3.3.5 reads it as 03:30 CEST.
    utc = [s.astimezone(UTC).strftime("%d %H:%M") for s in _starts(db, night)]
    assert utc == ["27 01:30", "28 01:30", "29 00:30"]


def test_a_restarted_or_concurrent_materialiser_makes_no_second_mission(
    db: Database, sites: SiteStore, site_id: str
) -> None:
    clock = Clock(_local(SHANGHAI, 2027, 2, 1, 0, 0))
    schedule_id = _schedule(db, sites, site_id, "FREQ=HOURLY", created=clock.at)
    timing = ScheduleTiming(horizon=6 * HOUR, lateness=timedelta(minutes=10), tick_s=30.0)
    clock.at += timedelta(minutes=5)
    first = ScheduleMaterialiser(db, sites, timing, now=clock)
    assert first.tick().materialised == 6
    restarted = ScheduleMaterialiser(db, sites, timing, now=clock)
    restarted.settle_missed()  # (the database is shared: other tests' missions are older)
    assert restarted.tick().materialised == 0
    assert {status for _at, status in _occurrences(db, schedule_id)} == {"materialised"}
    # The watermark put back (as a schedule change does): the occurrence rows still hold.
    with db.session() as session:
        row = session.get(Schedule, schedule_id)
        assert row is not None
        row.materialised_until = None
        session.commit()
    clock.at += 2 * HOUR
    racing = [ScheduleMaterialiser(db, sites, timing, now=clock) for _ in range(2)]
    barrier = threading.Barrier(len(racing))

    def tick(materialiser: ScheduleMaterialiser) -> None:
        barrier.wait()
        materialiser.tick()

    threads = [threading.Thread(target=tick, args=(m,)) for m in racing]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    starts = _starts(db, schedule_id)
    assert len(starts) == len(set(starts)) == 8  # 01:00 … 08:00, each once
    assert starts[-1] == _local(SHANGHAI, 2027, 2, 1, 8, 0)


def test_missed_occurrences_are_reported_once_and_never_run_late(
    db: Database, sites: SiteStore, site_id: str
) -> None:
    clock = Clock(_local(SHANGHAI, 2027, 4, 1, 8, 0))
    schedule_id = _schedule(db, sites, site_id, "FREQ=HOURLY", created=clock.at)
    clock.at = _local(SHANGHAI, 2027, 4, 1, 8, 30)
    ScheduleMaterialiser(db, sites, TIMING, now=clock).tick()  # makes 09:00 ahead
    assert _starts(db, schedule_id) == [_local(SHANGHAI, 2027, 4, 1, 9, 0)]

    # The server is down from 08:30 until 13:05.
    clock.at = _local(SHANGHAI, 2027, 4, 1, 13, 5)
    restarted = ScheduleMaterialiser(db, sites, TIMING, now=clock)
    restarted.settle_missed()  # 09:00 was made but never started
    assert _occurrences(db, schedule_id)[0] == (_local(SHANGHAI, 2027, 4, 1, 9, 0), "missed")
    report = restarted.tick()
    assert (report.missed, report.materialised) == (3, 2)  # 10, 11, 12 missed; 13, 14 made
    with db.session() as session:
        states = dict(
            session.execute(
                select(ScheduleOccurrence.occurs_at, Mission.state)
                .join(Mission, Mission.id == ScheduleOccurrence.mission_id)
                .where(ScheduleOccurrence.schedule_id == schedule_id)
            ).all()
        )
    assert states[_local(SHANGHAI, 2027, 4, 1, 9, 0)] == MissionState.CANCELLED
    assert states[_local(SHANGHAI, 2027, 4, 1, 13, 0)] == MissionState.PENDING  # 5 min late
    statuses = {
        at.astimezone(SHANGHAI).hour: status for at, status in _occurrences(db, schedule_id)
    }
    assert statuses == {
        9: "missed",
        10: "missed",
        11: "missed",
        12: "missed",
        13: "materialised",
        14: "materialised",
    }
    alarms = _alarms(db, site_id, OCCURRENCE_MISSED)
    assert len(alarms) == 2 and all(a.severity == "warning" for a in alarms)
    assert any("3 occurrences" in a.message for a in alarms)

    # Another restart later the same minute finds nothing new to report.
    again = ScheduleMaterialiser(db, sites, TIMING, now=clock)
    again.settle_missed()
    assert again.tick().missed == 0
    assert len(_alarms(db, site_id, OCCURRENCE_MISSED)) == 2
    assert [s for _at, s in _occurrences(db, schedule_id)].count("missed") == 4


def test_a_disabled_schedule_makes_nothing_and_misses_nothing(
    db: Database, sites: SiteStore, site_id: str
) -> None:
    # Enabling it marks the real moment of the change: this clock starts at the real time.
    clock = Clock(datetime.now(UTC).replace(minute=30, second=0, microsecond=0) - 6 * HOUR)
    schedule_id = _schedule(db, sites, site_id, "FREQ=HOURLY", created=clock.at, enabled=False)
    materialiser = ScheduleMaterialiser(db, sites, TIMING, now=clock)
    for _ in range(5):
        clock.at += HOUR
        materialiser.tick()
    assert _starts(db, schedule_id) == []
    with db.session() as session:
        schedule = session.get(Schedule, schedule_id)
        assert schedule is not None
        update_schedule(session, sites, schedule, {"enabled": True}, SYSTEM)
    clock.at = datetime.now(UTC)
    report = materialiser.tick()
    assert (report.missed, report.materialised) == (0, 1)  # the next full hour
    assert _alarms(db, site_id, OCCURRENCE_MISSED) == []


def test_an_occurrence_whose_template_no_longer_fits_is_refused_with_an_alarm(
    db: Database, sites: SiteStore, site_id: str
) -> None:
    clock = Clock(_local(SHANGHAI, 2027, 6, 1, 8, 0))
    schedule_id = _schedule(db, sites, site_id, "FREQ=DAILY;BYHOUR=9", created=clock.at)
    with db.session() as session:  # a new map renames one of the template's checkpoints
        site = session.get(Site, site_id)
        assert site is not None
        text = json.dumps(_clinic_map()).replace('"L2_north_counter"', '"L2_north_desk"')
        site.site_map = json.loads(text)
        session.commit()
    clock.at = _local(SHANGHAI, 2027, 6, 1, 8, 30)
    report = ScheduleMaterialiser(db, sites, TIMING, now=clock).tick()
    assert (report.refused, report.materialised) == (1, 0)
    assert _occurrences(db, schedule_id) == [(_local(SHANGHAI, 2027, 6, 1, 9, 0), "refused")]
    (alarm,) = _alarms(db, site_id, OCCURRENCE_REFUSED)
    assert "L2_north_counter" in alarm.message
    with db.session() as session:
        count = session.scalar(select(func.count()).where(Mission.schedule_id == schedule_id))
    assert count == 0

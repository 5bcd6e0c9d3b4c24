"""The alarm service: which live events raise and clear which alarms, batched into the database."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from fleet_server.alarms.model import AlarmEvent, RaiseAlarm
from fleet_server.alarms.service import UNREGISTERED_PER_MINUTE, AlarmService
from fleet_server.db import Database, upgrade_to_head
from fleet_server.db.models import Alarm, Mission, Robot, Site
from fleet_server.fleet.live_state import LiveFleet
from fleet_server.missions.states import MissionState
from fleet_server.robots.directory import RobotDirectory, load_directory
from missions.vda5050 import (
    ConnectionState,
    Error,
    ErrorLevel,
    ErrorReference,
    InstantActions,
    Order,
    State,
    decode_state,
)
from tests.support import vda_messages as vda

R1 = ("acme", "r1")
R2 = ("acme", "r2")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'alarms.db'}"
    upgrade_to_head(url)
    database = Database.open(url)
    with database.session() as session:
        session.add(Site(id="north", name="North", kind="hospital"))
        session.commit()
        for serial in ("r1", "r2"):
            session.add(
                Robot(manufacturer="acme", serial_number=serial, kind="patrol", site_id="north")
            )
        session.commit()
    yield database
    database.close()


@pytest.fixture
def live() -> LiveFleet:
    return LiveFleet(offline_after_s=15)


@pytest.fixture
def directory(db: Database) -> RobotDirectory:
    return load_directory(db)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def alarms(db: Database, live: LiveFleet, directory: RobotDirectory, clock: Clock) -> Any:
    service = AlarmService(db, live, directory, monotonic=clock)
    with db.session() as session:
        service.load_known_errors(session)
    service.start()
    yield service
    service.stop()


def _state(robot: tuple[str, str], errors: list[dict[str, Any]]) -> State:
    return decode_state(vda.payload(vda.state(*robot, errors=errors)))


def _alarms(db: Database) -> list[Alarm]:
    with db.session() as session:
        return list(session.scalars(select(Alarm).order_by(Alarm.id)))


def _robot_id(db: Database, serial: str) -> int:
    with db.session() as session:
        robot = session.scalar(select(Robot).where(Robot.serial_number == serial))
        assert robot is not None
        return robot.id


async def test_robot_errors_raise_one_alarm_each_while_present_and_clear_when_gone(
    alarms: AlarmService, live: LiveFleet, db: Database
) -> None:
    heard: list[AlarmEvent] = []
    alarms.add_listener(heard.append)
    battery, stuck = vda.error("batteryLow"), vda.error("robotStuck", "FATAL")
    for _ in range(5):  # a standing error at the state rate is one alarm
        live.apply_state(R1, _state(R1, [battery, stuck]), 1.0)
    await alarms.flush()
    rows = _alarms(db)
    assert [(a.code, a.severity, a.source) for a in rows] == [
        ("robot.batteryLow", "warning", "robot"),
        ("robot.robotStuck", "critical", "robot"),
    ]
    assert rows[0].site_id == "north" and rows[0].robot_id == _robot_id(db, "r1")
    assert battery["errorDescription"] in rows[0].message
    live.apply_state(R1, _state(R1, [stuck]), 2.0)
    await alarms.flush()
    rows = _alarms(db)
    assert rows[0].cleared_at is not None and rows[1].cleared_at is None
    assert [e.kind for e in heard] == ["alarm.raised", "alarm.raised", "alarm.cleared"]
    assert heard[2].alarm.id == rows[0].id


async def test_each_patrol_finding_is_its_own_alarm_naming_the_check(
    alarms: AlarmService, live: LiveFleet, db: Database
) -> None:
    smoke = vda.error("patrolAnomaly", actionId="a1", check="smoke_absent", value="1.0")
    door = vda.error("patrolAnomaly", actionId="a2", check="door_closed", value="1.0")
    live.apply_state(R1, _state(R1, [smoke, door]), 1.0)
    await alarms.flush()
    rows = _alarms(db)
    assert [a.code for a in rows] == ["patrol.anomaly", "patrol.anomaly"]
    assert "patrol check smoke_absent failed (value 1.0, action a1)" in rows[0].message
    assert "door_closed" in rows[1].message


async def test_a_restarted_service_neither_repeats_nor_forgets_an_alarm(
    alarms: AlarmService, live: LiveFleet, db: Database, directory: RobotDirectory
) -> None:
    live.apply_state(R1, _state(R1, [vda.error("batteryLow")]), 1.0)
    await alarms.flush()
    alarms.stop()
    again = AlarmService(db, LiveFleet(offline_after_s=15), directory)
    with db.session() as session:
        again.load_known_errors(session)
    again.start()
    again.live.apply_state(R1, _state(R1, [vda.error("batteryLow")]), 1.0)
    await again.flush()
    assert len(_alarms(db)) == 1
    # The first state after the restart has no errors: no ERRORS_CHANGED, still cleared.
    fresh = AlarmService(db, LiveFleet(offline_after_s=15), directory)
    with db.session() as session:
        fresh.load_known_errors(session)
    fresh.start()
    fresh.live.apply_state(R1, _state(R1, []), 1.0)
    await fresh.flush()
    assert _alarms(db)[0].cleared_at is not None
    again.stop()
    fresh.stop()


def _live_mission(db: Database, serial: str) -> uuid.UUID:
    with db.session() as session:
        mission = Mission(
            site_id="north",
            kind="patrol",
            state=MissionState.ACTIVE,
            robot_id=_robot_id(db, serial),
            assigned_at=datetime.now(UTC),
        )
        session.add(mission)
        session.commit()
        return mission.id


async def test_offline_during_a_mission_is_an_alarm_that_clears_when_back(
    alarms: AlarmService, live: LiveFleet, db: Database
) -> None:
    mission_id = _live_mission(db, "r1")
    for robot in (R1, R2):  # r2 has no mission: going offline is no alarm
        live.apply_connection(robot, ConnectionState.ONLINE, 1.0)
        live.apply_connection(robot, ConnectionState.CONNECTIONBROKEN, 2.0)
    await alarms.flush()
    (alarm,) = _alarms(db)
    assert (alarm.code, alarm.mission_id, alarm.serial_number) == (
        "robot.offline",
        mission_id,
        "r1",
    )
    assert str(mission_id) in alarm.message
    live.apply_connection(R1, ConnectionState.ONLINE, 3.0)
    await alarms.flush()
    assert _alarms(db)[0].cleared_at is not None


async def test_order_outcomes_name_the_mission_from_the_order_id(
    alarms: AlarmService, db: Database
) -> None:
    mission_id = _live_mission(db, "r1")
    order = Order(
        header_id=0,
        timestamp=datetime.now(UTC),
        version="2.1.0",
        manufacturer="acme",
        serial_number="r1",
        order_id=f"{mission_id}-r2",
        order_update_id=0,
        nodes=[],
        edges=[],
    )
    alarms.on_order_gave_up(R1, order, "no echo after 3 tries")
    refused = Error(
        error_type="orderError",
        error_level=ErrorLevel.WARNING,
        error_description="unknown node",
        error_references=[ErrorReference(reference_key="orderId", reference_value="x")],
    )
    pause = InstantActions(
        header_id=0,
        timestamp=datetime.now(UTC),
        version="2.1.0",
        manufacturer="acme",
        serial_number="r1",
        actions=[],
    )
    alarms.on_order_rejected(R1, pause, refused)
    await alarms.flush()
    gave_up, rejected = _alarms(db)
    assert (gave_up.code, gave_up.source, gave_up.mission_id) == (
        "order.gave_up",
        "mission",
        mission_id,
    )
    assert "no echo after 3 tries" in gave_up.message
    assert (rejected.code, rejected.source, rejected.mission_id) == (
        "order.rejected",
        "robot",
        None,
    )
    assert "orderError: unknown node" in rejected.message


async def test_unregistered_robots_are_reported_once_each_and_rate_limited(
    alarms: AlarmService, live: LiveFleet, db: Database, clock: Clock, directory: RobotDirectory
) -> None:
    stranger = ("evil", "x1")
    for _ in range(3):
        live.apply_connection(stranger, ConnectionState.ONLINE, 1.0)
        live.apply_connection(stranger, ConnectionState.OFFLINE, 1.0)
    live.apply_state(stranger, _state(stranger, [vda.error("batteryLow")]), 1.0)
    await alarms.flush()
    (alarm,) = _alarms(db)
    assert (alarm.code, alarm.source, alarm.site_id) == ("robot.unregistered", "system", None)
    assert "unregistered robot evil/x1" in alarm.message
    # A flood of invented identities gets a bounded number of alarms per minute.
    for i in range(3 * UNREGISTERED_PER_MINUTE):
        live.apply_connection(("evil", f"flood{i}"), ConnectionState.ONLINE, 1.0)
    await alarms.flush()
    assert len(_alarms(db)) == UNREGISTERED_PER_MINUTE  # the first one used a token too
    assert alarms.counters.unregistered_suppressed == 2 * UNREGISTERED_PER_MINUTE + 1
    clock.now += 60.0
    live.apply_connection(("evil", "later"), ConnectionState.ONLINE, 1.0)
    await alarms.flush()
    assert len(_alarms(db)) == UNREGISTERED_PER_MINUTE + 1
    # Registering the robot clears its alarm.
    with db.session() as session:
        robot = Robot(manufacturer="evil", serial_number="x1", kind="patrol", site_id="north")
        session.add(robot)
        session.commit()
        directory.put(robot)
    await _settle(alarms)
    assert _alarms(db)[0].cleared_at is not None


async def _settle(alarms: AlarmService) -> None:
    await asyncio.sleep(0)  # let call_soon_threadsafe callbacks run
    await alarms.flush()


async def test_a_robot_registered_meanwhile_is_not_reported(
    alarms: AlarmService, live: LiveFleet, db: Database
) -> None:
    # Registered in the database but not (yet) in the directory's copy: the registry wins.
    with db.session() as session:
        session.add(Robot(manufacturer="acme", serial_number="r9", kind="patrol", site_id="north"))
        session.commit()
    live.apply_connection(("acme", "r9"), ConnectionState.ONLINE, 1.0)
    await alarms.flush()
    assert _alarms(db) == []


@pytest.mark.allow_logged_exceptions
async def test_one_change_that_cannot_be_stored_does_not_block_the_others(
    alarms: AlarmService, live: LiveFleet, db: Database
) -> None:
    now = datetime.now(UTC)
    # A change naming a site that does not exist, queued as the listeners queue theirs.
    alarms._enqueue(
        RaiseAlarm(source="system", severity="info", code="x", message="x", at=now, site_id="gone")
    )
    live.apply_state(R1, _state(R1, [vda.error("batteryLow")]), 1.0)
    await alarms.flush()
    assert [a.code for a in _alarms(db)] == ["robot.batteryLow"]
    assert alarms.counters.failed == 1

"""Ingest: valid messages update the live state; everything else is counted and dropped."""

from __future__ import annotations

from typing import Any

import pytest

from fleet_server.fleet.ingest import Ingest, RejectReason
from fleet_server.fleet.live_state import LiveFleet, RobotEvent, RobotLive
from tests.support import vda_messages as vda

TOPIC = "uagv/v2/acme/r1/{kind}"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _state(**overrides: Any) -> bytes:
    """The state of acme/r1 at (1.5, 2) on L1; `overrides` set top-level fields as given."""
    position = vda.agv_position(1.5, 2.0, theta=0.1)
    body = vda.state("acme", "r1", position=position, battery_charge=77.0, overrides=overrides)
    return vda.payload(body)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def ingest(clock: FakeClock) -> Ingest:
    return Ingest(LiveFleet(offline_after_s=15), "uagv", monotonic=clock)


def test_state_updates_live_record(ingest: Ingest) -> None:
    ingest.on_state(TOPIC.format(kind="state"), _state())
    robot = ingest.live.get("acme", "r1")
    assert robot is not None and robot.online
    assert robot.pose is not None and (robot.pose.x, robot.pose.map_id) == (1.5, "L1")
    assert robot.battery_charge == 77.0
    assert ingest.rejected_total == 0


def test_connection_lifecycle_emits_events(ingest: Ingest) -> None:
    events: list[str] = []
    ingest.live.add_listener(lambda event, _robot: events.append(event))
    topic = TOPIC.format(kind="connection")
    for state in ("ONLINE", "CONNECTIONBROKEN"):
        ingest.on_connection(topic, vda.payload(vda.connection("acme", "r1", state)))
    assert events == [RobotEvent.ONLINE, RobotEvent.OFFLINE]
    robot = ingest.live.get("acme", "r1")
    assert robot is not None and not robot.online


def test_visualization_without_header_is_accepted(ingest: Ingest) -> None:
    body = {"agvPosition": vda.agv_position(3.0, 4.0, map_id="L2")}
    ingest.on_visualization(TOPIC.format(kind="visualization"), vda.payload(body))
    robot = ingest.live.get("acme", "r1")
    assert robot is not None and robot.pose is not None and robot.pose.map_id == "L2"


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        ("uagv/v2/acme/r1/state", b"{not json", RejectReason.INVALID),
        (
            "uagv/v2/acme/r1/state",
            _state(batteryState={"batteryCharge": "full"}),
            RejectReason.INVALID,
        ),
        ("uagv/v2/acme/r1/state", _state(operatingMode="AUTO"), RejectReason.INVALID),
        ("uagv/v2/acme/r1/state", _state(serialNumber="r2"), RejectReason.IDENTITY_MISMATCH),
        ("uagv/v2/acme/r1/state", _state(version="1.1.0"), RejectReason.VERSION),
        ("uagv/v2/acme/r1/state", b" " * 300_000, RejectReason.OVERSIZED),
        ("uagv/v2/acme/state", _state(), RejectReason.BAD_TOPIC),
    ],
)
def test_bad_messages_are_counted_and_dropped(
    ingest: Ingest, topic: str, payload: bytes, reason: str
) -> None:
    ingest.on_state(topic, payload)
    assert ingest.rejected_total == 1
    assert [r for (_robot, r) in ingest.rejected] == [reason]
    robot = ingest.live.get("acme", "r1")
    assert robot is None or robot.state is None
    # and the next valid message still goes through
    ingest.on_state("uagv/v2/acme/r1/state", _state())
    assert ingest.accepted["state"] == 1


def test_rejects_are_logged_once_per_robot_per_minute(
    ingest: Ingest, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    for _ in range(5):
        ingest.on_state(TOPIC.format(kind="state"), b"garbage")
    clock.now += 61
    ingest.on_state(TOPIC.format(kind="state"), b"garbage")
    warnings = [r for r in caplog.records if "dropped message" in r.getMessage()]
    assert len(warnings) == 2
    assert ingest.rejected_total == 6


def test_silent_robot_goes_offline(ingest: Ingest, clock: FakeClock) -> None:
    gone: list[RobotLive] = []
    ingest.live.add_listener(lambda e, r: gone.append(r) if e == RobotEvent.OFFLINE else None)
    ingest.on_state(TOPIC.format(kind="state"), _state())
    clock.now += 14
    assert ingest.live.mark_silent_offline(clock.now) == []
    clock.now += 2
    assert [r.serial_number for r in ingest.live.mark_silent_offline(clock.now)] == ["r1"]
    assert [r.serial_number for r in gone] == ["r1"]

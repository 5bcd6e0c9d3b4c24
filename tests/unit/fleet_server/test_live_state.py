"""LiveFleet: what each state, visualization and factsheet announces to listeners."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fleet_server.fleet.ingest import Ingest
from fleet_server.fleet.live_state import LiveFleet, RobotEvent, RobotLive
from missions.vda5050 import encode
from tests.support import vda_messages as vda
from tests.unit.missions.vda5050.vda5050_samples import full_factsheet


def _state(**fields: Any) -> bytes:
    """A state of acme/r1 running order o1; `fields` are keyword arguments of `vda.state`."""
    return vda.payload(vda.state("acme", "r1", order_id="o1", battery_charge=77.0, **fields))


@pytest.fixture
def ingest() -> Ingest:
    return Ingest(LiveFleet(offline_after_s=15), "uagv")


@pytest.fixture
def events(ingest: Ingest) -> list[str]:
    seen: list[str] = []
    ingest.live.add_listener(lambda event, _robot: seen.append(event))
    return seen


STATE_TOPIC = "uagv/v2/acme/r1/state"
ERROR = vda.error("laserBlocked")


def test_progress_events_only_on_change(ingest: Ingest, events: list[str]) -> None:
    ingest.on_state(STATE_TOPIC, _state())
    assert events == [RobotEvent.ONLINE, RobotEvent.STATE]
    events.clear()
    ingest.on_state(STATE_TOPIC, _state())
    assert events == [RobotEvent.STATE]
    events.clear()
    ingest.on_state(STATE_TOPIC, _state(last_node_id="n2", last_node_sequence_id=2, errors=[ERROR]))
    assert events == [RobotEvent.STATE, RobotEvent.ERRORS_CHANGED, RobotEvent.NODE_REACHED]
    events.clear()
    running = [{"actionId": "a1", "actionStatus": "RUNNING"}]
    ingest.on_state(
        STATE_TOPIC,
        _state(last_node_id="n2", last_node_sequence_id=2, errors=[ERROR], action_states=running),
    )
    assert events == [RobotEvent.STATE, RobotEvent.ACTIONS_CHANGED]
    events.clear()
    finished = [{"actionId": "a1", "actionStatus": "FINISHED"}]
    ingest.on_state(
        STATE_TOPIC, _state(last_node_id="n2", last_node_sequence_id=2, action_states=finished)
    )
    assert events == [RobotEvent.STATE, RobotEvent.ERRORS_CHANGED, RobotEvent.ACTIONS_CHANGED]
    robot = ingest.live.get("acme", "r1")
    assert robot is not None and robot.state is not None and robot.state.errors == []


def test_visualization_announces_pose_with_its_timestamp(ingest: Ingest, events: list[str]) -> None:
    body = {
        "timestamp": "2026-11-28T10:00:01.250Z",
        "agvPosition": vda.agv_position(3.0, 4.0, map_id="L2"),
    }
    ingest.on_visualization("uagv/v2/acme/r1/visualization", json.dumps(body).encode())
    assert events == [RobotEvent.ONLINE, RobotEvent.POSE]
    robot = ingest.live.get("acme", "r1")
    assert robot is not None and robot.pose_timestamp is not None
    assert robot.pose_timestamp.microsecond == 250_000
    ingest.on_visualization("uagv/v2/acme/r1/visualization", b"{}")
    assert events == [RobotEvent.ONLINE, RobotEvent.POSE]  # no pose, nothing moved


def test_factsheet_is_kept_on_the_record(ingest: Ingest, events: list[str]) -> None:
    sheet = full_factsheet()
    topic = f"uagv/v2/{sheet.manufacturer}/{sheet.serial_number}/factsheet"
    ingest.on_factsheet(topic, encode(sheet))
    robot = ingest.live.get(sheet.manufacturer, sheet.serial_number)
    assert robot is not None and robot.factsheet == sheet
    assert events == [RobotEvent.ONLINE, RobotEvent.FACTSHEET]
    assert ingest.accepted["factsheet"] == 1
    ingest.on_factsheet(topic.replace(sheet.serial_number, "other"), encode(sheet))
    assert ingest.rejected_total == 1


@pytest.mark.allow_logged_exceptions
def test_a_failing_listener_does_not_stop_ingest_or_the_others(ingest: Ingest) -> None:
    def broken(_event: str, _robot: RobotLive) -> None:
        raise RuntimeError("consumer bug")

    heard: list[str] = []
    ingest.live.add_listener(broken)
    ingest.live.add_listener(lambda event, _robot: heard.append(event))
    ingest.on_state(STATE_TOPIC, _state())
    assert heard == [RobotEvent.ONLINE, RobotEvent.STATE]
    assert ingest.accepted["state"] == 1
    assert ingest.live.listener_errors == 2


def test_removed_listener_hears_nothing(ingest: Ingest) -> None:
    heard: list[str] = []
    remove = ingest.live.add_listener(lambda event, _robot: heard.append(event))
    remove()
    ingest.on_state(STATE_TOPIC, _state())
    assert heard == []

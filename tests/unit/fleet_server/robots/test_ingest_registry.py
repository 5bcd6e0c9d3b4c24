"""Ingest admits only registered, active robots; the others are counted and reported."""

from __future__ import annotations

import json

from fleet_server.db.models import Robot
from fleet_server.fleet.ingest import Ingest
from fleet_server.fleet.live_state import LiveFleet, RobotKey
from fleet_server.robots.directory import RobotDirectory
from tests.integration.security.accounts import state_payload


def _robot(serial: str, *, decommissioned: bool = False) -> Robot:
    return Robot(
        id=hash(serial) % 1000,
        manufacturer="acme",
        serial_number=serial,
        kind="patrol_robot",
        capabilities=["patrol"],
        site_id=None,
        decommissioned=decommissioned,
    )


def _connection(serial: str, state: str) -> bytes:
    body = {
        "headerId": 1,
        "timestamp": "2026-11-29T00:00:00.000Z",
        "version": "2.1.0",
        "manufacturer": "acme",
        "serialNumber": serial,
        "connectionState": state,
    }
    return json.dumps(body).encode()


def test_only_registered_active_robots_enter_the_live_state() -> None:
    directory = RobotDirectory()
    directory.put(_robot("known"))
    directory.put(_robot("retired", decommissioned=True))
    live = LiveFleet(offline_after_s=15)
    ingest = Ingest(live, "uagv", directory=directory)
    reported: list[RobotKey] = []
    ingest.on_unregistered = reported.append

    ingest.on_state("uagv/v2/acme/known/state", state_payload("acme", "known"))
    ingest.on_state("uagv/v2/acme/stranger/state", state_payload("acme", "stranger"))
    ingest.on_state("uagv/v2/acme/retired/state", state_payload("acme", "retired"))
    # Retained messages of a robot long gone say nothing about one connected now.
    ingest.on_connection("uagv/v2/acme/gone/connection", _connection("gone", "OFFLINE"))
    ingest.on_connection("uagv/v2/acme/new/connection", _connection("new", "ONLINE"))

    assert [r.key for r in live] == [("acme", "known")]
    assert ingest.accepted["state"] == 1
    assert reported == [("acme", "stranger"), ("acme", "retired"), ("acme", "new")]
    assert ingest.rejected_by_reason["unregistered"] == 4
    assert ingest.handled_total == 5

"""Ingest admits only registered, active robots; the others are counted and reported."""

from __future__ import annotations

from fleet_server.db.models import Robot
from fleet_server.fleet.ingest import Ingest
from fleet_server.fleet.live_state import LiveFleet, RobotKey
from fleet_server.robots.directory import RobotDirectory
from tests.support import vda_messages as vda


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


def _state(serial: str) -> bytes:
    return vda.payload(vda.state("acme", serial, position=vda.agv_position(1.0, 2.0)))


def _connection(serial: str, state: str) -> bytes:
    return vda.payload(vda.connection("acme", serial, state))


def test_only_registered_active_robots_enter_the_live_state() -> None:
    directory = RobotDirectory()
    directory.put(_robot("known"))
    directory.put(_robot("retired", decommissioned=True))
    live = LiveFleet(offline_after_s=15)
    ingest = Ingest(live, "uagv", directory=directory)
    reported: list[RobotKey] = []
    ingest.on_unregistered = reported.append

    ingest.on_state("uagv/v2/acme/known/state", _state("known"))
    ingest.on_state("uagv/v2/acme/stranger/state", _state("stranger"))
    ingest.on_state("uagv/v2/acme/retired/state", _state("retired"))
    # Retained messages of a robot long gone say nothing about one connected now.
    ingest.on_connection("uagv/v2/acme/gone/connection", _connection("gone", "OFFLINE"))
    ingest.on_connection("uagv/v2/acme/new/connection", _connection("new", "ONLINE"))

    assert [r.key for r in live] == [("acme", "known")]
    assert ingest.accepted["state"] == 1
    assert reported == [("acme", "stranger"), ("acme", "retired"), ("acme", "new")]
    assert ingest.rejected_by_reason["unregistered"] == 4
    assert ingest.handled_total == 5

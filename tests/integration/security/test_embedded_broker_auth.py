"""The embedded broker enforces the robots' accounts, and ingest ignores unregistered robots.

Embedded Mosquitto: anonymous clients are refused; a robot registered through the API can
connect at once with the password it was given (the broker re-reads its files), not with an
old one after its credentials were rotated, and not at all once it is decommissioned.
Over an open Mosquitto (auth is the broker's job), a robot nobody registered raises one
"unregistered robot" alarm however much it sends and never enters the live state.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from fleet_server.app import create_app
from fleet_server.broker import BrokerStartError, MosquittoBroker, find_free_port
from fleet_server.db.models import Alarm, Site
from fleet_server.robots.broker_sync import AMQTT_CANNOT_ENFORCE, plan_embedded_broker
from fleet_server.robots.directory import RobotDirectory
from fleet_server.robots.registry import register_robot
from fleet_server.services import FleetServices
from fleet_server.settings import Settings
from missions.types import Capability
from tests.integration.security.accounts import AccountClient, state_payload
from tests.support.mqtt import wait_until

ADMIN_PASSWORD = "embedded-auth-admin-pw"


def _services(client: TestClient) -> FleetServices:
    services: FleetServices = client.app.state.services  # type: ignore[attr-defined]
    return services


def _settings(tmp_path: Path, **values: Any) -> Settings:
    return Settings(
        environment="test",
        data_dir=tmp_path,
        admin_password=ADMIN_PASSWORD,  # type: ignore[arg-type]
        argon2_profile="fast-insecure",
        **values,
    )


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[TestClient]:
    settings = _settings(
        tmp_path,
        mqtt_url="embedded",
        embedded_mqtt_port=find_free_port(),
        embedded_mqtt_broker="mosquitto",
    )
    with TestClient(create_app(settings)) as client:
        with _services(client).db.session() as session:
            session.add(Site(id="north", name="North", kind="hospital"))
            session.commit()
        login = {"username": "admin", "password": ADMIN_PASSWORD}
        token = client.post("/api/v1/auth/token", data=login).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


def _connects(port: int, username: str | None, password: str | None, name: str) -> bool:
    client = AccountClient(port, username, password, client_id=name)
    try:
        return client.connect()
    finally:
        client.close()


def test_embedded_mosquitto_enforces_registration_rotation_and_retirement(
    embedded: TestClient,
) -> None:
    services = _services(embedded)
    assert services.broker is not None and services.broker_accounts is not None
    port = services.broker.port
    assert services.link.connected  # the server's own account works
    assert not _connects(port, None, None, "anonymous")
    assert not _connects(port, "fleet-server", "guessed", "guess")

    body = {
        "manufacturer": "acme",
        "serial_number": "e1",
        "kind": "patrol_robot",
        "capabilities": ["patrol"],
        "site_id": "north",
    }
    registered = embedded.post("/api/v1/robots", json=body)
    assert registered.status_code == 201, registered.text
    username, first = registered.json()["mqtt_username"], registered.json()["mqtt_password"]
    assert username == "acme/e1"
    assert wait_until(lambda: _connects(port, username, first, "e1"), 10)

    robot = AccountClient(port, username, first, client_id="e1-state")
    assert robot.connect()
    try:
        robot.publish("uagv/v2/acme/e1/state", state_payload("acme", "e1", x=4.0))
        assert wait_until(lambda: (r := services.live.get("acme", "e1")) and r.online, 10)
    finally:
        robot.close()

    rotated = embedded.post("/api/v1/robots/acme/e1/credentials")
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()["mqtt_password"]
    assert wait_until(lambda: _connects(port, username, second, "e1"), 10)
    assert not _connects(port, username, first, "e1")

    retired = embedded.post("/api/v1/robots/acme/e1/decommission")
    assert retired.status_code == 200, retired.text
    assert wait_until(lambda: not _connects(port, username, second, "e1"), 10)
    passwd = services.broker_accounts.password_file.read_text()
    assert "acme/e1:" not in passwd and passwd.startswith("fleet-server:$7$")


def test_amqtt_cannot_be_asked_to_enforce_accounts(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path, mqtt_url="embedded", embedded_mqtt_broker="amqtt", embedded_mqtt_auth="on"
    )
    with pytest.raises(BrokerStartError, match="FLEET_EMBEDDED_MQTT_AUTH"):
        plan_embedded_broker(settings, RobotDirectory(), tmp_path)
    assert "FLEET_EMBEDDED_MQTT_AUTH=off" in AMQTT_CANNOT_ENFORCE


@pytest.fixture
def open_broker() -> Iterator[MosquittoBroker]:
    broker = MosquittoBroker(find_free_port())
    broker.start()
    yield broker
    broker.stop()


def _unregistered_alarms(services: FleetServices) -> list[Alarm]:
    with services.db.session() as session:
        return list(session.scalars(select(Alarm).where(Alarm.code == "robot.unregistered")))


def test_an_unregistered_robot_raises_one_alarm_and_stays_out_of_the_live_state(
    open_broker: MosquittoBroker, tmp_path: Path
) -> None:
    settings = _settings(tmp_path, mqtt_url=f"mqtt://127.0.0.1:{open_broker.port}")
    ghost = AccountClient(open_broker.port, None, None, client_id="ghost")
    late = AccountClient(open_broker.port, None, None, client_id="late")
    with TestClient(create_app(settings)) as client:
        services = _services(client)
        assert wait_until(lambda: services.link.connected, 10)
        assert ghost.connect() and late.connect()
        try:
            # A retained OFFLINE of a robot long gone is no sign of a connected robot.
            ghost.publish("uagv/v2/gone/g0/connection", b'{"connectionState": "OFFLINE"}')
            for n in range(1, 6):
                ghost.publish("uagv/v2/ghost/u9/state", state_payload("ghost", "u9", header_id=n))
            assert wait_until(
                lambda: services.ingest.rejected[("ghost/u9", "unregistered")] == 5, 10
            )
            assert wait_until(lambda: len(_unregistered_alarms(services)) == 1, 10)
            (alarm,) = _unregistered_alarms(services)
            assert (alarm.manufacturer, alarm.serial_number) == ("ghost", "u9")
            assert "unregistered robot ghost/u9" in alarm.message
            assert services.live.get("ghost", "u9") is None and len(services.live) == 0

            # Registered behind the server's back (as `fleet robot register` does): the next
            # message from it makes the directory re-read the database within a second or so.
            late.publish("uagv/v2/late/r1/state", state_payload("late", "r1", header_id=1))
            assert wait_until(
                lambda: services.ingest.rejected[("late/r1", "unregistered")] == 1, 10
            )
            with services.db.session() as session:
                register_robot(
                    session,
                    services.auth.hasher,
                    manufacturer="late",
                    serial_number="r1",
                    kind="patrol_robot",
                    capabilities=[Capability.PATROL],
                    site_id=None,
                )
                session.commit()

            def admitted() -> bool:
                late.publish("uagv/v2/late/r1/state", state_payload("late", "r1", header_id=2))
                return services.live.get("late", "r1") is not None

            assert wait_until(admitted, 5, interval_s=0.3)
        finally:
            ghost.close()
            late.close()
    assert len(_unregistered_alarms(services)) <= 2  # ghost, and at most late before it was known
    assert all(a.serial_number != "g0" for a in _unregistered_alarms(services))

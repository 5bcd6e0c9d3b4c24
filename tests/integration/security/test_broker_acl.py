"""Issue 11, first "done when": with real Mosquitto and the files `fleet broker config`
writes, robot B can neither publish on A's topics nor receive A's orders, and the server
ignores a state on B's own topic whose header names A.

The server here is the real app on SQLite, connected with its own account; the robots are
plain paho clients logged in with the credentials their registration returned.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from fleet_cli.main import app as fleet_cli
from fleet_server.app import create_app
from fleet_server.auth.passwords import PasswordHasher
from fleet_server.broker import MosquittoBroker, find_free_port
from fleet_server.db import Database, upgrade_to_head
from fleet_server.fleet.live_state import RobotLive
from fleet_server.robots.registry import register_robot
from fleet_server.services import FleetServices
from fleet_server.settings import Settings
from missions.types import Capability
from tests.integration.security.accounts import AccountClient, state_payload
from tests.support.mqtt import wait_until

SERVER_PASSWORD = "server-mqtt-password-for-tests"
A, B = ("acme", "a-001"), ("acme", "b-002")


def _topic(robot: tuple[str, str], kind: str) -> str:
    return f"uagv/v2/{robot[0]}/{robot[1]}/{kind}"


@dataclass
class Fleet:
    broker: MosquittoBroker
    server: TestClient
    passwords: dict[tuple[str, str], str]
    files: Path

    @property
    def services(self) -> FleetServices:
        services: FleetServices = self.server.app.state.services  # type: ignore[attr-defined]
        return services

    def robot(self, key: tuple[str, str], password: str | None = None) -> AccountClient:
        client = AccountClient(
            self.broker.port,
            f"{key[0]}/{key[1]}",
            password if password is not None else self.passwords[key],
            client_id=f"{key[0]}-{key[1]}",
        )
        return client


def _x(record: RobotLive | None) -> float | None:
    return record.pose.x if record is not None and record.pose is not None else None


def _register(database_url: str, robots: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    upgrade_to_head(database_url)
    db = Database.open(database_url)
    try:
        with db.session() as session:
            passwords = {
                key: register_robot(
                    session,
                    PasswordHasher("fast-insecure"),
                    manufacturer=key[0],
                    serial_number=key[1],
                    kind="patrol_robot",
                    capabilities=[Capability.PATROL],
                    site_id=None,
                ).mqtt_password
                for key in robots
            }
            session.commit()
    finally:
        db.close()
    return passwords


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    tmp = tmp_path_factory.mktemp("acl")
    port = find_free_port()
    env = {
        "FLEET_DATA_DIR": str(tmp),
        "FLEET_MQTT_URL": f"mqtt://127.0.0.1:{port}",
        "FLEET_MQTT_PASSWORD": SERVER_PASSWORD,
    }
    settings = Settings(
        environment="test",
        data_dir=tmp,
        mqtt_url=env["FLEET_MQTT_URL"],
        mqtt_password=SERVER_PASSWORD,  # type: ignore[arg-type]
        argon2_profile="fast-insecure",
    )
    passwords = _register(settings.database_url, [A, B])
    files = tmp / "broker"
    result = CliRunner().invoke(fleet_cli, ["broker", "config", "--out", str(files)], env=env)
    assert result.exit_code == 0, result.output
    broker = MosquittoBroker(
        port, password_file=files / "passwd", acl_file=files / "acl", max_payload_bytes=65536
    )
    broker.start()
    try:
        with TestClient(create_app(settings)) as server:
            services: FleetServices = server.app.state.services  # type: ignore[attr-defined]
            assert wait_until(lambda: services.link.connected, 10), "server account refused"
            yield Fleet(broker, server, passwords, files)
    finally:
        broker.stop()


def test_the_generated_files_are_what_a_stock_mosquitto_reads(fleet: Fleet) -> None:
    passwd = (fleet.files / "passwd").read_text().splitlines()
    names = [line.split(":", 1)[0] for line in passwd]
    assert names == ["fleet-server", "acme/a-001", "acme/b-002"]
    assert all(line.split(":", 1)[1].startswith("$7$") for line in passwd)
    assert all(password not in "".join(passwd) for password in fleet.passwords.values())
    acl = (fleet.files / "acl").read_text()
    assert "user acme/a-001\ntopic write uagv/v2/acme/a-001/state\n" in acl
    assert "topic read uagv/v2/acme/a-001/order\n" in acl
    conf = (fleet.files / "mosquitto.conf").read_text()
    assert "allow_anonymous false" in conf
    assert f"password_file {(fleet.files / 'passwd').resolve()}" in conf
    assert f"acl_file {(fleet.files / 'acl').resolve()}" in conf
    assert oct((fleet.files / "passwd").stat().st_mode & 0o777) == "0o600"


def test_robot_b_cannot_publish_on_a_topics_nor_receive_a_orders(fleet: Fleet) -> None:
    a, b = fleet.robot(A), fleet.robot(B)
    assert a.connect() and b.connect()
    ingest, live = fleet.services.ingest, fleet.services.live
    try:
        a.subscribe(_topic(A, "order"))
        a.publish(_topic(A, "state"), state_payload(*A, x=1.0, header_id=1))
        assert wait_until(lambda: (r := live.get(*A)) is not None and r.pose is not None, 10)
        # B, logged in as itself, writes A's state with A's header: Mosquitto drops it.
        b.publish(_topic(A, "state"), state_payload(*A, x=99.0, header_id=2))
        b.publish(_topic(A, "connection"), b'{"connectionState": "OFFLINE"}')
        # B's own state after it: once the server has this one, it would have had the forgery.
        b.publish(_topic(B, "state"), state_payload(*B, x=5.0, header_id=1))
        assert wait_until(lambda: (r := live.get(*B)) is not None and r.pose is not None, 10)
        record = live.get(*A)
        assert record is not None and record.pose is not None and record.pose.x == 1.0
        assert record.online and record.state is not None and record.state.header_id == 1
        assert ingest.accepted["state"] == 2 and ingest.rejected_total == 0

        # B subscribes to A's order topic, and to every robot's: it receives none of A's.
        b.subscribe(_topic(A, "order"))
        b.subscribe("uagv/v2/+/+/order")
        b.subscribe("#")
        order = json.dumps({"orderId": "for-a-only"}).encode()
        fleet.services.link.publish(_topic(A, "order"), order, qos=1)
        assert wait_until(lambda: any(m.topic == _topic(A, "order") for m in a.messages()), 10)
        # B's own order after A's: when B has it, A's would have arrived before it.
        fleet.services.link.publish(_topic(B, "order"), b'{"orderId": "for-b"}', qos=1)
        assert wait_until(lambda: any(m.topic == _topic(B, "order") for m in b.messages()), 10)
        assert [m.topic for m in b.messages()] == [_topic(B, "order")]

        # A robot may not write orders, not even its own (only the server may).
        b.publish(_topic(B, "order"), b'{"orderId": "self-made"}')
        b.publish(_topic(A, "instantActions"), b'{"actions": []}')
        a.publish(_topic(A, "state"), state_payload(*A, x=2.0, header_id=3))
        assert wait_until(lambda: _x(live.get(*A)) == 2.0, 10)
        assert [m.topic for m in b.messages()] == [_topic(B, "order")]
        assert [m.topic for m in a.messages()] == [_topic(A, "order")]
    finally:
        a.close()
        b.close()


def test_the_server_ignores_a_forged_header_on_b_own_topic(fleet: Fleet) -> None:
    b = fleet.robot(B)
    assert b.connect()
    ingest, live = fleet.services.ingest, fleet.services.live
    before = live.get(*A)
    pose_before = before.pose.x if before is not None and before.pose is not None else None
    mismatches = ingest.rejected[("acme/b-002", "identity_mismatch")]
    try:
        # The broker lets B write its own topic; the header inside claims to be A.
        b.publish(_topic(B, "state"), state_payload(*A, x=77.0, header_id=9))
        assert wait_until(
            lambda: ingest.rejected[("acme/b-002", "identity_mismatch")] == mismatches + 1, 10
        )
    finally:
        b.close()
    after = live.get(*A)
    assert (after.pose.x if after is not None and after.pose is not None else None) == pose_before
    record_b = live.get(*B)
    assert record_b is None or record_b.pose is None or record_b.pose.x != 77.0


def test_wrong_password_and_anonymous_clients_are_refused(fleet: Fleet) -> None:
    wrong = fleet.robot(A, password="not-the-password")
    anonymous = AccountClient(fleet.broker.port, None, None, client_id="anonymous")
    server_as_robot = AccountClient(
        fleet.broker.port, "acme/a-001", SERVER_PASSWORD, client_id="server-as-robot"
    )
    for client in (wrong, anonymous, server_as_robot):
        try:
            assert not client.connect()
            assert client.refused is not None and client.refused.is_failure
        finally:
            client.close()

"""TLS between robots, server and Mosquitto with a self-signed CA made at test time.

The broker has a TLS listener with a certificate for 127.0.0.1 signed by the test CA, and
the per-robot accounts and ACL. The server's MQTT link, configured from its settings
(`FLEET_MQTT_URL=mqtts://…`, `FLEET_MQTT_CA_FILE`), and the robot agent's link (`tls.ca_file`)
trust that CA and connect; the robot's ONLINE message reaches the server's ingest. Clients
that trust only the system's CAs, or another CA, fail the handshake; a plain MQTT client on
the TLS port gets nowhere.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fleet_server.auth.passwords import PasswordHasher
from fleet_server.broker import BrokerTls, MosquittoBroker, find_free_port
from fleet_server.db import Database, upgrade_to_head
from fleet_server.fleet.ingest import Ingest
from fleet_server.fleet.live_state import LiveFleet
from fleet_server.mqtt_client import MqttLink
from fleet_server.robots.broker_accounts import (
    RobotAccount,
    ServerAccount,
    mosquitto_hash,
    render_broker_files,
    write_broker_files,
)
from fleet_server.robots.registry import register_robot
from fleet_server.settings import Settings
from missions.types import Capability
from robot_agent.config import AgentConfig, TlsConfig
from robot_agent.link import VdaLink
from tests.integration.security.accounts import AccountClient
from tests.integration.security.certificates import make_authority, make_server_cert

SERVER_PASSWORD = "tls-server-mqtt-password"
ROBOT = ("acme", "t-001")


@dataclass
class TlsBroker:
    broker: MosquittoBroker
    tls_port: int
    ca_file: Path
    other_ca_file: Path
    settings: Settings
    robot_password: str


def _register_robot(settings: Settings) -> str:
    upgrade_to_head(settings.database_url)
    db = Database.open(settings.database_url)
    try:
        with db.session() as session:
            registration = register_robot(
                session,
                PasswordHasher("fast-insecure"),
                manufacturer=ROBOT[0],
                serial_number=ROBOT[1],
                kind="patrol_robot",
                capabilities=[Capability.PATROL],
                site_id=None,
            )
            session.commit()
            return registration.mqtt_password
    finally:
        db.close()


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[TlsBroker]:
    ca = make_authority(tmp_path, "fleet-test-ca")
    other = make_authority(tmp_path, "other-ca")
    cert_file, key_file = make_server_cert(tmp_path, ca)
    tls_port = find_free_port()
    settings = Settings(
        environment="test",
        data_dir=tmp_path,
        mqtt_url=f"mqtts://127.0.0.1:{tls_port}",
        mqtt_password=SERVER_PASSWORD,  # type: ignore[arg-type]
        mqtt_ca_file=ca.cert_file,
        argon2_profile="fast-insecure",
    )
    password = _register_robot(settings)
    files = render_broker_files(
        "uagv",
        ServerAccount("fleet-server", mosquitto_hash(SERVER_PASSWORD)),
        [RobotAccount(*ROBOT, mosquitto_hash(password))],
    )
    passwd, acl = write_broker_files(tmp_path / "broker", files)
    broker = MosquittoBroker(
        find_free_port(),
        password_file=passwd,
        acl_file=acl,
        tls=BrokerTls(port=tls_port, cert_file=cert_file, key_file=key_file),
    )
    broker.start()
    try:
        yield TlsBroker(broker, tls_port, ca.cert_file, other.cert_file, settings, password)
    finally:
        broker.stop()


async def test_server_and_agent_connect_over_tls_with_the_ca(tls_broker: TlsBroker) -> None:
    # The server's own MQTT link and ingest, configured from its settings (the whole app is
    # covered over plain MQTT elsewhere); the robot's link as the agent runs it.
    endpoint = tls_broker.settings.mqtt_endpoint()
    assert endpoint.tls and endpoint.ca_file == tls_broker.ca_file
    assert endpoint.username == "fleet-server"
    loop = asyncio.get_running_loop()
    live = LiveFleet(offline_after_s=30)
    server = MqttLink(endpoint, client_id="fleet-server-tls", loop=loop)
    Ingest(live, "uagv").subscribe(server)
    config = AgentConfig(
        manufacturer=ROBOT[0],
        serial_number=ROBOT[1],
        broker_url=f"mqtts://127.0.0.1:{tls_broker.tls_port}",
        username=f"{ROBOT[0]}/{ROBOT[1]}",
        password=tls_broker.robot_password,
        tls=TlsConfig(ca_file=tls_broker.ca_file),
    )
    robot = VdaLink(config, loop, on_message=lambda _k, _p: None, on_connected=lambda: None)
    assert await server.start(timeout_s=10), "server did not connect over TLS"
    try:
        robot.start()
        for _ in range(100):
            if (record := live.get(*ROBOT)) is not None and record.online:
                break
            await asyncio.sleep(0.1)
        assert robot.connected, "agent did not connect over TLS"
        record = live.get(*ROBOT)
        assert record is not None and record.online
    finally:
        await asyncio.to_thread(robot.stop)
        await server.stop()


def test_clients_without_the_ca_fail_the_handshake(tls_broker: TlsBroker) -> None:
    username, password = f"{ROBOT[0]}/{ROBOT[1]}", tls_broker.robot_password
    system_only = AccountClient(
        tls_broker.tls_port, username, password, client_id="system-cas", tls=True
    )
    other_ca = AccountClient(
        tls_broker.tls_port,
        username,
        password,
        client_id="other-ca",
        ca_file=tls_broker.other_ca_file,
    )
    for client in (system_only, other_ca):
        try:
            assert not client.connect(timeout_s=5)
            assert client.tls_error is not None and "CERTIFICATE_VERIFY_FAILED" in str(
                client.tls_error
            )
        finally:
            client.close()
    plain = AccountClient(tls_broker.tls_port, username, password, client_id="plain")
    try:
        assert not plain.connect(timeout_s=3)
    finally:
        plain.close()
    trusted = AccountClient(
        tls_broker.tls_port, username, password, client_id="trusted", ca_file=tls_broker.ca_file
    )
    try:
        assert trusted.connect()
    finally:
        trusted.close()

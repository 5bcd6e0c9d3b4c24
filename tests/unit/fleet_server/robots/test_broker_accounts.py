"""Mosquitto password hashes and the password/ACL files rendered from the registry."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from fleet_server.broker import BrokerTls, security_config
from fleet_server.robots.broker_accounts import (
    RobotAccount,
    ServerAccount,
    mosquitto_hash,
    render_broker_files,
    verify_mosquitto_hash,
)
from fleet_server.settings import SettingsError, load_settings

SERVER = ServerAccount("fleet-server", mosquitto_hash("server-pw", iterations=10))


def test_our_hash_has_mosquitto_passwd_format_and_verifies() -> None:
    hashed = mosquitto_hash("s3cret", salt=b"0123456789ab", iterations=101)
    assert hashed.startswith("$7$101$MDEyMzQ1Njc4OWFi$")
    assert verify_mosquitto_hash("s3cret", hashed)
    assert not verify_mosquitto_hash("s3cret!", hashed)
    assert not verify_mosquitto_hash("s3cret", "$6$101$abc$def")
    assert mosquitto_hash("s3cret") != mosquitto_hash("s3cret")  # fresh salt each time


def test_hashes_written_by_mosquitto_passwd_verify(tmp_path: Path) -> None:
    binary = shutil.which("mosquitto_passwd")
    if binary is None:
        pytest.fail("mosquitto_passwd is required (Debian package 'mosquitto')")
    passwd = tmp_path / "passwd"
    subprocess.run([binary, "-c", "-b", str(passwd), "robot", "from-the-tool"], check=True)
    hashed = passwd.read_text().strip().split(":", 1)[1]
    assert verify_mosquitto_hash("from-the-tool", hashed)
    assert not verify_mosquitto_hash("other", hashed)


def test_each_robot_gets_only_its_own_topics() -> None:
    robots = [
        RobotAccount("Acme Robotics", "r-1", mosquitto_hash("a", iterations=10)),
        RobotAccount("acme", "b:2", mosquitto_hash("b", iterations=10)),
    ]
    files = render_broker_files("uagv", SERVER, robots)
    ((skipped, why),) = files.skipped
    assert skipped == "acme/b:2" and "':' separates name and hash" in why
    names = [line.split(":", 1)[0] for line in files.password_file.splitlines()]
    assert names == ["fleet-server", "Acme Robotics/r-1"]
    blocks = files.acl_file.split("\n\n")
    assert blocks[1:] == [
        "user fleet-server\n"
        "topic read uagv/v2/+/+/state\n"
        "topic read uagv/v2/+/+/visualization\n"
        "topic read uagv/v2/+/+/connection\n"
        "topic read uagv/v2/+/+/factsheet\n"
        "topic write uagv/v2/+/+/order\n"
        "topic write uagv/v2/+/+/instantActions",
        "user Acme Robotics/r-1\n"
        "topic write uagv/v2/Acme Robotics/r-1/state\n"
        "topic write uagv/v2/Acme Robotics/r-1/visualization\n"
        "topic write uagv/v2/Acme Robotics/r-1/connection\n"
        "topic write uagv/v2/Acme Robotics/r-1/factsheet\n"
        "topic read uagv/v2/Acme Robotics/r-1/order\n"
        "topic read uagv/v2/Acme Robotics/r-1/instantActions\n",
    ]


@pytest.mark.parametrize("name", ["a/b", "a:b", ""])
def test_a_server_account_name_that_could_clash_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="server MQTT username"):
        render_broker_files("uagv", ServerAccount(name, SERVER.password_hash), [])


def test_security_config_lines() -> None:
    tls = BrokerTls(8883, Path("/c/broker.crt"), Path("/c/broker.key"), Path("/c/ca.crt"), True)
    lines = security_config(
        password_file=Path("/f/passwd"),
        acl_file=Path("/f/acl"),
        max_payload_bytes=1000,
        tls=tls,
        tls_host="127.0.0.1",
    )
    assert lines == [
        "allow_anonymous false",
        "password_file /f/passwd",
        "acl_file /f/acl",
        "max_packet_size 5096",
        "listener 8883 127.0.0.1",
        "certfile /c/broker.crt",
        "keyfile /c/broker.key",
        "cafile /c/ca.crt",
        "require_certificate true",
    ]


def test_broker_tls_settings_must_be_complete() -> None:
    with pytest.raises(SettingsError, match="FLEET_BROKER_TLS_CERT_FILE"):
        load_settings(broker_tls_port=8883)
    with pytest.raises(SettingsError, match="FLEET_BROKER_TLS_CA_FILE"):
        load_settings(
            broker_tls_port=8883,
            broker_tls_cert_file="c.crt",
            broker_tls_key_file="c.key",
            broker_tls_require_client_cert=True,
        )
    with pytest.raises(SettingsError, match="FLEET_MQTT_USERNAME"):
        load_settings(mqtt_username="robots/one")


def test_the_server_password_setting_reaches_the_endpoint() -> None:
    settings = load_settings(mqtt_url="mqtt://broker:1883", mqtt_password="pw-from-settings")
    endpoint = settings.mqtt_endpoint()
    assert (endpoint.username, endpoint.password) == ("fleet-server", "pw-from-settings")
    in_url = load_settings(mqtt_url="mqtts://svc:pw@broker", mqtt_ca_file="ca.crt")
    endpoint = in_url.mqtt_endpoint()
    assert (endpoint.username, endpoint.password, endpoint.port) == ("svc", "pw", 8883)
    assert endpoint.tls and endpoint.ca_file == Path("ca.crt")


def test_broker_config_without_the_server_password_names_the_setting(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from fleet_cli.main import app

    env = {"FLEET_DATA_DIR": str(tmp_path), "FLEET_MQTT_PASSWORD": None, "FLEET_MQTT_URL": None}
    result = CliRunner().invoke(app, ["broker", "config", "--out", str(tmp_path / "b")], env=env)
    assert result.exit_code == 2
    assert "FLEET_MQTT_PASSWORD" in result.output
    assert not (tmp_path / "b").exists()

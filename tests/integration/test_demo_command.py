"""`fleet demo` as a user runs it: robots online within 20 s, moving, clean shutdown."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from fleet_server.broker import find_free_port, port_is_free
from tests.support.mqtt import wait_until

ADMIN_PASSWORD = "demo-test-admin-password"


def _token(port: int) -> str | None:
    form = urllib.parse.urlencode({"username": "admin", "password": ADMIN_PASSWORD}).encode()
    try:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/api/v1/auth/token", data=form, timeout=5
        ) as r:
            return str(json.load(r)["access_token"])
    except OSError:
        return None


def _robots(port: int, token: str | None) -> list[dict[str, Any]]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/robots",
        headers={"Authorization": f"Bearer {token}"} if token else {},
    )
    try:
        with urllib.request.urlopen(request, timeout=2) as r:
            robots: list[dict[str, Any]] = json.load(r)
            return robots
    except OSError:
        return []


@pytest.mark.parametrize("broker", ["mosquitto", "amqtt"])
def test_demo_serves_three_moving_robots(tmp_path: Path, broker: str) -> None:
    http_port, mqtt_port = find_free_port(), find_free_port()
    env = {
        **os.environ,
        "FLEET_HTTP_PORT": str(http_port),
        "FLEET_EMBEDDED_MQTT_PORT": str(mqtt_port),
        "FLEET_EMBEDDED_MQTT_BROKER": broker,
        "FLEET_DATA_DIR": str(tmp_path / "var"),
        "FLEET_ADMIN_PASSWORD": ADMIN_PASSWORD,
    }
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "fleet_cli.main", "demo", "--robots", "3"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        token: list[str | None] = [None]

        def online() -> list[dict[str, Any]]:
            token[0] = token[0] or _token(http_port)
            return [r for r in _robots(http_port, token[0]) if r["online"] and r["pose"]]

        assert wait_until(lambda: len(online()) >= 3, 20), "fewer than 3 robots online in 20 s"
        assert time.monotonic() - started <= 20
        before = {r["serial_number"]: r["pose"] for r in online()}
        time.sleep(1.5)
        after = {r["serial_number"]: r["pose"] for r in online()}
        assert all(after[s] != before[s] for s in before), "robots did not move"
        assert {s.split("-")[0] for s in before} == {"hospital", "bank", "plaza"}
    finally:
        proc.send_signal(signal.SIGINT)
        output = proc.communicate(timeout=20)[0].decode()
    assert proc.returncode == 0, output
    assert f"http://127.0.0.1:{http_port}" in output
    assert port_is_free("127.0.0.1", mqtt_port), "embedded broker left running"


def test_demo_fails_naming_the_setting_when_a_chosen_port_is_taken(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        taken = sock.getsockname()[1]
        env = {**os.environ, "FLEET_HTTP_PORT": str(taken), "FLEET_DATA_DIR": str(tmp_path)}
        result = subprocess.run(
            [sys.executable, "-m", "fleet_cli.main", "demo"],
            env=env,
            capture_output=True,
            timeout=30,
            check=False,
        )
    assert result.returncode == 2
    assert b"FLEET_HTTP_PORT" in result.stderr

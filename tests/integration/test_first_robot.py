"""The first vertical slice: a simulated robot's agent over a real broker, seen by the server.

Runs against a real Mosquitto and against the embedded broker in its amqtt form.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from fleet_server.app import create_app
from fleet_server.broker import EmbeddedBroker
from fleet_server.settings import Settings
from tests.support.mqtt import Recorder, wait_until
from tests.support.registry import admit_robots
from tests.support.vda_schemas import schema_errors

KEEPALIVE_S = 2
SERIAL = "slice-001"
ADMIN_PASSWORD = "first-robot-admin-pw"


def _write_agent_config(tmp_path: Path, port: int) -> Path:
    path = tmp_path / "agent.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "manufacturer": "fleetsim",
                "serial_number": SERIAL,
                "broker_url": f"mqtt://127.0.0.1:{port}",
                "keepalive_s": KEEPALIVE_S,
                "state_interval_s": 1.0,
                "adapter": {
                    "type": "sim",
                    "params": {"route": [[0, 0], [8, 0], [8, 5], [0, 5]], "map_id": "L1"},
                },
            }
        )
    )
    return path


@pytest.fixture
def server(any_broker: EmbeddedBroker, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        mqtt_url=f"mqtt://127.0.0.1:{any_broker.port}",
        data_dir=tmp_path,
        robot_keepalive_s=KEEPALIVE_S,
        admin_password=ADMIN_PASSWORD,
        argon2_profile="fast-insecure",
    )
    with TestClient(create_app(settings)) as client:
        assert wait_until(lambda: client.get("/healthz").status_code == 200, 10)
        login = {"username": "admin", "password": ADMIN_PASSWORD}
        token = client.post("/api/v1/auth/token", data=login).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        # Only registered robots enter the live state (issue 11); the brokers here are open.
        services = client.app.state.services  # type: ignore[attr-defined]
        admit_robots(services, "fleetsim", [SERIAL], kind="service_robot")
        yield client


@pytest.fixture
def recorder(any_broker: EmbeddedBroker) -> Iterator[Recorder]:
    rec = Recorder(any_broker.port, "uagv/#")
    yield rec
    rec.close()


@pytest.fixture
def agent_process(any_broker: EmbeddedBroker, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    config = _write_agent_config(tmp_path, any_broker.port)
    proc = subprocess.Popen(
        [sys.executable, "-m", "fleet_cli.main", "agent", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    yield proc
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGCONT)
        proc.kill()
    proc.wait(10)
    assert proc.stderr is not None
    proc.stderr.close()


def _robot(client: TestClient) -> dict[str, Any] | None:
    robots = client.get("/api/v1/robots").json()
    return next((r for r in robots if r["serial_number"] == SERIAL), None)


def _online_with_pose(client: TestClient) -> bool:
    robot = _robot(client)
    return bool(robot and robot["online"] and robot["pose"] and robot["battery_charge"])


def _offline(client: TestClient) -> bool:
    robot = _robot(client)
    return bool(robot and not robot["online"])


def test_robot_appears_moves_and_goes_offline_when_killed(
    server: TestClient, recorder: Recorder, agent_process: subprocess.Popen[bytes]
) -> None:
    assert wait_until(lambda: _online_with_pose(server), 20), "robot never listed online"
    first = _robot(server)
    assert first is not None
    assert first["manufacturer"] == "fleetsim"
    assert first["pose"]["map_id"] == "L1"
    assert 0 <= first["battery_charge"] <= 100
    assert first["operating_mode"] == "AUTOMATIC"
    assert wait_until(lambda: (_robot(server) or {})["pose"] != first["pose"], 5), "pose frozen"

    agent_process.kill()
    killed_at = time.monotonic()
    assert wait_until(lambda: _offline(server), 1.5 * KEEPALIVE_S + 1.0)
    assert time.monotonic() - killed_at <= 1.5 * KEEPALIVE_S + 1.0

    states = [
        json.loads(m.payload)["connectionState"]
        for m in recorder.snapshot()
        if m.topic.endswith("/connection")
    ]
    assert states[0] == "ONLINE"
    assert states[-1] == "CONNECTIONBROKEN"


def test_silent_robot_goes_offline_within_one_and_a_half_keepalives(
    server: TestClient, agent_process: subprocess.Popen[bytes]
) -> None:
    assert wait_until(lambda: _online_with_pose(server), 20)
    os.kill(agent_process.pid, signal.SIGSTOP)  # socket stays open; only silence tells
    stopped_at = time.monotonic()
    assert wait_until(lambda: _offline(server), 1.5 * KEEPALIVE_S + 1.5)
    assert time.monotonic() - stopped_at <= 1.5 * KEEPALIVE_S + 1.5


def test_clean_stop_says_offline(
    server: TestClient, recorder: Recorder, agent_process: subprocess.Popen[bytes]
) -> None:
    assert wait_until(lambda: _online_with_pose(server), 20)
    agent_process.send_signal(signal.SIGTERM)
    assert agent_process.wait(10) == 0
    assert wait_until(lambda: _offline(server), 2)
    last = [m for m in recorder.snapshot() if m.topic.endswith("/connection")][-1]
    assert json.loads(last.payload)["connectionState"] == "OFFLINE"


def test_every_published_message_matches_the_official_schemas(
    recorder: Recorder, agent_process: subprocess.Popen[bytes]
) -> None:
    def seen_all_kinds() -> bool:
        kinds = {m.topic.rsplit("/", 1)[-1] for m in recorder.snapshot()}
        return {"connection", "state", "visualization"} <= kinds

    assert wait_until(seen_all_kinds, 20)
    time.sleep(2.5)  # a few more state and visualization messages
    agent_process.kill()
    messages = recorder.snapshot()
    assert len(messages) >= 8
    header_ids: dict[str, list[int]] = {}
    for message in messages:
        kind = message.topic.rsplit("/", 1)[-1]
        assert message.topic == f"uagv/v2/fleetsim/{SERIAL}/{kind}"
        body = json.loads(message.payload)
        assert schema_errors(kind, body) == [], f"{kind} breaks its schema: {body}"
        header_ids.setdefault(kind, []).append(body["headerId"])
    for kind in ("state", "visualization"):
        ids = header_ids[kind]
        # VDA 5050 §6.4: headerId increments by one per message on each topic.
        assert ids == list(range(ids[0], ids[0] + len(ids))), f"{kind} headerIds {ids}"

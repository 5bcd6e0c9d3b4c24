"""The onboard agent over a real Mosquitto: order lifecycle, instant actions, broker restart.

A plain MQTT client plays master control: it publishes orders and instant actions and
reads the agent's state messages. Every message on the wire is checked against the
official VDA 5050 2.1.0 schemas.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fleet_server.app import create_app
from fleet_server.broker import MosquittoBroker, find_free_port
from fleet_server.fleet.live_state import LiveFleet
from fleet_server.settings import Settings
from missions.vda5050 import Vda5050Model, encode
from robot_agent.config import AgentConfig
from sim.adapter import SimSurroundings
from sim.fleet import SimFleet, SimFleetThread, SimulatedRobot
from sim.kinematic import KinematicRobot
from tests.support.mqtt import Recorder, wait_until
from tests.support.orders import MANUFACTURER, N, action, instant, order
from tests.support.registry import admit_robots
from tests.support.vda_schemas import schema_errors

SERIAL = "agv-7"
BASE = f"uagv/v2/{MANUFACTURER}/{SERIAL}"


class Robot:
    """One simulated robot with the real agent, and a master-control client."""

    def __init__(self, port: int) -> None:
        self.body = KinematicRobot(max_speed_m_s=2.0, accel_m_s2=4.0)
        config = AgentConfig(
            manufacturer=MANUFACTURER,
            serial_number=SERIAL,
            broker_url=f"mqtt://127.0.0.1:{port}",
            keepalive_s=2,
            state_interval_s=1.0,
            reconnect_min_s=0.2,
            reconnect_max_s=1.0,
        )
        self.master = Recorder(port, "uagv/#")
        # The doors it checks are closed: a check without a reading would be an anomaly.
        world = SimSurroundings(sensors={"door_open": 0.0})
        robot = SimulatedRobot(config=config, body=self.body, surroundings=world)
        self.sim = SimFleetThread(SimFleet([robot])).start()
        self._header = 0

    def send(self, kind: str, message: Vda5050Model) -> None:
        self.master.publish(f"{BASE}/{kind}", encode(message), qos=1)

    def states(self) -> list[dict[str, Any]]:
        return [json.loads(m.payload) for m in self.master.snapshot() if m.topic == f"{BASE}/state"]

    def last_state(self) -> dict[str, Any]:
        states = self.states()
        return states[-1] if states else {}

    def action_status(self, action_id: str) -> str | None:
        for a in self.last_state().get("actionStates", []):
            if a["actionId"] == action_id:
                return str(a["actionStatus"])
        return None

    def error_types(self) -> list[str]:
        return [e["errorType"] for e in self.last_state().get("errors", [])]

    def close(self) -> None:
        self.sim.stop()
        self.master.close()


@pytest.fixture
def broker() -> Iterator[MosquittoBroker]:
    b = MosquittoBroker(find_free_port())
    b.start()
    yield b
    b.stop()


@pytest.fixture
def robot(broker: MosquittoBroker) -> Iterator[Robot]:
    r = Robot(broker.port)
    assert wait_until(lambda: bool(r.states()), 10), "agent never published state"
    yield r
    r.close()
    for message in r.master.snapshot():
        kind = message.topic.rsplit("/", 1)[-1]
        errors = schema_errors(kind, json.loads(message.payload))
        assert errors == [], f"{kind} message breaks the schema: {errors}"


def _at(robot: Robot, node_id: str, timeout: float = 15) -> bool:
    return wait_until(lambda: robot.last_state().get("lastNodeId") == node_id, timeout)


def test_order_lifecycle_accept_update_reject_ignore(robot: Robot) -> None:
    first = order("o1", [N("a", 0, 0), N("b", 2, 0), N("c", 4, 0, released=False)], serial=SERIAL)
    robot.send("order", first)
    assert _at(robot, "b")
    state = robot.last_state()
    assert state["orderId"] == "o1" and state["orderUpdateId"] == 0
    assert [n["nodeId"] for n in state["nodeStates"]] == ["c"]  # waits at the decision point

    check = action("patrolCheck", "chk", dwellS=0.3, checks=["door_closed"])
    update = order(
        "o1",
        [N("b", 2, 0), N("c", 4, 0, actions=[check]), N("d", 4, 2)],
        update_id=1,
        first_sequence_id=2,
        serial=SERIAL,
    )
    robot.send("order", update)
    assert _at(robot, "d")
    assert wait_until(lambda: robot.action_status("chk") == "FINISHED", 5)
    assert robot.last_state()["orderUpdateId"] == 1

    robot.send("order", update)  # identical resend: ignored
    time.sleep(0.5)
    assert robot.error_types() == []

    outdated = order(
        "o1", [N("d", 4, 2), N("e", 6, 2)], update_id=0, first_sequence_id=6, serial=SERIAL
    )
    robot.send("order", outdated)
    assert wait_until(lambda: robot.error_types() == ["orderUpdateError"], 5)
    assert robot.last_state()["lastNodeId"] == "d"

    stitch_done = order(
        "o1", [N("d", 4, 2), N("e", 6, 2)], update_id=2, first_sequence_id=6, serial=SERIAL
    )
    robot.send("order", stitch_done)  # continuation of the completed order (§6.6.2 step 8)
    assert _at(robot, "e")
    assert robot.error_types() == []


def test_pause_resume_and_cancel(robot: Robot) -> None:
    uv = action("uvDisinfect", "uv1", dwellS=60.0, targetDoseMjCm2=100.0, distanceM=1.0)
    robot.send(
        "order",
        order("o2", [N("a", 0, 0), N("b", 2, 0, actions=[uv]), N("c", 6, 0)], serial=SERIAL),
    )
    assert wait_until(lambda: robot.action_status("uv1") == "RUNNING", 10)
    robot.send("instantActions", instant(action("startPause", "p1"), serial=SERIAL))
    assert wait_until(lambda: robot.last_state().get("paused") is True, 5)
    assert robot.action_status("uv1") == "RUNNING"  # PAUSED is not in the 2.1.0 schema
    dose_paused = robot.body.x
    time.sleep(0.5)
    assert robot.body.x == dose_paused
    robot.send("instantActions", instant(action("stopPause", "p2"), serial=SERIAL))
    assert wait_until(lambda: robot.last_state().get("paused") is False, 5)
    robot.send("instantActions", instant(action("cancelOrder", "c1"), serial=SERIAL))
    assert wait_until(lambda: robot.action_status("c1") == "FINISHED", 5)
    state = robot.last_state()
    assert robot.action_status("uv1") == "FAILED"
    assert state["nodeStates"] == [] and state["orderId"] == "o2"
    result = next(a for a in state["actionStates"] if a["actionId"] == "uv1")["resultDescription"]
    assert json.loads(result)["deliveredDoseMjCm2"] > 0
    x = robot.body.x
    time.sleep(1.0)
    assert robot.body.x == x and not robot.last_state()["driving"]


def test_factsheet_on_connect_and_on_request(robot: Robot) -> None:
    def factsheets() -> int:
        return sum(1 for m in robot.master.snapshot() if m.topic == f"{BASE}/factsheet")

    assert wait_until(lambda: factsheets() >= 1, 5)
    robot.send("instantActions", instant(action("factsheetRequest", "f1"), serial=SERIAL))
    assert wait_until(lambda: factsheets() >= 2, 5)
    assert wait_until(lambda: robot.action_status("f1") == "FINISHED", 5)


def test_broker_restart_mid_order_robot_finishes_and_reports(
    robot: Robot, broker: MosquittoBroker, tmp_path: Path
) -> None:
    settings = Settings(
        mqtt_url=f"mqtt://127.0.0.1:{broker.port}", data_dir=tmp_path, robot_keepalive_s=2
    )
    with TestClient(create_app(settings)) as server:
        services = server.app.state.services
        admit_robots(services, MANUFACTURER, [SERIAL])
        _restart_mid_order(robot, broker, services.live)


def _restart_mid_order(robot: Robot, broker: MosquittoBroker, live: LiveFleet) -> None:
    speak = action("speak", "s-end", text="arrived", language="en")
    path = [N("a", 0, 0), N("b", 3, 0), N("c", 6, 0), N("d", 9, 0, actions=[speak])]
    robot.send("order", order("o3", path, serial=SERIAL, max_speed=1.0))
    assert _at(robot, "b", 10)
    broker.stop()
    time.sleep(2.0)  # the robot keeps driving its released base meanwhile
    broker.start()
    assert _at(robot, "d", 20), "robot did not report finishing after the broker came back"
    assert wait_until(lambda: robot.action_status("s-end") == "FINISHED", 5)
    connection = [
        json.loads(m.payload)["connectionState"]
        for m in robot.master.snapshot()
        if m.topic == f"{BASE}/connection"
    ]
    assert connection.count("ONLINE") >= 2  # announced itself again after reconnecting

    def server_sees_the_end() -> bool:
        record = live.get(MANUFACTURER, SERIAL)
        state = record.state if record else None
        return bool(record and record.online and state and state.last_node_id == "d")

    assert wait_until(server_sees_the_end, 10), "server's live state did not catch up"

"""Orders through a real Mosquitto: resent until a robot's state echoes them, never forever.

The robots are plain paho clients subscribed at QoS 0 (as VDA 5050 §6.2 says) that answer
with state messages the way a vehicle would, or stay silent.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion

from fleet_server.app import create_app
from fleet_server.broker import EmbeddedBroker
from fleet_server.fleet.orders import OrderPublisher
from fleet_server.settings import Settings
from missions.vda5050 import Action, BlockingType, InstantActions
from tests.support import vda_messages as vda
from tests.support.mqtt import wait_until
from tests.support.orders import one_node_order
from tests.support.registry import admit_robots
from tests.support.vda_schemas import schema_errors

ECHO_TIMEOUT_S = 0.4
ROBOTS = ("r1", "r2", "r3", "r4")


class FakeRobot:
    """A vehicle that receives orders at QoS 0 and decides per message whether to answer."""

    def __init__(
        self,
        port: int,
        serial: str,
        answer: Callable[[FakeRobot, str, dict[str, Any]], dict[str, Any] | None],
    ) -> None:
        self.serial = serial
        self.received: list[tuple[str, dict[str, Any]]] = []
        self._answer = answer
        self._header_id = 0
        self._lock = threading.Lock()
        ready = threading.Event()
        self._client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)
        self._client.on_connect = lambda c, *_: c.subscribe(
            [(f"uagv/v2/acme/{serial}/order", 0), (f"uagv/v2/acme/{serial}/instantActions", 0)]
        )
        self._client.on_subscribe = lambda *_: ready.set()
        self._client.on_message = self._on_message
        self._client.connect("127.0.0.1", port)
        self._client.loop_start()
        assert ready.wait(10)

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        kind = msg.topic.rsplit("/", 1)[-1]
        body = json.loads(msg.payload)
        with self._lock:
            self.received.append((kind, body))
        changes = self._answer(self, kind, body)
        if changes is not None:
            self.publish_state(**changes)

    def messages(self, kind: str) -> list[dict[str, Any]]:
        with self._lock:
            return [body for k, body in self.received if k == kind]

    def publish_state(self, **fields: Any) -> None:
        """A state message; `fields` are keyword arguments of `vda_messages.state`."""
        self._header_id += 1
        body = vda.state("acme", self.serial, header_id=self._header_id, **fields)
        topic = f"uagv/v2/acme/{self.serial}/state"
        self._client.publish(topic, vda.payload(body), qos=0)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


@pytest.fixture
def server(mosquitto_broker: EmbeddedBroker, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        mqtt_url=f"mqtt://127.0.0.1:{mosquitto_broker.port}",
        data_dir=tmp_path,
        argon2_profile="fast-insecure",
    )
    with TestClient(create_app(settings)) as client:
        admit_robots(client.app.state.services, "acme", ROBOTS)  # type: ignore[attr-defined]
        orders = _orders(client)
        assert wait_until(lambda: client.app.state.services.link.connected, 10)  # type: ignore[attr-defined]
        # Short timeouts keep the test quick; the timer task reads them on every tick.
        _on_loop(client, setattr, orders, "echo_timeout_s", ECHO_TIMEOUT_S)
        yield client


@pytest.fixture
def robots(mosquitto_broker: EmbeddedBroker) -> Iterator[list[FakeRobot]]:
    made: list[FakeRobot] = []
    yield made
    for robot in made:
        robot.close()


def _orders(client: TestClient) -> OrderPublisher:
    orders: OrderPublisher = client.app.state.services.orders  # type: ignore[attr-defined]
    return orders


def _on_loop(client: TestClient, fn: Callable[..., Any], *args: Any) -> Any:
    # The publisher lives on the app's event loop; call it there, not from this thread.
    assert client.portal is not None
    return client.portal.call(fn, *args)


def test_lost_order_is_resent_until_echoed(
    server: TestClient, mosquitto_broker: EmbeddedBroker, robots: list[FakeRobot]
) -> None:
    def drop_first(robot: FakeRobot, kind: str, body: dict[str, Any]) -> dict[str, Any] | None:
        if len(robot.messages("order")) < 2:
            return None  # as if QoS 0 lost it
        return {"order_id": body["orderId"], "order_update_id": body["orderUpdateId"]}

    robot = FakeRobot(mosquitto_broker.port, "r1", drop_first)
    robots.append(robot)
    orders = _orders(server)
    _on_loop(server, orders.send_order, "acme", "r1", one_node_order("patrol-7", 2))
    assert wait_until(lambda: len(robot.messages("order")) >= 2, 5)
    assert wait_until(lambda: _on_loop(server, orders.pending_order, "acme", "r1") is None, 5)
    time.sleep(ECHO_TIMEOUT_S * 4)
    received = robot.messages("order")
    assert len(received) == 2, "an echoed order was sent again"
    assert [(b["orderId"], b["orderUpdateId"]) for b in received] == [("patrol-7", 2)] * 2
    assert received[1]["headerId"] == received[0]["headerId"] + 1
    assert received[0]["nodes"] == received[1]["nodes"]
    for body in received:
        assert schema_errors("order", body) == []


def test_silent_robot_gets_a_bounded_number_of_tries(
    server: TestClient, mosquitto_broker: EmbeddedBroker, robots: list[FakeRobot]
) -> None:
    robot = FakeRobot(mosquitto_broker.port, "r2", lambda *_: None)
    robots.append(robot)
    orders = _orders(server)
    _on_loop(server, orders.send_order, "acme", "r2", one_node_order("guide-1"))
    tries = orders.max_tries
    assert wait_until(lambda: orders.counters.gave_up == 1, ECHO_TIMEOUT_S * (tries + 3))
    time.sleep(ECHO_TIMEOUT_S * 4)
    assert len(robot.messages("order")) == tries


def test_rejected_order_is_not_resent(
    server: TestClient, mosquitto_broker: EmbeddedBroker, robots: list[FakeRobot]
) -> None:
    def reject(_robot: FakeRobot, _kind: str, body: dict[str, Any]) -> dict[str, Any]:
        refs = {"orderId": body["orderId"], "orderUpdateId": str(body["orderUpdateId"])}
        return {"errors": [vda.error("noRouteError", **refs)]}

    robot = FakeRobot(mosquitto_broker.port, "r3", reject)
    robots.append(robot)
    orders = _orders(server)
    _on_loop(server, orders.send_order, "acme", "r3", one_node_order("uv-3"))
    assert wait_until(lambda: orders.counters.rejected == 1, 5)
    time.sleep(ECHO_TIMEOUT_S * 4)
    assert len(robot.messages("order")) == 1
    assert orders.counters.gave_up == 0


def test_instant_actions_are_tracked_by_action_id(
    server: TestClient, mosquitto_broker: EmbeddedBroker, robots: list[FakeRobot]
) -> None:
    def echo_actions(robot: FakeRobot, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        states = [
            {"actionId": a["actionId"], "actionType": a["actionType"], "actionStatus": "FINISHED"}
            for a in body["actions"]
        ]
        return {"action_states": states}

    robot = FakeRobot(mosquitto_broker.port, "r4", echo_actions)
    robots.append(robot)
    orders = _orders(server)
    pause = InstantActions(
        header_id=0,
        timestamp=datetime.now(UTC),
        version="2.1.0",
        manufacturer="acme",
        serial_number="r4",
        actions=[
            Action(action_type="startPause", action_id="p-1", blocking_type=BlockingType.HARD)
        ],
    )
    _on_loop(server, orders.send_instant_actions, "acme", "r4", pause)
    assert wait_until(lambda: not _on_loop(server, orders.pending_instant_actions, "acme", "r4"), 5)
    time.sleep(ECHO_TIMEOUT_S * 3)
    [received] = robot.messages("instantActions")
    assert schema_errors("instantActions", received) == []
    assert received["actions"][0]["actionId"] == "p-1"

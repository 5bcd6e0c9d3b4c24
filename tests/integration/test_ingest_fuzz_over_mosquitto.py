"""Hostile payloads through a real Mosquitto into a running server: all counted, ingest lives.

Also the payload limit (`FLEET_MQTT_MAX_PAYLOAD_BYTES`): a larger payload is counted as
oversized and never parsed, however valid it is.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion

from fleet_server.app import create_app
from fleet_server.broker import EmbeddedBroker
from fleet_server.fleet.ingest import Ingest, RejectReason
from fleet_server.robots.registry import register_robot
from fleet_server.services import FleetServices
from fleet_server.settings import Settings
from missions.vda5050 import TopicKind, encode
from tests.support.mqtt import wait_until
from tests.unit.fleet_server.test_ingest_fuzz import PayloadFuzzer
from tests.unit.missions.vda5050.vda5050_samples import MANUFACTURER, SERIAL, full_state

CASES = 3000
SEED = 11


@contextlib.contextmanager
def _running(
    broker: EmbeddedBroker, data_dir: Path, **overrides: object
) -> Iterator[FleetServices]:
    """The server on `broker`, with the sample robot registered (others are dropped)."""
    settings = Settings(
        mqtt_url=f"mqtt://127.0.0.1:{broker.port}",
        data_dir=data_dir,
        argon2_profile="fast-insecure",
        **overrides,  # type: ignore[arg-type]
    )
    with TestClient(create_app(settings)) as client:
        services: FleetServices = client.app.state.services  # type: ignore[attr-defined]
        with services.db.session() as session:
            register_robot(
                session,
                services.auth.hasher,
                manufacturer=MANUFACTURER,
                serial_number=SERIAL,
                kind="uv_robot",
                capabilities=[],
                site_id=None,
            )
            session.commit()
        assert client.portal is not None
        client.portal.call(services.robots.reload_soon)
        assert wait_until(lambda: services.robots.admits((MANUFACTURER, SERIAL)), 10)
        assert wait_until(lambda: services.link.connected, 10)
        yield services


@pytest.fixture
def services(mosquitto_broker: EmbeddedBroker, tmp_path: Path) -> Iterator[FleetServices]:
    with _running(mosquitto_broker, tmp_path) as services:
        yield services


def _subscribed(topic: str) -> bool:
    return any(
        mqtt.topic_matches_sub(f"uagv/v2/+/+/{kind}", topic)
        for kind in (TopicKind.STATE, TopicKind.VISUALIZATION, TopicKind.CONNECTION, "factsheet")
    )


def test_fuzzed_payloads_over_mosquitto_are_counted_and_the_server_still_ingests(
    services: FleetServices, mosquitto_broker: EmbeddedBroker
) -> None:
    ingest: Ingest = services.ingest
    robot = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)
    robot.max_inflight_messages_set(100)
    robot.connect("127.0.0.1", mosquitto_broker.port)
    robot.loop_start()
    try:
        sent = 0
        last: mqtt.MQTTMessageInfo | None = None
        for case in PayloadFuzzer(SEED).cases(CASES):
            if not _subscribed(case.topic):
                continue  # the broker would not deliver it to the server at all
            # QoS 1 to the broker so nothing is lost before the server's QoS 0 hop.
            last = robot.publish(case.topic, case.payload, qos=1)
            sent += 1
        assert last is not None and sent > CASES * 0.9
        last.wait_for_publish(30)
        counted = wait_until(lambda: ingest.handled_total >= sent, 30)
        assert counted, f"server counted {ingest.handled_total} of {sent}"
        time.sleep(0.3)  # nothing extra trickles in
        assert ingest.handled_total == sent
        assert services.link.counters.handler_errors == {}
        assert ingest.rejected_total > sent // 2

        state = full_state()
        charge = {"battery_state": state.battery_state.model_copy(update={"battery_charge": 12.5})}
        topic = f"uagv/v2/{MANUFACTURER}/{SERIAL}/state"
        robot.publish(topic, encode(state.model_copy(update=charge)), qos=1).wait_for_publish(5)

        def fresh_state_seen() -> bool:
            record = services.live.get(MANUFACTURER, SERIAL)
            return record is not None and record.battery_charge == 12.5

        assert wait_until(fresh_state_seen, 5), "server stopped ingesting valid messages"
    finally:
        robot.disconnect()
        robot.loop_stop()


LIMIT = 4096


def test_payloads_over_the_configured_limit_are_counted_and_never_parsed(
    mosquitto_broker: EmbeddedBroker, tmp_path: Path
) -> None:
    with _running(mosquitto_broker, tmp_path, mqtt_max_payload_bytes=LIMIT) as services:
        ingest: Ingest = services.ingest
        state = encode(full_state())
        assert len(state) < LIMIT
        at_limit = state + b" " * (LIMIT - len(state))  # valid JSON, exactly at the limit
        over = state + b" " * (LIMIT + 1 - len(state))  # valid JSON, one byte over
        huge = state + b" " * (200 * 1024)  # under the broker's default packet limit
        topic = f"uagv/v2/{MANUFACTURER}/{SERIAL}/state"
        robot = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)
        robot.connect("127.0.0.1", mosquitto_broker.port)
        robot.loop_start()
        try:
            for payload in (over, huge, at_limit, over):
                robot.publish(topic, payload, qos=1).wait_for_publish(5)
            assert wait_until(lambda: ingest.handled_total >= 4, 10)
        finally:
            robot.disconnect()
            robot.loop_stop()
        time.sleep(0.2)
        assert ingest.handled_total == 4
        assert ingest.rejected_by_reason[RejectReason.OVERSIZED] == 3
        assert ingest.rejected[(f"{MANUFACTURER}/{SERIAL}", RejectReason.OVERSIZED)] == 3
        assert ingest.accepted[TopicKind.STATE] == 1
        assert ingest.rejected_by_reason[RejectReason.INVALID] == 0

"""Hostile payloads through a real Mosquitto into a running server: all counted, ingest lives."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion

from fleet_server.app import create_app
from fleet_server.broker import EmbeddedBroker
from fleet_server.fleet.ingest import Ingest
from fleet_server.services import FleetServices
from fleet_server.settings import Settings
from missions.vda5050 import TopicKind, encode
from tests.support.mqtt import wait_until
from tests.unit.fleet_server.test_ingest_fuzz import PayloadFuzzer
from tests.unit.missions.vda5050.vda5050_samples import MANUFACTURER, SERIAL, full_state

CASES = 3000
SEED = 11


@pytest.fixture
def services(mosquitto_broker: EmbeddedBroker, tmp_path: Path) -> Iterator[FleetServices]:
    settings = Settings(
        mqtt_url=f"mqtt://127.0.0.1:{mosquitto_broker.port}",
        data_dir=tmp_path,
        argon2_profile="fast-insecure",
    )
    with TestClient(create_app(settings)) as client:
        services: FleetServices = client.app.state.services  # type: ignore[attr-defined]
        assert wait_until(lambda: services.link.connected, 10)
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

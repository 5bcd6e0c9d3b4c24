"""MqttLink's own topic routing agrees with MQTT's filter rules (and with paho's matcher)."""

from __future__ import annotations

import asyncio
import gc

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.client import topic_matches_sub

from fleet_server.mqtt_client import MqttLink, _Route
from fleet_server.settings import MqttEndpoint

FILTERS = ["uagv/v2/+/+/state", "uagv/#", "#", "+", "uagv/v2/acme/r1/order", "a/+/#", "+/b"]
TOPICS = [
    "uagv/v2/acme/r1/state",
    "uagv/v2//r1/state",
    "uagv/v2/acme/r1/state/extra",
    "uagv/v2/acme/state",
    "uagv",
    "uagv/",
    "a/x",
    "a/x/y/z",
    "a",
    "/b",
    "x/b",
    "$SYS/broker/uptime",
    "$SYS",
    "uagv/v2/acme/r1/order",
]


@pytest.mark.parametrize("topic_filter", FILTERS)
@pytest.mark.parametrize("topic", TOPICS)
def test_route_matches_like_mqtt(topic_filter: str, topic: str) -> None:
    route = _Route(tuple(topic_filter.split("/")), lambda _t, _p: None)
    assert route.matches(topic.split("/")) == topic_matches_sub(topic_filter, topic)


def test_dispatch_leaves_no_reference_cycles() -> None:
    # paho's own filtered-callback walk made one reference cycle per message; at fleet
    # rates those cycles kept the cyclic GC busy (see MqttLink._NoFilteredCallbacks).
    loop = asyncio.new_event_loop()
    try:
        link = MqttLink(MqttEndpoint(host="127.0.0.1", port=1), "cycles", loop)
        seen: list[str] = []
        link.subscribe("uagv/v2/+/+/state", 0, lambda topic, _payload: seen.append(topic))
        message = mqtt.MQTTMessage(topic=b"uagv/v2/acme/r1/state")
        message.payload = b"{}"
        gc.collect()
        gc.disable()
        try:
            for _ in range(200):
                link._client._handle_on_message(message)
            unreachable = gc.collect()
        finally:
            gc.enable()
        loop.run_until_complete(asyncio.sleep(0.01))
        assert len(seen) == 200
        assert unreachable < 20
    finally:
        loop.close()

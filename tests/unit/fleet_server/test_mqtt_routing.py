"""MqttLink's own topic routing agrees with MQTT's filter rules (and with paho's matcher)."""

from __future__ import annotations

import pytest
from paho.mqtt.client import topic_matches_sub

from fleet_server.mqtt_client import _Route

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

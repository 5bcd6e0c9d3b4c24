"""Topic names (§6.3)."""

from __future__ import annotations

import dataclasses

import pytest

from missions.vda5050 import TopicIdentity, TopicKind, parse_topic, subscription_for, topic_for


def test_topic_for_follows_spec_example() -> None:
    assert topic_for("uagv", "KIT", "0001", TopicKind.ORDER) == "uagv/v2/KIT/0001/order"
    assert topic_for("uagv", "KIT", "0001", "instantActions") == "uagv/v2/KIT/0001/instantActions"


@pytest.mark.parametrize("kind", list(TopicKind))
def test_parse_inverts_topic_for(kind: TopicKind) -> None:
    topic = topic_for("uagv", "Brightway", "UVC_0042:a.b-c", kind)
    identity = parse_topic(topic)
    assert identity == TopicIdentity("uagv", "v2", "Brightway", "UVC_0042:a.b-c", kind)
    assert identity.kind is kind
    assert identity.topic == topic


def test_topic_identity_is_frozen() -> None:
    identity = parse_topic("uagv/v2/KIT/0001/state")
    with pytest.raises(dataclasses.FrozenInstanceError):
        identity.serial_number = "0002"  # type: ignore[misc]


def test_subscription_for_matches_every_vehicle() -> None:
    assert subscription_for("uagv", TopicKind.STATE) == "uagv/v2/+/+/state"
    assert subscription_for("fleet", "connection") == "fleet/v2/+/+/connection"


@pytest.mark.parametrize(
    ("topic", "message"),
    [
        ("uagv/v2/KIT/0001", "4 level"),
        ("uagv/v2/KIT/0001/state/extra", "6 level"),
        ("uagv/v1/KIT/0001/state", "major version 'v1'"),
        ("uagv/v2/KIT/0001/orders", "topic kind 'orders'"),
        ("uagv/v2/KIT/00 01/state", "serialNumber '00 01'"),
        ("uagv/v2/KIT/+/state", "serialNumber '\\+'"),
        ("uagv/v2/KIT//state", "serialNumber ''"),
        ("uagv/v2//0001/state", "manufacturer is empty"),
        ("uagv/v2/K$T/0001/state", "manufacturer 'K\\$T'"),
        ("/v2/KIT/0001/state", "interface is empty"),
        ("ua#gv/v2/KIT/0001/state", "interface 'ua#gv'"),
    ],
)
def test_parse_topic_rejects_bad_topics_naming_the_level(topic: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_topic(topic)


@pytest.mark.parametrize(
    ("interface", "manufacturer", "serial", "kind", "message"),
    [
        ("uagv", "KIT", "SN/1", TopicKind.STATE, "serialNumber"),
        ("uagv", "KIT", "SN#1", TopicKind.STATE, "serialNumber"),
        ("uagv", "KIT", "机器人1", TopicKind.STATE, "serialNumber"),
        ("uagv", "A/B", "1", TopicKind.STATE, "manufacturer 'A/B'"),
        ("uagv", "A+B", "1", TopicKind.STATE, "manufacturer"),
        ("", "KIT", "1", TopicKind.STATE, "interface is empty"),
        ("uagv", "KIT", "1", "status", "topic kind 'status'"),
    ],
)
def test_topic_for_rejects_bad_parts(
    interface: str, manufacturer: str, serial: str, kind: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        topic_for(interface, manufacturer, serial, kind)


def test_subscription_for_rejects_bad_interface_and_kind() -> None:
    with pytest.raises(ValueError, match="interface"):
        subscription_for("a/b", TopicKind.STATE)
    with pytest.raises(ValueError, match="topic kind"):
        subscription_for("uagv", "states")

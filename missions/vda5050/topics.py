"""MQTT topic names of VDA 5050: ``{interface}/v2/{manufacturer}/{serialNumber}/{topic}`` (§6.3)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from missions.vda5050.protocol import MAJOR_VERSION

DEFAULT_INTERFACE = "uagv"
"""Interface name the spec uses in its examples (§6.3) and our default."""

# §6.3: a serial number consists of A-Z a-z 0-9 _ . : - only.
_SERIAL_NUMBER = re.compile(r"[A-Za-z0-9_.:\-]+")
# §6.3 forbids '/' (level separator) and advises against '$' (broker-internal topics) in
# every level; '+' and '#' are MQTT wildcards and may not appear in a published topic.
_FORBIDDEN_IN_LEVEL = frozenset("/$+#\x00")


class TopicKind(StrEnum):
    """The last topic level: which message a topic carries (§6.5)."""

    ORDER = "order"
    INSTANT_ACTIONS = "instantActions"
    STATE = "state"
    VISUALIZATION = "visualization"
    CONNECTION = "connection"
    FACTSHEET = "factsheet"


@dataclass(frozen=True, slots=True)
class TopicIdentity:
    """The parts of a VDA 5050 topic: who the vehicle is and which message it is."""

    interface: str
    major_version: str
    manufacturer: str
    serial_number: str
    kind: TopicKind

    @property
    def topic(self) -> str:
        """The topic these parts spell."""
        return "/".join(
            (self.interface, self.major_version, self.manufacturer, self.serial_number, self.kind)
        )


def _check_level(what: str, value: str) -> None:
    if not value:
        raise ValueError(f"{what} is empty")
    bad = sorted(_FORBIDDEN_IN_LEVEL.intersection(value))
    if bad:
        raise ValueError(f"{what} {value!r} contains forbidden character(s) {bad!r}")


def _check_serial_number(value: str) -> None:
    if not _SERIAL_NUMBER.fullmatch(value):
        raise ValueError(
            f"serialNumber {value!r} may only contain A-Z a-z 0-9 _ . : - (VDA 5050 §6.3)"
        )


def _kind(value: str) -> TopicKind:
    try:
        return TopicKind(value)
    except ValueError:
        allowed = ", ".join(kind.value for kind in TopicKind)
        raise ValueError(f"topic kind {value!r} is not one of {allowed}") from None


def topic_for(interface: str, manufacturer: str, serial_number: str, kind: TopicKind | str) -> str:
    """Return the topic of ``kind`` messages for one vehicle, e.g. ``uagv/v2/KIT/0001/order``.

    Raises ValueError naming the part that may not appear in a topic.
    """
    _check_level("interface", interface)
    _check_level("manufacturer", manufacturer)
    _check_serial_number(serial_number)
    return f"{interface}/{MAJOR_VERSION}/{manufacturer}/{serial_number}/{_kind(kind)}"


def subscription_for(interface: str, kind: TopicKind | str) -> str:
    """Return the filter matching ``kind`` messages of every vehicle, e.g. ``uagv/v2/+/+/state``."""
    _check_level("interface", interface)
    return f"{interface}/{MAJOR_VERSION}/+/+/{_kind(kind)}"


def parse_topic(topic: str) -> TopicIdentity:
    """Split a VDA 5050 v2 topic into its parts.

    Raises ValueError naming the level that is missing or malformed, including a major
    version other than ``v2``.
    """
    levels = topic.split("/")
    if len(levels) != 5:
        raise ValueError(
            f"topic {topic!r} has {len(levels)} level(s), expected 5: "
            "interface/majorVersion/manufacturer/serialNumber/topic"
        )
    interface, major_version, manufacturer, serial_number, kind = levels
    _check_level("interface", interface)
    if major_version != MAJOR_VERSION:
        raise ValueError(
            f"major version {major_version!r} in topic {topic!r} is not {MAJOR_VERSION!r}"
        )
    _check_level("manufacturer", manufacturer)
    _check_serial_number(serial_number)
    return TopicIdentity(interface, major_version, manufacturer, serial_number, _kind(kind))

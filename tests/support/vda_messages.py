"""VDA 5050 2.1 messages as a test robot publishes them: plain JSON documents.

The builders give valid messages (checked against the official schemas in
tests/unit/support/test_vda_messages.py); `overrides` on `state` sets top-level fields as
given, for tests that need a message the server must refuse.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from missions.vda5050 import utc_timestamp

VERSION = "2.1.0"
Message = dict[str, Any]


class HeaderIds:
    """headerId per topic: 1 for the first message, then +1 per message (VDA 5050 §6.4)."""

    def __init__(self) -> None:
        self._last: dict[str, int] = {}

    def next_for(self, topic: str) -> int:
        """The headerId of the next message on `topic`."""
        self._last[topic] = self._last.get(topic, 0) + 1
        return self._last[topic]


def header(
    manufacturer: str, serial: str, header_id: int = 1, timestamp: str | None = None
) -> Message:
    """The header every message starts with (§6.4); `timestamp` defaults to now."""
    return {
        "headerId": header_id,
        "timestamp": timestamp or utc_timestamp(),
        "version": VERSION,
        "manufacturer": manufacturer,
        "serialNumber": serial,
    }


def agv_position(x: float, y: float, theta: float = 0.0, map_id: str = "L1") -> Message:
    """An initialized agvPosition on `map_id` (§6.10.5)."""
    return {"x": x, "y": y, "theta": theta, "mapId": map_id, "positionInitialized": True}


def error(
    kind: str, level: str = "WARNING", *, description: str | None = None, **references: str
) -> Message:
    """One entry of state.errors (§6.10.6), its references given as keyword arguments."""
    return {
        "errorType": kind,
        "errorLevel": level,
        "errorDescription": description or f"{kind} reported by the test robot",
        "errorReferences": [
            {"referenceKey": key, "referenceValue": value} for key, value in references.items()
        ],
    }


def state(
    manufacturer: str,
    serial: str,
    *,
    header_id: int = 1,
    timestamp: str | None = None,
    position: Message | None = None,
    battery_charge: float = 80.0,
    order_id: str = "",
    order_update_id: int = 0,
    last_node_id: str = "",
    last_node_sequence_id: int = 0,
    action_states: Sequence[Message] = (),
    errors: Sequence[Message] = (),
    overrides: Mapping[str, Any] | None = None,
) -> Message:
    """A state message of an idle vehicle in automatic mode (§6.10), without a position
    unless one is given."""
    body: Message = {
        **header(manufacturer, serial, header_id, timestamp),
        "orderId": order_id,
        "orderUpdateId": order_update_id,
        "lastNodeId": last_node_id,
        "lastNodeSequenceId": last_node_sequence_id,
        "driving": False,
        "operatingMode": "AUTOMATIC",
        "nodeStates": [],
        "edgeStates": [],
        "actionStates": list(action_states),
        "batteryState": {"batteryCharge": battery_charge, "charging": False},
        "errors": list(errors),
        "safetyState": {"eStop": "NONE", "fieldViolation": False},
    }
    if position is not None:
        body["agvPosition"] = position
    return body | dict(overrides or {})


def connection(
    manufacturer: str, serial: str, connection_state: str, header_id: int = 1
) -> Message:
    """ONLINE, OFFLINE or CONNECTIONBROKEN (§6.14), stamped now."""
    return {**header(manufacturer, serial, header_id), "connectionState": connection_state}


def visualization(manufacturer: str, serial: str, position: Message, header_id: int = 1) -> Message:
    """A visualization message carrying the vehicle's position (§6.13), stamped now."""
    return {**header(manufacturer, serial, header_id), "agvPosition": position}


def payload(message: Message) -> bytes:
    """The message as published on the wire."""
    return json.dumps(message).encode()

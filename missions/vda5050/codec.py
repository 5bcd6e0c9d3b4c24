"""JSON encoding and decoding of VDA 5050 messages, header ids and timestamps."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeAlias

from pydantic import TypeAdapter

from missions.vda5050.common import Vda5050Model
from missions.vda5050.connection import Connection
from missions.vda5050.factsheet import Factsheet
from missions.vda5050.instant_actions import InstantActions
from missions.vda5050.order import Order
from missions.vda5050.protocol import MAJOR_VERSION, PROTOCOL_VERSION, UINT32_MAX, utc_timestamp
from missions.vda5050.state import State
from missions.vda5050.topics import TopicKind
from missions.vda5050.visualization import Visualization

__all__ = [
    "MAJOR_VERSION",
    "PROTOCOL_VERSION",
    "HeaderCounter",
    "Vda5050Message",
    "decode",
    "decode_connection",
    "decode_factsheet",
    "decode_instant_actions",
    "decode_order",
    "decode_state",
    "decode_visualization",
    "encode",
    "message_type_for",
    "utc_timestamp",
]

Vda5050Message: TypeAlias = Order | InstantActions | State | Visualization | Connection | Factsheet


# One adapter per message type, built once at import: building one costs milliseconds.
_ORDER = TypeAdapter(Order)
_INSTANT_ACTIONS = TypeAdapter(InstantActions)
_STATE = TypeAdapter(State)
_VISUALIZATION = TypeAdapter(Visualization)
_CONNECTION = TypeAdapter(Connection)
_FACTSHEET = TypeAdapter(Factsheet)

_MESSAGE_TYPES: dict[TopicKind, type[Vda5050Message]] = {
    TopicKind.ORDER: Order,
    TopicKind.INSTANT_ACTIONS: InstantActions,
    TopicKind.STATE: State,
    TopicKind.VISUALIZATION: Visualization,
    TopicKind.CONNECTION: Connection,
    TopicKind.FACTSHEET: Factsheet,
}


def encode(msg: Vda5050Model) -> bytes:
    """Serialise a message to UTF-8 JSON with the spec's camelCase names, omitting unset fields."""
    return msg.__pydantic_serializer__.to_json(msg, by_alias=True, exclude_none=True)


def decode_order(payload: bytes) -> Order:
    """Parse and validate an order; raises pydantic.ValidationError naming the bad field."""
    return _ORDER.validate_json(payload)


def decode_instant_actions(payload: bytes) -> InstantActions:
    """Parse and validate an instantActions message; raises pydantic.ValidationError."""
    return _INSTANT_ACTIONS.validate_json(payload)


def decode_state(payload: bytes) -> State:
    """Parse and validate a state message; raises pydantic.ValidationError."""
    return _STATE.validate_json(payload)


def decode_visualization(payload: bytes) -> Visualization:
    """Parse and validate a visualization message; raises pydantic.ValidationError."""
    return _VISUALIZATION.validate_json(payload)


def decode_connection(payload: bytes) -> Connection:
    """Parse and validate a connection message; raises pydantic.ValidationError."""
    return _CONNECTION.validate_json(payload)


def decode_factsheet(payload: bytes) -> Factsheet:
    """Parse and validate a factsheet; raises pydantic.ValidationError."""
    return _FACTSHEET.validate_json(payload)


_DECODERS: dict[TopicKind, Callable[[bytes], Vda5050Message]] = {
    TopicKind.ORDER: decode_order,
    TopicKind.INSTANT_ACTIONS: decode_instant_actions,
    TopicKind.STATE: decode_state,
    TopicKind.VISUALIZATION: decode_visualization,
    TopicKind.CONNECTION: decode_connection,
    TopicKind.FACTSHEET: decode_factsheet,
}


def decode(kind: TopicKind, payload: bytes) -> Vda5050Message:
    """Decode the payload of a ``kind`` topic into its message model."""
    return _DECODERS[kind](payload)


def message_type_for(kind: TopicKind) -> type[Vda5050Message]:
    """Return the model class carried on ``kind`` topics."""
    return _MESSAGE_TYPES[kind]


class HeaderCounter:
    """Hands out headerIds for the topics of one vehicle.

    §6.4: the headerId is defined per topic and incremented by 1 with each message
    sent. Topics are per vehicle, so a master control keeps one counter per vehicle.
    The first id is ``start``; after uint32's maximum the count wraps to 0. Safe to
    call from several threads (paho's network thread and the asyncio loop).
    """

    def __init__(self, start: int = 0) -> None:
        if not 0 <= start <= UINT32_MAX:
            raise ValueError(f"start {start} is outside uint32 range 0..{UINT32_MAX}")
        self._start = start
        self._next: dict[TopicKind, int] = {}
        self._lock = threading.Lock()

    def next(self, kind: TopicKind) -> int:
        """Return the headerId for the next message on ``kind`` and advance that topic."""
        with self._lock:
            header_id = self._next.get(kind, self._start)
            self._next[kind] = 0 if header_id == UINT32_MAX else header_id + 1
            return header_id

    def peek(self, kind: TopicKind) -> int:
        """Return the headerId the next message on ``kind`` will get, without advancing."""
        with self._lock:
            return self._next.get(kind, self._start)

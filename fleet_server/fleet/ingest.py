"""Robot messages in: parse once, check identity, update the live fleet state.

A malformed, oversized or schema-invalid payload, or one whose header names another robot
than its topic, is counted by robot and reason, logged at most once per robot per minute,
and dropped. Nothing a robot sends can stop the ingest.
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Callable

from pydantic import ValidationError

from fleet_server.fleet.live_state import LiveFleet, RobotKey
from fleet_server.mqtt_client import MqttLink, Unsubscribe
from missions.vda5050 import (
    TopicKind,
    Visualization,
    decode_connection,
    decode_state,
    decode_visualization,
    parse_topic,
    subscription_for,
)
from missions.vda5050.common import Header

log = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 256 * 1024
LOG_EVERY_S = 60.0
# VDA 5050 robots publish state/visualization at QoS 0; connection at QoS 1 (§6.14).
_SUBSCRIBE_QOS = {TopicKind.STATE: 0, TopicKind.VISUALIZATION: 0, TopicKind.CONNECTION: 1}


class RejectReason:
    """Why a robot message was dropped (a label of the rejection metric)."""

    BAD_TOPIC = "bad_topic"
    OVERSIZED = "oversized"
    INVALID = "invalid"
    IDENTITY_MISMATCH = "identity_mismatch"
    VERSION = "unsupported_version"


class Ingest:
    """Handlers for the state, visualization and connection topics of every robot."""

    def __init__(
        self,
        live: LiveFleet,
        interface: str,
        *,
        max_payload_bytes: int = MAX_PAYLOAD_BYTES,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.live = live
        self.interface = interface
        self.max_payload_bytes = max_payload_bytes
        self._monotonic = monotonic
        self.accepted: collections.Counter[str] = collections.Counter()
        self.rejected: collections.Counter[tuple[str, str]] = collections.Counter()
        self._last_logged: dict[str, float] = {}

    def subscribe(self, link: MqttLink) -> list[Unsubscribe]:
        """One wildcard subscription per topic kind."""
        handlers = {
            TopicKind.STATE: self.on_state,
            TopicKind.VISUALIZATION: self.on_visualization,
            TopicKind.CONNECTION: self.on_connection,
        }
        return [
            link.subscribe(subscription_for(self.interface, kind), _SUBSCRIBE_QOS[kind], handler)
            for kind, handler in handlers.items()
        ]

    def on_state(self, topic: str, payload: bytes) -> None:
        """A `state` message (VDA 5050 §6.10)."""
        key = self._robot_key(topic, payload)
        if key is None:
            return
        try:
            state = decode_state(payload)
        except ValidationError as exc:
            self._reject(key, RejectReason.INVALID, exc)
            return
        if self._header_matches(key, state):
            self.live.apply_state(key, state, self._monotonic())
            self.accepted[TopicKind.STATE] += 1

    def on_visualization(self, topic: str, payload: bytes) -> None:
        """A `visualization` message (VDA 5050 §6.16)."""
        key = self._robot_key(topic, payload)
        if key is None:
            return
        try:
            message = decode_visualization(payload)
        except ValidationError as exc:
            self._reject(key, RejectReason.INVALID, exc)
            return
        if self._header_matches(key, message):
            self.live.apply_position(key, message.agv_position, self._monotonic())
            self.accepted[TopicKind.VISUALIZATION] += 1

    def on_connection(self, topic: str, payload: bytes) -> None:
        """A `connection` message or the broker's last will (VDA 5050 §6.14)."""
        key = self._robot_key(topic, payload)
        if key is None:
            return
        if not payload:
            return  # a cleared retained message
        try:
            message = decode_connection(payload)
        except ValidationError as exc:
            self._reject(key, RejectReason.INVALID, exc)
            return
        if self._header_matches(key, message):
            self.live.apply_connection(key, message.connection_state, self._monotonic())
            self.accepted[TopicKind.CONNECTION] += 1

    def _robot_key(self, topic: str, payload: bytes) -> RobotKey | None:
        try:
            identity = parse_topic(topic)
        except ValueError as exc:
            self._reject(("?", "?"), RejectReason.BAD_TOPIC, f"{topic!r}: {exc}")
            return None
        key = (identity.manufacturer, identity.serial_number)
        if len(payload) > self.max_payload_bytes:
            self._reject(key, RejectReason.OVERSIZED, f"{len(payload)} bytes")
            return None
        return key

    def _header_matches(self, key: RobotKey, header: Header | Visualization) -> bool:
        # Visualization may omit its header (§6.13); what is given must match the topic.
        manufacturer = header.manufacturer or key[0]
        serial_number = header.serial_number or key[1]
        if (manufacturer, serial_number) != key:
            self._reject(
                key,
                RejectReason.IDENTITY_MISMATCH,
                f"header says {header.manufacturer}/{header.serial_number}",
            )
            return False
        if header.version is not None and not header.version.startswith("2."):
            self._reject(key, RejectReason.VERSION, f"version {header.version}")
            return False
        return True

    def _reject(self, key: RobotKey, reason: str, detail: object) -> None:
        robot = "/".join(key)
        self.rejected[(robot, reason)] += 1
        now = self._monotonic()
        if now - self._last_logged.get(robot, float("-inf")) >= LOG_EVERY_S:
            self._last_logged[robot] = now
            log.warning("dropped message from %s: %s: %s", robot, reason, detail)

    @property
    def rejected_total(self) -> int:
        """All rejected messages so far."""
        return sum(self.rejected.values())

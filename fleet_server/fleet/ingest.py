"""Robot messages in: parse once, check identity, update the live fleet state.

A malformed, oversized or schema-invalid payload, one whose header names another robot
than its topic, or one from a robot that is not registered (issue 11: topic, header and
registry must agree), is counted by robot and reason, logged at most once per robot per
minute, and dropped; unregistered robots are also reported (`on_unregistered`) and never
enter the live state. Nothing a robot sends can stop the ingest, and nothing it sends can
grow the bookkeeping without bound: past `max_tracked_robots` distinct offenders, counts
and log slots fold into one "other" bucket (a client inventing serial numbers is an
attack, not a fleet).

The hot path is one `TypeAdapter.validate_json` per message (the `decode_*` functions)
and an in-memory update; no database, no second parse.
"""

from __future__ import annotations

import collections
import gc
import logging
import time
from collections.abc import Callable
from typing import Protocol, TypeVar

from pydantic import ValidationError

from fleet_server.fleet.live_state import LiveFleet, RobotKey
from fleet_server.mqtt_client import MqttLink, Unsubscribe
from missions.vda5050 import (
    ConnectionState,
    TopicKind,
    decode_connection,
    decode_factsheet,
    decode_state,
    decode_visualization,
    parse_topic,
    subscription_for,
)

log = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 256 * 1024
LOG_EVERY_S = 60.0
MAX_TRACKED_ROBOTS = 1000
"""Distinct robots that get their own reject counters and log slots."""
OTHER_ROBOTS = "other"
"""Label of the bucket for robots beyond `MAX_TRACKED_ROBOTS`."""
UNKNOWN_ROBOT = "?"
"""Label for messages whose topic names no robot."""
TOPIC_CACHE_SIZE = 50_000
"""Parsed topics remembered; a robot uses the same few topics all day. Cleared when full."""

GC_THRESHOLDS = (2_000, 1_000, 10)
"""CPython's (700, 10, 10) rescans the whole live fleet state every few seconds."""
_gc_frozen = False

# VDA 5050 §6.2: state, visualization and factsheet travel at QoS 0, connection at QoS 1.
_SUBSCRIBE_QOS = {
    TopicKind.STATE: 0,
    TopicKind.VISUALIZATION: 0,
    TopicKind.CONNECTION: 1,
    TopicKind.FACTSHEET: 0,
}


def tune_gc_for_ingest() -> None:
    """Keep CPython's cyclic GC from stalling the ingest; process-wide, call at startup.

    Every message allocates a few dozen GC-tracked objects (the parsed model) and the live
    state keeps the newest per robot: some 200,000 live objects at 2,000 robots. With the
    default thresholds the middle and oldest generations, which hold that live state, are
    rescanned every few seconds, each time stopping the event loop for 100-300 ms. Here
    young collections stay small (2,000) and the older ones are rare (a middle one per
    1,000 young ones, a full one per 10 middle ones); what startup allocated is frozen out
    of every collection, once per process. Measured with bench/ingest.py at 2,000 robots
    (6,000 msg/s, 15 s, quiet machine): GC time 1.9 s with up to 204 ms pauses and p99
    latency 139 ms at (10,000, 10, 10); 0.8 s, longest pause 14 ms, p99 12 ms with this.
    """
    global _gc_frozen
    if not _gc_frozen:
        gc.collect()
        gc.freeze()
        _gc_frozen = True
    gc.set_threshold(*GC_THRESHOLDS)


class RejectReason:
    """Why a robot message was dropped (a label of the rejection metric)."""

    BAD_TOPIC = "bad_topic"
    OVERSIZED = "oversized"
    INVALID = "invalid"
    IDENTITY_MISMATCH = "identity_mismatch"
    UNREGISTERED = "unregistered"
    VERSION = "unsupported_version"


class _Identified(Protocol):
    """The header fields ingest checks; visualization may leave them out (§6.13)."""

    @property
    def manufacturer(self) -> str | None: ...

    @property
    def serial_number(self) -> str | None: ...

    @property
    def version(self) -> str | None: ...


_M = TypeVar("_M", bound=_Identified)


def _always(_payload: bytes) -> bool:
    return True


def _never(_payload: bytes) -> bool:
    return False


def _says_online(payload: bytes) -> bool:
    try:
        return decode_connection(payload).connection_state == ConnectionState.ONLINE
    except ValidationError:
        return False


class Registry(Protocol):
    """Who may report (the robot directory)."""

    def admits(self, key: RobotKey) -> bool: ...

    def reload_soon(self) -> None: ...


class Ingest:
    """Handlers for the state, visualization, connection and factsheet topics of every robot.

    Every message handed to a handler ends up in exactly one of `accepted` (by topic kind),
    `rejected` (by robot label and reason) or `ignored` (by why), so their totals add up
    to what arrived.
    """

    def __init__(
        self,
        live: LiveFleet,
        interface: str,
        *,
        max_payload_bytes: int = MAX_PAYLOAD_BYTES,
        max_tracked_robots: int = MAX_TRACKED_ROBOTS,
        monotonic: Callable[[], float] = time.monotonic,
        directory: Registry | None = None,
    ) -> None:
        """Without a `directory` every robot is admitted (benchmarks, parser tests); the
        server always passes its robot directory."""
        self.live = live
        self.directory = directory
        self.on_unregistered: Callable[[RobotKey], None] | None = None
        self.interface = interface
        self.max_payload_bytes = max_payload_bytes
        self.max_tracked_robots = max_tracked_robots
        self._monotonic = monotonic
        self.accepted: collections.Counter[str] = collections.Counter()
        self.rejected: collections.Counter[tuple[str, str]] = collections.Counter()
        self.rejected_by_reason: collections.Counter[str] = collections.Counter()
        self.ignored: collections.Counter[str] = collections.Counter()
        self._rejected_total = 0
        self._topic_keys: dict[str, RobotKey] = {}
        self._labelled: set[str] = set()
        # robot label -> when its last reject was logged; insertion order is time order
        # (a re-logged robot is moved to the end), so expired entries sit at the front.
        self._last_logged: dict[str, float] = {}

    def subscribe(self, link: MqttLink) -> list[Unsubscribe]:
        """One wildcard subscription per topic kind."""
        handlers = {
            TopicKind.STATE: self.on_state,
            TopicKind.VISUALIZATION: self.on_visualization,
            TopicKind.CONNECTION: self.on_connection,
            TopicKind.FACTSHEET: self.on_factsheet,
        }
        return [
            link.subscribe(subscription_for(self.interface, kind), _SUBSCRIBE_QOS[kind], handler)
            for kind, handler in handlers.items()
        ]

    def _admit(
        self,
        topic: str,
        payload: bytes,
        decode: Callable[[bytes], _M],
        *,
        empty_clears: bool = False,
        shows_presence: Callable[[bytes], bool] = _always,
    ) -> tuple[RobotKey, _M] | None:
        """Registration, topic identity, one parse, header check; None (counted) when the
        message is dropped.

        `empty_clears`: an empty payload is a cleared retained message, ignored (§6.14).
        `shows_presence`: whether the message, from an unregistered robot, means that robot
        is connected now (retained messages of one long gone do not; §6.14, §6.15).
        """
        key = self._robot_key(topic, payload)
        if key is None:
            return None
        directory = self.directory
        if directory is not None and not directory.admits(key):
            self._unregistered(key, directory, report=shows_presence(payload))
            return None
        if empty_clears and not payload:
            self.ignored["retained_cleared"] += 1
            return None
        try:
            message = decode(payload)
        except ValidationError as exc:
            self._reject(key, RejectReason.INVALID, exc)
            return None
        if not self._header_matches(key, message):
            return None
        return key, message

    def on_state(self, topic: str, payload: bytes) -> None:
        """A `state` message (VDA 5050 §6.10)."""
        admitted = self._admit(topic, payload, decode_state)
        if admitted is not None:
            key, state = admitted
            self.live.apply_state(key, state, self._monotonic())
            self.accepted[TopicKind.STATE] += 1

    def on_visualization(self, topic: str, payload: bytes) -> None:
        """A `visualization` message (VDA 5050 §6.13)."""
        admitted = self._admit(topic, payload, decode_visualization)
        if admitted is not None:
            key, message = admitted
            self.live.apply_position(
                key, message.agv_position, self._monotonic(), message.timestamp
            )
            self.accepted[TopicKind.VISUALIZATION] += 1

    def on_connection(self, topic: str, payload: bytes) -> None:
        """A `connection` message or the broker's last will (VDA 5050 §6.14)."""
        admitted = self._admit(
            topic, payload, decode_connection, empty_clears=True, shows_presence=_says_online
        )
        if admitted is not None:
            key, message = admitted
            self.live.apply_connection(key, message.connection_state, self._monotonic())
            self.accepted[TopicKind.CONNECTION] += 1

    def on_factsheet(self, topic: str, payload: bytes) -> None:
        """A `factsheet` message (VDA 5050 §6.15), kept as the robot's latest."""
        admitted = self._admit(
            topic, payload, decode_factsheet, empty_clears=True, shows_presence=_never
        )
        if admitted is not None:
            key, message = admitted
            self.live.apply_factsheet(key, message, self._monotonic())
            self.accepted[TopicKind.FACTSHEET] += 1

    @property
    def rejected_total(self) -> int:
        """All rejected messages so far."""
        return self._rejected_total

    @property
    def handled_total(self) -> int:
        """Every message the handlers were given: accepted + rejected + ignored."""
        return sum(self.accepted.values()) + self._rejected_total + sum(self.ignored.values())

    @property
    def log_slots_in_use(self) -> int:
        """Robots whose last reject was logged within the minute (bounded by the cap + 1)."""
        return len(self._last_logged)

    def _robot_key(self, topic: str, payload: bytes) -> RobotKey | None:
        key = self._topic_keys.get(topic)
        if key is None:
            try:
                identity = parse_topic(topic)
            except ValueError as exc:
                self._reject((UNKNOWN_ROBOT, UNKNOWN_ROBOT), RejectReason.BAD_TOPIC, exc)
                return None
            key = (identity.manufacturer, identity.serial_number)
            if len(self._topic_keys) >= TOPIC_CACHE_SIZE:
                self._topic_keys.clear()  # invented topics must not grow it without bound
            self._topic_keys[topic] = key
        if len(payload) > self.max_payload_bytes:
            self._reject(key, RejectReason.OVERSIZED, f"{len(payload)} bytes")
            return None
        return key

    def _unregistered(self, key: RobotKey, directory: Registry, *, report: bool) -> None:
        self._reject(key, RejectReason.UNREGISTERED, "not registered (or decommissioned)")
        if not report:
            return
        # It may have been registered by the CLI a moment ago; the directory rate-limits.
        directory.reload_soon()
        if self.on_unregistered is not None:
            self.on_unregistered(key)

    def _header_matches(self, key: RobotKey, header: _Identified) -> bool:
        # Visualization may omit its header (§6.13); whatever is given must match the topic.
        manufacturer, serial_number = header.manufacturer, header.serial_number
        if (manufacturer is not None and manufacturer != key[0]) or (
            serial_number is not None and serial_number != key[1]
        ):
            self._reject(
                key,
                RejectReason.IDENTITY_MISMATCH,
                f"header says {manufacturer}/{serial_number}",
            )
            return False
        version = header.version
        if version is not None and not version.startswith("2."):
            self._reject(key, RejectReason.VERSION, f"version {version}")
            return False
        return True

    def _reject(self, key: RobotKey, reason: str, detail: object) -> None:
        robot = "/".join(key)
        label = robot
        if robot not in self._labelled:
            if len(self._labelled) < self.max_tracked_robots:
                self._labelled.add(robot)
            else:
                label = OTHER_ROBOTS
        self.rejected[(label, reason)] += 1
        self.rejected_by_reason[reason] += 1
        self._rejected_total += 1
        if self._log_slot_free(robot):
            log.warning("dropped message from %s: %s: %s", robot, reason, detail)

    def _log_slot_free(self, robot: str) -> bool:
        """Whether a reject from this robot may be logged now (once per LOG_EVERY_S)."""
        now = self._monotonic()
        last_logged = self._last_logged
        last = last_logged.get(robot)
        if last is not None:
            if now - last < LOG_EVERY_S:
                return False
            del last_logged[robot]  # re-inserted below, at the end: keeps time order
        elif len(last_logged) >= self.max_tracked_robots:
            self._forget_expired_log_slots(now)
            if len(last_logged) >= self.max_tracked_robots:
                # Too many distinct robots within one minute: they share one slot.
                robot = OTHER_ROBOTS
                other = last_logged.get(OTHER_ROBOTS)
                if other is not None:
                    if now - other < LOG_EVERY_S:
                        return False
                    del last_logged[OTHER_ROBOTS]
        last_logged[robot] = now
        return True

    def _forget_expired_log_slots(self, now: float) -> None:
        last_logged = self._last_logged
        while last_logged:
            robot, last = next(iter(last_logged.items()))
            if now - last < LOG_EVERY_S:
                return
            del last_logged[robot]

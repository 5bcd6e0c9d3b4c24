"""The server's MQTT link: paho-mqtt on its own network thread, handing messages to asyncio.

paho calls back on its network thread. Messages cross into the event loop through one
deque: the network thread appends and wakes the loop with `call_soon_threadsafe` only when
no drain is already scheduled, so a burst of messages costs one wake-up, not one each.
The drain then waits `batch_window_s` (2 ms) before it runs, so messages that trickle in
one by one at fleet rates still share a wake-up: handing one message across threads cost
about as much as parsing it (measured with `bench/ingest.py`). A drain hands at most
`DRAIN_BATCH` messages to handlers before it yields the loop to other tasks.

Routing to handlers is ours, not paho's `message_callback_add`: paho's matcher walks a
trie with nested generators for every message, which cost more than parsing the message
itself in `bench/ingest.py`. We keep the few filters pre-split and compare levels.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.matcher import MQTTMatcher
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from fleet_server.settings import MqttEndpoint

log = logging.getLogger(__name__)

MessageHandler = Callable[[str, bytes], None]
DRAIN_BATCH = 2000
"""Most messages one drain handles before letting other tasks of the event loop run."""
Unsubscribe = Callable[[], None]


class _NoFilteredCallbacks(MQTTMatcher):
    """Stands in for paho's per-filter callback trie, which MqttLink never fills.

    paho walks that trie for every message even when it is empty, and the walk defines a
    recursive closure: one reference cycle per message that only the cyclic GC can free.
    At 6,000 msg/s freeing them was 95 % of the time spent in young collections.
    """

    def iter_match(self, topic: str) -> Iterator[object]:
        """No filtered callbacks: MqttLink routes messages itself (`_Route`)."""
        return iter(())


@dataclass(frozen=True, slots=True)
class _Route:
    """One subscription: its filter split into levels, and where matches go."""

    levels: tuple[str, ...]
    handler: MessageHandler

    def matches(self, topic_levels: list[str]) -> bool:
        """MQTT 5 §4.7: '+' matches one level, a trailing '#' the rest (even none);
        wildcards in the first level do not match topics starting with '$'."""
        levels = self.levels
        if topic_levels[0].startswith("$") and levels[0] in ("+", "#"):
            return False
        n = len(levels)
        if levels[-1] == "#":
            n -= 1
            if len(topic_levels) < n:
                return False
        elif len(topic_levels) != n:
            return False
        for i in range(n):
            level = levels[i]
            if level != "+" and level != topic_levels[i]:
                return False
        return True


@dataclass
class LinkCounters:
    """What the link has seen, for /metrics and tests."""

    received: int = 0
    handler_errors: dict[str, int] = field(default_factory=lambda: collections.defaultdict(int))
    connects: int = 0


class MqttLink:
    """One paho client; subscriptions survive reconnects; handlers run on the event loop."""

    def __init__(
        self,
        endpoint: MqttEndpoint,
        client_id: str,
        loop: asyncio.AbstractEventLoop,
        *,
        keepalive_s: int = 30,
        will: tuple[str, bytes, int, bool] | None = None,
        batch_window_s: float = 0.002,
    ) -> None:
        self._endpoint = endpoint
        self._loop = loop
        self._keepalive_s = keepalive_s
        self._batch_window_s = batch_window_s
        self._subscriptions: dict[str, tuple[int, MessageHandler]] = {}
        # Read by paho's thread without a lock: replaced whole, never mutated in place.
        self._routes: tuple[_Route, ...] = ()
        self._inbox: collections.deque[tuple[MessageHandler, str, bytes]] = collections.deque()
        self._drain_scheduled = False
        self._drain_lock = threading.Lock()
        self._connected = asyncio.Event()
        self.counters = LinkCounters()
        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=True,
            reconnect_on_failure=True,
        )
        self._client.reconnect_delay_set(min_delay=1, max_delay=30)
        self._client.max_queued_messages_set(0)
        self._client.max_inflight_messages_set(1000)
        if endpoint.username:
            self._client.username_pw_set(endpoint.username, endpoint.password)
        if endpoint.tls:
            # The broker's certificate is always verified, host name included.
            self._client.tls_set(
                ca_certs=str(endpoint.ca_file) if endpoint.ca_file else None,
                certfile=str(endpoint.cert_file) if endpoint.cert_file else None,
                keyfile=str(endpoint.key_file) if endpoint.key_file else None,
                cert_reqs=ssl.CERT_REQUIRED,
            )
        if will is not None:
            topic, payload, qos, retain = will
            self._client.will_set(topic, payload, qos=qos, retain=retain)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        # paho 2 keeps its filtered-callback trie here; see _NoFilteredCallbacks.
        if isinstance(getattr(self._client, "_on_message_filtered", None), MQTTMatcher):
            self._client._on_message_filtered = _NoFilteredCallbacks()  # type: ignore[no-untyped-call]

    @property
    def connected(self) -> bool:
        """True while the broker session is up."""
        return self._connected.is_set()

    async def start(self, timeout_s: float = 10.0) -> bool:
        """Connect in the background; return whether the link came up within the timeout."""
        self._client.connect_async(self._endpoint.host, self._endpoint.port, self._keepalive_s)
        self._client.loop_start()
        try:
            await asyncio.wait_for(self._connected.wait(), timeout_s)
        except TimeoutError:
            log.warning(
                "MQTT broker %s:%s not reachable yet; retrying in the background",
                self._endpoint.host,
                self._endpoint.port,
            )
            return False
        return True

    async def stop(self) -> None:
        """Disconnect cleanly and stop the network thread."""
        self._client.disconnect()
        await asyncio.to_thread(self._client.loop_stop)

    def subscribe(self, topic_filter: str, qos: int, handler: MessageHandler) -> Unsubscribe:
        """Route messages matching the filter to handler; re-subscribed on every reconnect."""
        self._subscriptions[topic_filter] = (qos, handler)
        self._update_routes()
        if self.connected:
            self._client.subscribe(topic_filter, qos)

        def unsubscribe() -> None:
            self._subscriptions.pop(topic_filter, None)
            self._update_routes()
            if self.connected:
                self._client.unsubscribe(topic_filter)

        return unsubscribe

    def _update_routes(self) -> None:
        self._routes = tuple(
            _Route(tuple(topic_filter.split("/")), handler)
            for topic_filter, (_qos, handler) in self._subscriptions.items()
        )

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        """Queue a message for the broker (thread-safe in paho)."""
        self._client.publish(topic, payload, qos=qos, retain=retain)

    # paho's network thread -------------------------------------------------------------

    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: object,
        _flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        _props: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            log.error("MQTT connect refused: %s", reason_code)
            return
        for topic_filter, (qos, _handler) in list(self._subscriptions.items()):
            client.subscribe(topic_filter, qos)
        self.counters.connects += 1
        self._loop.call_soon_threadsafe(self._connected.set)
        log.info("MQTT link up to %s:%s", self._endpoint.host, self._endpoint.port)

    def _on_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        _props: Properties | None,
    ) -> None:
        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._connected.clear)
        log.warning("MQTT link down: %s", reason_code)

    def _on_message(self, _client: mqtt.Client, _userdata: object, msg: mqtt.MQTTMessage) -> None:
        try:
            topic = msg.topic
        except UnicodeDecodeError:
            return  # MQTT topics are UTF-8 (§1.5.4); no filter of ours can match this one
        levels = topic.split("/")
        payload = bytes(msg.payload)  # already bytes in paho 2: no copy
        # A message matching no filter is not ours (amqtt may send such, see broker.py).
        for route in self._routes:
            if route.matches(levels):
                self._enqueue(route.handler, topic, payload)

    def _enqueue(self, handler: MessageHandler, topic: str, payload: bytes) -> None:
        self._inbox.append((handler, topic, payload))
        with self._drain_lock:
            if self._drain_scheduled:
                return
            self._drain_scheduled = True
        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._drain_after_window)

    # the event loop ----------------------------------------------------------------------

    def _drain_after_window(self) -> None:
        if self._batch_window_s > 0:
            self._loop.call_later(self._batch_window_s, self._drain)
        else:
            self._drain()

    def _drain(self) -> None:
        with self._drain_lock:
            self._drain_scheduled = False
        inbox = self._inbox
        for _ in range(DRAIN_BATCH):
            if not inbox:
                return
            handler, topic, payload = inbox.popleft()
            self.counters.received += 1
            try:
                handler(topic, payload)
            except Exception:
                # A failing handler must never stop the link; it is logged and counted.
                self.counters.handler_errors[topic.rsplit("/", 1)[-1]] += 1
                log.exception("MQTT handler failed for topic %s", topic)
        # More is waiting: let other tasks run, then go on (unless paho already re-armed).
        with self._drain_lock:
            if self._drain_scheduled:
                return
            self._drain_scheduled = True
        self._loop.call_soon(self._drain)

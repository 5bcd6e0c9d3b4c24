"""The robot's MQTT session towards the fleet server (VDA 5050 §6.14 connection handling).

paho runs its own network thread. Incoming orders and instant actions are handed to the
agent's event loop with `call_soon_threadsafe`; nothing else crosses threads.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
from collections.abc import Callable
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from missions.vda5050 import (
    Connection,
    ConnectionState,
    HeaderCounter,
    TopicKind,
    encode,
    topic_for,
    utc_timestamp,
)
from missions.vda5050.protocol import PROTOCOL_VERSION
from robot_agent.config import AgentConfig

log = logging.getLogger(__name__)

# VDA 5050 §6.14: the connection topic is published retained with QoS 1; all other
# topics use QoS 0. We subscribe to orders at QoS 1 so a server publishing at QoS 1 gets
# delivery guarantees; the spec allows either.
CONNECTION_QOS = 1
SUBSCRIBE_QOS = 1

InboundHandler = Callable[[TopicKind, bytes], None]


class VdaLink:
    """Publishes this robot's messages and receives its orders and instant actions."""

    def __init__(
        self,
        config: AgentConfig,
        loop: asyncio.AbstractEventLoop,
        on_message: InboundHandler,
        on_connected: Callable[[], None],
    ) -> None:
        self._config = config
        self._loop = loop
        self._on_message = on_message
        self._on_connected = on_connected
        self._headers = HeaderCounter()
        self._connected = False
        self._inbound_topics = {
            self.topic(TopicKind.ORDER): TopicKind.ORDER,
            self.topic(TopicKind.INSTANT_ACTIONS): TopicKind.INSTANT_ACTIONS,
        }
        self._client = self._make_client()

    def topic(self, kind: TopicKind) -> str:
        """This robot's topic of the given kind."""
        cfg = self._config
        return topic_for(cfg.interface, cfg.manufacturer, cfg.serial_number, kind)

    @property
    def connected(self) -> bool:
        """True while the broker session is up."""
        return self._connected

    def _make_client(self) -> mqtt.Client:
        cfg = self._config
        url = urlsplit(cfg.broker_url)
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"{cfg.manufacturer}-{cfg.serial_number}",
            clean_session=True,
            reconnect_on_failure=True,
        )
        # paho doubles the delay from min to max; the jitter spreads a whole fleet's
        # reconnects after a broker restart.
        jitter = random.uniform(0.0, cfg.reconnect_min_s)  # noqa: S311 - not security
        client.reconnect_delay_set(
            min_delay=max(1, round(cfg.reconnect_min_s + jitter)),
            max_delay=max(1, round(cfg.reconnect_max_s)),
        )
        username = cfg.username or (unquote(url.username) if url.username else None)
        password = cfg.password or (unquote(url.password) if url.password else None)
        if username:
            client.username_pw_set(username, password)
        if url.scheme == "mqtts" or cfg.tls is not None:
            tls = cfg.tls
            client.tls_set(
                ca_certs=str(tls.ca_file) if tls else None,
                certfile=str(tls.cert_file) if tls and tls.cert_file else None,
                keyfile=str(tls.key_file) if tls and tls.key_file else None,
                cert_reqs=ssl.CERT_REQUIRED,
            )
            if tls and tls.insecure_skip_hostname_check:
                client.tls_insecure_set(True)
        client.will_set(
            self.topic(TopicKind.CONNECTION),
            self._connection_payload(ConnectionState.CONNECTIONBROKEN),
            qos=CONNECTION_QOS,
            retain=True,
        )
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_paho_message
        return client

    def _connection_payload(self, state: ConnectionState) -> bytes:
        cfg = self._config
        return encode(
            Connection(
                header_id=self._headers.next(TopicKind.CONNECTION),
                timestamp=utc_timestamp(),
                version=PROTOCOL_VERSION,
                manufacturer=cfg.manufacturer,
                serial_number=cfg.serial_number,
                connection_state=state,
            )
        )

    def start(self) -> None:
        """Connect in the background (paho retries until the broker answers)."""
        url = urlsplit(self._config.broker_url)
        default_port = 8883 if url.scheme == "mqtts" else 1883
        self._client.connect_async(
            url.hostname or "127.0.0.1", url.port or default_port, self._config.keepalive_s
        )
        self._client.loop_start()

    def stop(self, timeout_s: float = 3.0) -> None:
        """Say OFFLINE (retained) and disconnect cleanly, as §6.14 asks."""
        if self._connected:
            info = self._client.publish(
                self.topic(TopicKind.CONNECTION),
                self._connection_payload(ConnectionState.OFFLINE),
                qos=CONNECTION_QOS,
                retain=True,
            )
            try:
                info.wait_for_publish(timeout=timeout_s)
            except (RuntimeError, ValueError):
                log.warning("OFFLINE message not confirmed before disconnect")
        self._client.disconnect()
        self._client.loop_stop()

    def next_header(self, kind: TopicKind) -> int:
        """The headerId for the next message on that topic."""
        return self._headers.next(kind)

    def publish(self, kind: TopicKind, payload: bytes, qos: int = 0, retain: bool = False) -> bool:
        """Publish one encoded message; False when the broker is not reachable now."""
        if not self._connected:
            return False
        info = self._client.publish(self.topic(kind), payload, qos=qos, retain=retain)
        return info.rc == mqtt.MQTT_ERR_SUCCESS

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
            log.error("broker refused the connection: %s", reason_code)
            return
        for topic in self._inbound_topics:
            client.subscribe(topic, SUBSCRIBE_QOS)
        client.publish(
            self.topic(TopicKind.CONNECTION),
            self._connection_payload(ConnectionState.ONLINE),
            qos=CONNECTION_QOS,
            retain=True,
        )
        self._connected = True
        self._loop.call_soon_threadsafe(self._on_connected)

    def _on_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        _props: Properties | None,
    ) -> None:
        self._connected = False
        log.warning("disconnected from broker: %s", reason_code)

    def _on_paho_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        # Dispatch by exact topic: some brokers (amqtt) deliver retained messages on
        # topics this client never subscribed to.
        kind = self._inbound_topics.get(msg.topic)
        if kind is None:
            return
        self._loop.call_soon_threadsafe(self._on_message, kind, bytes(msg.payload))

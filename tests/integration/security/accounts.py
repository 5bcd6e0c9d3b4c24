"""MQTT clients with an account, for the broker security tests: connect, publish, record."""

from __future__ import annotations

import ssl
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from tests.support import vda_messages as vda


def state_payload(manufacturer: str, serial: str, *, x: float = 1.0, header_id: int = 1) -> bytes:
    """A valid VDA 5050 state whose header names `manufacturer`/`serial`, at (x, 2) on L1."""
    position = vda.agv_position(x, 2.0)
    return vda.payload(vda.state(manufacturer, serial, header_id=header_id, position=position))


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes


class AccountClient:
    """One paho client logged in with a username and password (optionally over TLS)."""

    def __init__(
        self,
        port: int,
        username: str | None,
        password: str | None,
        *,
        client_id: str,
        ca_file: Path | None = None,
        tls: bool = False,
    ) -> None:
        """`tls` without `ca_file`: TLS trusting only the system's CAs."""
        self.received: list[Received] = []
        self.refused: ReasonCode | None = None
        self.tls_error: BaseException | None = None
        self._lock = threading.Lock()
        self._connected = threading.Event()
        self._answered = threading.Event()
        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            reconnect_on_failure=False,
        )
        if username is not None:
            self._client.username_pw_set(username, password)
        if ca_file is not None or tls:
            self._client.tls_set(
                ca_certs=str(ca_file) if ca_file else None, cert_reqs=ssl.CERT_REQUIRED
            )
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._port = port

    def connect(self, timeout_s: float = 10.0) -> bool:
        """Connect and wait for the broker's answer; True when accepted."""
        try:
            self._client.connect("127.0.0.1", self._port, keepalive=10)
        except (ssl.SSLError, OSError) as exc:
            self.tls_error = exc
            return False
        self._client.loop_start()
        self._answered.wait(timeout_s)
        return self._connected.is_set()

    def _on_connect(self, _c: mqtt.Client, _u: object, _f: Any, rc: ReasonCode, _p: Any) -> None:
        if rc.is_failure:
            self.refused = rc
        else:
            self._connected.set()
        self._answered.set()

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.received.append(Received(msg.topic, bytes(msg.payload)))

    def subscribe(self, topic_filter: str, qos: int = 1) -> None:
        """Subscribe and wait for the broker's SUBACK."""
        done = threading.Event()
        self._client.on_subscribe = lambda *_: done.set()
        self._client.subscribe(topic_filter, qos)
        assert done.wait(5), f"no SUBACK for {topic_filter}"

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        """Publish at QoS 1 and wait until the broker acknowledged it (also when denied:
        Mosquitto acknowledges a denied QoS 1 publish and drops it)."""
        self._client.publish(topic, payload, qos=qos).wait_for_publish(5)

    def messages(self) -> list[Received]:
        """What was delivered so far."""
        with self._lock:
            return list(self.received)

    def close(self) -> None:
        """Disconnect."""
        self._client.disconnect()
        self._client.loop_stop()

"""A plain paho client that records everything published under a topic filter."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


@dataclass(frozen=True)
class Captured:
    """One message as the broker delivered it."""

    topic: str
    payload: bytes
    retain: bool
    qos: int


class Recorder:
    """Subscribes to a filter and keeps every message, for assertions."""

    def __init__(self, port: int, topic_filter: str = "#", host: str = "127.0.0.1") -> None:
        self.messages: list[Captured] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self._client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)
        self._client.on_connect = lambda c, *_: c.subscribe(topic_filter, 1)
        self._client.on_subscribe = lambda *_: self._subscribed.set()
        self._client.on_message = self._on_message
        self._client.connect(host, port)
        self._client.loop_start()
        if not self._subscribed.wait(10):
            raise RuntimeError(f"recorder could not subscribe on port {port}")

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append(Captured(msg.topic, bytes(msg.payload), msg.retain, msg.qos))

    def snapshot(self) -> list[Captured]:
        """The messages so far."""
        with self._lock:
            return list(self.messages)

    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        """Publish through this client and wait until it left."""
        self._client.publish(topic, payload, qos=qos, retain=retain).wait_for_publish(5)

    def close(self) -> None:
        """Disconnect."""
        self._client.disconnect()
        self._client.loop_stop()


def wait_until(predicate: Callable[[], bool], timeout_s: float, interval_s: float = 0.05) -> bool:
    """Poll predicate until true or the timeout passes; returns its last value."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval_s)
    return predicate()

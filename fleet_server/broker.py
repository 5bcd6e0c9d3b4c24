"""The embedded MQTT broker: Mosquitto as a child process when installed, amqtt otherwise.

Production points the server at Mosquitto or EMQX instead (`FLEET_MQTT_URL`). The
embedded broker never runs on the server's event loop: Mosquitto is its own process and
amqtt gets its own thread with its own loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)

LOCALHOST = "127.0.0.1"


class BrokerStartError(RuntimeError):
    """The embedded broker could not be started."""


def port_is_free(host: str, port: int) -> bool:
    """True when nothing listens on host:port and we may bind it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def find_free_port(host: str = LOCALHOST) -> int:
    """A TCP port the OS says is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(host: str, port: int, timeout_s: float) -> bool:
    """Poll until a TCP listener accepts on host:port, or the timeout passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return True
        time.sleep(0.05)
    return False


PACKET_OVERHEAD_BYTES = 4096
"""Room for the fixed header, topic and properties on top of the largest payload."""


@dataclass(frozen=True)
class BrokerTls:
    """A TLS listener: the broker's certificate and key, and optionally a CA for client certs."""

    port: int
    cert_file: Path
    key_file: Path
    ca_file: Path | None = None
    require_client_cert: bool = False


def security_config(
    *,
    password_file: Path | None,
    acl_file: Path | None,
    max_payload_bytes: int | None = None,
    tls: BrokerTls | None = None,
    tls_host: str | None = None,
) -> list[str]:
    """Mosquitto configuration lines for accounts, ACL, packet limit and a TLS listener."""
    lines = []
    if password_file is not None:
        lines += ["allow_anonymous false", f"password_file {password_file}"]
    if acl_file is not None:
        lines.append(f"acl_file {acl_file}")
    if max_payload_bytes is not None:
        # Mosquitto 2: max_packet_size replaces message_size_limit; the client whose packet
        # is larger is disconnected.
        lines.append(f"max_packet_size {max_payload_bytes + PACKET_OVERHEAD_BYTES}")
    if tls is not None:
        lines.append(f"listener {tls.port}" + (f" {tls_host}" if tls_host else ""))
        lines += [f"certfile {tls.cert_file}", f"keyfile {tls.key_file}"]
        if tls.ca_file is not None:
            lines.append(f"cafile {tls.ca_file}")
        lines.append(f"require_certificate {'true' if tls.require_client_cert else 'false'}")
    return lines


def _run_as_current_user() -> list[str]:
    # Started as root, Mosquitto switches to the user `mosquitto`, which may not exist and
    # cannot read our files (owner-only: they hold password hashes).
    if os.geteuid() != 0:
        return []
    return [f"user {pwd.getpwuid(os.geteuid()).pw_name}"]


class EmbeddedBroker(Protocol):
    """A broker this process owns for as long as it runs."""

    kind: str
    host: str
    port: int

    def start(self) -> None: ...

    def stop(self) -> None: ...


class MosquittoBroker:
    """A Mosquitto child process listening on 127.0.0.1 only."""

    kind = "mosquitto"

    def __init__(
        self,
        port: int,
        *,
        binary: str | None = None,
        extra_config: str = "",
        allow_anonymous: bool = True,
        password_file: Path | None = None,
        acl_file: Path | None = None,
        max_payload_bytes: int | None = None,
        tls: BrokerTls | None = None,
    ) -> None:
        """`password_file` turns anonymous access off; `acl_file` limits each account's
        topics (both re-read on `reload`)."""
        self.host = LOCALHOST
        self.port = port
        self._binary = binary or shutil.which("mosquitto") or "mosquitto"
        self._extra_config = extra_config
        self._allow_anonymous = allow_anonymous
        self._protected = password_file is not None
        self._security = security_config(
            password_file=password_file,
            acl_file=acl_file,
            max_payload_bytes=max_payload_bytes,
            tls=tls,
            tls_host=self.host,
        )
        self.tls = tls
        self._process: subprocess.Popen[bytes] | None = None
        self._workdir: tempfile.TemporaryDirectory[str] | None = None

    def config_text(self) -> str:
        """The configuration file this broker runs with."""
        # Without TCP_NODELAY, Nagle's algorithm delays small state messages: p99 latency
        # rose from 3 ms to 40 ms at 1,000 clients in our measurement.
        lines = [
            f"listener {self.port} {self.host}",
            "set_tcp_nodelay true",
            "persistence false",
            "max_queued_messages 10000",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            *_run_as_current_user(),
            *self._security,
        ]
        if not self._protected:
            lines.insert(1, f"allow_anonymous {'true' if self._allow_anonymous else 'false'}")
        return "\n".join(lines) + "\n" + self._extra_config

    def start(self) -> None:
        """Start the process and wait until it accepts connections."""
        self._workdir = tempfile.TemporaryDirectory(prefix="fleet-mosquitto-")
        conf = Path(self._workdir.name) / "mosquitto.conf"
        conf.write_text(self.config_text())
        self._process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            [self._binary, "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        if not wait_for_port(self.host, self.port, timeout_s=10.0):
            err = self._collect_stderr()
            self.stop()
            raise BrokerStartError(f"mosquitto did not listen on {self.host}:{self.port}: {err}")
        log.info("embedded broker: mosquitto on %s:%s (pid %s)", self.host, self.port, self.pid)

    def reload(self) -> None:
        """Make Mosquitto re-read its password and ACL files (SIGHUP)."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGHUP)

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs."""
        return self._process.pid if self._process else None

    def _collect_stderr(self) -> str:
        if self._process is None or self._process.stderr is None:
            return ""
        if self._process.poll() is None:
            return "(still running)"
        return self._process.stderr.read().decode(errors="replace").strip()

    def stop(self) -> None:
        """Terminate the process and remove its configuration."""
        if self._process is not None:
            if self._process.poll() is None:
                self._process.terminate()
                try:
                    self._process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait(timeout=5)
            if self._process.stderr is not None:
                self._process.stderr.close()
            self._process = None
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None


class AmqttBroker:
    """amqtt, the pure-Python broker, in a thread with its own event loop.

    Two amqtt 0.12 behaviours that clients must guard against: it delivers at the
    subscriber's QoS rather than the minimum of publish and subscribe QoS, and a client
    that subscribed to nothing may still be sent retained messages matching other clients'
    subscriptions. Our clients therefore dispatch strictly by topic and ignore anything
    that is not theirs.
    """

    kind = "amqtt"

    def __init__(self, port: int) -> None:
        self.host = LOCALHOST
        self.port = port
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._broker: Any = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def _config(self) -> dict[str, Any]:
        return {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }

    def _run(self) -> None:
        from amqtt.broker import Broker

        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)

        async def start() -> None:
            self._broker = Broker(self._config(), loop=loop)
            await self._broker.start()

        try:
            loop.run_until_complete(start())
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    def start(self) -> None:
        """Start the broker thread and wait until it accepts connections."""
        # amqtt logs every packet at INFO with f-strings; keep it to warnings.
        logging.getLogger("amqtt").setLevel(logging.WARNING)
        logging.getLogger("transitions").setLevel(logging.WARNING)
        self._thread = threading.Thread(target=self._run, name="amqtt-broker", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=15)
        if self._error is not None:
            raise BrokerStartError(
                f"amqtt could not start on {self.host}:{self.port}: {self._error}"
            )
        if not self._ready.is_set():
            self.stop()
            raise BrokerStartError(f"amqtt did not start on {self.host}:{self.port} within 15 s")
        # Broker.start() returns once its listeners are bound, so no probe connection is
        # needed (amqtt logs an error for a connection that sends no CONNECT).
        log.info("embedded broker: amqtt on %s:%s", self.host, self.port)

    def stop(self) -> None:
        """Shut the broker down and join its thread."""
        loop, broker = self._loop, self._broker
        if loop is not None and broker is not None and loop.is_running():
            future = asyncio.run_coroutine_threadsafe(broker.shutdown(), loop)
            with contextlib.suppress(Exception):
                future.result(timeout=10)
            loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._thread = None
        self._loop = None
        self._broker = None


def make_embedded_broker(port: int, prefer: str = "auto") -> EmbeddedBroker:
    """Mosquitto when its binary is on PATH (or asked for), amqtt otherwise."""
    if prefer == "mosquitto" or (prefer == "auto" and shutil.which("mosquitto")):
        return MosquittoBroker(port)
    return AmqttBroker(port)

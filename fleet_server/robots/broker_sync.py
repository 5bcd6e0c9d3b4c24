"""Keeps the embedded Mosquitto's password and ACL files in step with the robot registry.

The files are written once before the broker starts, then again (and Mosquitto sent
SIGHUP) whenever the robot directory announces a robot registered, changed, retired or
given new credentials. Changes that arrive together are written once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from fleet_server.auth.passwords import generate_password
from fleet_server.broker import (
    AmqttBroker,
    BrokerStartError,
    BrokerTls,
    EmbeddedBroker,
    MosquittoBroker,
)
from fleet_server.robots.broker_accounts import (
    BrokerFiles,
    RobotAccount,
    ServerAccount,
    mosquitto_hash,
    render_broker_files,
    write_broker_files,
)
from fleet_server.robots.directory import RegisteredRobot, RobotDirectory
from fleet_server.settings import MqttEndpoint, Settings

log = logging.getLogger(__name__)

AMQTT_CANNOT_ENFORCE = (
    "the amqtt broker cannot enforce per-robot accounts and topic rules; install Mosquitto "
    "(FLEET_EMBEDDED_MQTT_BROKER=mosquitto) or set FLEET_EMBEDDED_MQTT_AUTH=off"
)

DEBOUNCE_S = 0.1


class Reloadable(Protocol):
    """A broker that re-reads its password and ACL files on request."""

    def reload(self) -> None: ...


def robot_accounts(directory: RobotDirectory) -> list[RobotAccount]:
    """Every robot that may connect: registered, not retired, with a broker hash."""
    return [
        RobotAccount(entry.manufacturer, entry.serial_number, entry.broker_password_hash)
        for entry in directory
        if not entry.decommissioned and entry.broker_password_hash is not None
    ]


class BrokerAccountSync:
    """Writes the broker's files from the directory and reloads the broker after changes."""

    def __init__(
        self, directory: RobotDirectory, files_dir: Path, interface: str, server: ServerAccount
    ) -> None:
        self.directory = directory
        self.files_dir = files_dir
        self.interface = interface
        self.server = server
        self.broker: Reloadable | None = None
        self.reloads = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: asyncio.Task[None] | None = None
        self._remove_listener: Callable[[], None] | None = None
        self._announced_skips: set[str] = set()
        self._dirty = False

    @property
    def password_file(self) -> Path:
        """Where the password file is written."""
        return self.files_dir / "passwd"

    @property
    def acl_file(self) -> Path:
        """Where the ACL file is written."""
        return self.files_dir / "acl"

    def write(self) -> BrokerFiles:
        """Render and write both files now (blocking, small)."""
        files = render_broker_files(self.interface, self.server, robot_accounts(self.directory))
        write_broker_files(self.files_dir, files)
        for username, why in files.skipped:
            if username not in self._announced_skips:
                self._announced_skips.add(username)
                log.warning("robot %s gets no broker account: %s", username, why)
        return files

    async def sync(self) -> None:
        """Write the files and make the broker re-read them."""
        await asyncio.to_thread(self.write)
        if self.broker is not None:
            self.broker.reload()
            self.reloads += 1

    def start(self, broker: Reloadable) -> None:
        """Follow the directory (call on the event loop, after the broker started)."""
        self.broker = broker
        self._loop = asyncio.get_running_loop()
        self._remove_listener = self.directory.add_listener(self._on_directory_change)

    async def stop(self) -> None:
        """Stop following the directory."""
        if self._remove_listener is not None:
            self._remove_listener()
            self._remove_listener = None
        if self._pending is not None:
            self._pending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pending

    def _on_directory_change(self, _entry: RegisteredRobot) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._schedule)

    def _schedule(self) -> None:
        self._dirty = True
        if self._pending is None or self._pending.done():
            self._pending = asyncio.create_task(self._sync_while_dirty(), name="broker-sync")

    async def _sync_while_dirty(self) -> None:
        # A change announced while the files are written is caught by the next round.
        while self._dirty:
            await asyncio.sleep(DEBOUNCE_S)
            self._dirty = False
            try:
                await self.sync()
            except Exception:
                log.exception("writing the broker's password and ACL files failed")


@dataclass
class EmbeddedSetup:
    """The embedded broker, its account files (None without auth) and how the server connects."""

    broker: EmbeddedBroker
    accounts: BrokerAccountSync | None
    endpoint: MqttEndpoint


def embedded_broker_kind(settings: Settings) -> str:
    """`mosquitto` or `amqtt`: what `FLEET_EMBEDDED_MQTT_BROKER` resolves to on this machine."""
    prefer = settings.embedded_mqtt_broker
    if prefer == "mosquitto" or (prefer == "auto" and shutil.which("mosquitto")):
        return "mosquitto"
    return "amqtt"


def broker_tls_from_settings(settings: Settings) -> BrokerTls | None:
    """The broker's TLS listener the `FLEET_BROKER_TLS_*` settings describe, if any."""
    if settings.broker_tls_port is None:
        return None
    assert settings.broker_tls_cert_file is not None  # noqa: S101 - checked by Settings
    assert settings.broker_tls_key_file is not None  # noqa: S101
    return BrokerTls(
        port=settings.broker_tls_port,
        cert_file=settings.broker_tls_cert_file,
        key_file=settings.broker_tls_key_file,
        ca_file=settings.broker_tls_ca_file,
        require_client_cert=settings.broker_tls_require_client_cert,
    )


def plan_embedded_broker(
    settings: Settings, directory: RobotDirectory, files_dir: Path
) -> EmbeddedSetup:
    """The embedded broker as the settings ask: with per-robot accounts and the ACL when
    auth is on (files written to `files_dir` now), a TLS listener when configured."""
    kind = embedded_broker_kind(settings)
    auth = settings.embedded_mqtt_auth == "on" or (
        settings.embedded_mqtt_auth == "auto" and kind == "mosquitto"
    )
    endpoint = settings.mqtt_endpoint()
    if kind == "amqtt":
        if auth:
            raise BrokerStartError(AMQTT_CANNOT_ENFORCE)
        if settings.broker_tls_port is not None:
            raise BrokerStartError("FLEET_BROKER_TLS_PORT needs Mosquitto as the embedded broker")
        log.warning("embedded amqtt broker: any client may connect (no robot accounts)")
        return EmbeddedSetup(AmqttBroker(settings.embedded_mqtt_port), None, endpoint)
    accounts = None
    password_file = acl_file = None
    if auth:
        password = (
            settings.mqtt_password.get_secret_value()
            if settings.mqtt_password is not None
            else generate_password()
        )
        server = ServerAccount(settings.mqtt_username, mosquitto_hash(password))
        accounts = BrokerAccountSync(directory, files_dir, settings.vda_interface, server)
        accounts.write()
        password_file, acl_file = accounts.password_file, accounts.acl_file
        endpoint = endpoint.model_copy(
            update={"username": settings.mqtt_username, "password": password}
        )
    else:
        log.warning("embedded broker without robot accounts (FLEET_EMBEDDED_MQTT_AUTH=off)")
    broker = MosquittoBroker(
        settings.embedded_mqtt_port,
        password_file=password_file,
        acl_file=acl_file,
        max_payload_bytes=settings.mqtt_max_payload_bytes,
        tls=broker_tls_from_settings(settings),
    )
    return EmbeddedSetup(broker, accounts, endpoint)


@contextlib.asynccontextmanager
async def running_embedded_broker(
    settings: Settings, directory: RobotDirectory
) -> AsyncIterator[EmbeddedSetup]:
    """The embedded broker, started, following the registry while the context lasts."""
    with tempfile.TemporaryDirectory(prefix="fleet-broker-accounts-") as files_dir:
        setup = await asyncio.to_thread(plan_embedded_broker, settings, directory, Path(files_dir))
        await asyncio.to_thread(setup.broker.start)
        try:
            if setup.accounts is not None and isinstance(setup.broker, MosquittoBroker):
                setup.accounts.start(setup.broker)
                # A robot registered between writing the files and starting to listen.
                await setup.accounts.sync()
            yield setup
        finally:
            if setup.accounts is not None:
                await setup.accounts.stop()
            await asyncio.to_thread(setup.broker.stop)

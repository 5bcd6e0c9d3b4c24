"""An in-memory copy of the robot registry, for code on the event loop that must not query.

Alarms and telemetry look up every robot that reports; the directory answers from memory.
It is loaded at startup, updated by the robots API after each commit, and reloaded every
`refresh_s` so robots registered by other means (the demo, the CLI, another replica) are
known soon. Reads take no lock: writers replace the whole mapping (copy on write).
Listeners hear of every robot that is new or changed, on whichever thread changed it; a
robot that disappeared from the database is announced as decommissioned.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet_server.db import Database
from fleet_server.db.models import Robot
from fleet_server.db.outage import OutageLog
from fleet_server.fleet.live_state import RobotKey

log = logging.getLogger(__name__)

REFRESH_S = 10.0
MIN_RELOAD_INTERVAL_S = 1.0


@dataclass(frozen=True, slots=True)
class RegisteredRobot:
    """What the loop needs to know of a registered robot."""

    id: int
    manufacturer: str
    serial_number: str
    site_id: str | None
    decommissioned: bool
    broker_password_hash: str | None = field(default=None, repr=False)
    """Mosquitto hash of its MQTT password (None: it has no broker account)."""

    @property
    def key(self) -> RobotKey:
        """(manufacturer, serial number)."""
        return (self.manufacturer, self.serial_number)

    @classmethod
    def of(cls, robot: Robot) -> RegisteredRobot:
        """The entry for a robot row."""
        return cls(
            robot.id,
            robot.manufacturer,
            robot.serial_number,
            robot.site_id,
            robot.decommissioned,
            robot.broker_password_hash,
        )


DirectoryListener = Callable[[RegisteredRobot], None]


class RobotDirectory:
    """Registered robots by identity."""

    def __init__(self) -> None:
        self._robots: dict[RobotKey, RegisteredRobot] = {}
        self._write_lock = threading.Lock()
        self._listeners: list[DirectoryListener] = []
        self._reload_wanted: asyncio.Event | None = None

    def __len__(self) -> int:
        return len(self._robots)

    def __iter__(self) -> Iterator[RegisteredRobot]:
        return iter(list(self._robots.values()))

    def admits(self, key: RobotKey) -> bool:
        """Whether the robot is registered and not decommissioned (hot path: one lookup)."""
        entry = self._robots.get(key)
        return entry is not None and not entry.decommissioned

    def reload_soon(self) -> None:
        """Ask the running directory to re-read the database now rather than at its next
        refresh (call on the event loop; e.g. when an unknown robot reports, since it may
        have been registered by the CLI a moment ago)."""
        if self._reload_wanted is not None:
            self._reload_wanted.set()

    def get(self, key: RobotKey) -> RegisteredRobot | None:
        """The registered robot with that identity, if any."""
        return self._robots.get(key)

    def add_listener(self, listener: DirectoryListener) -> Callable[[], None]:
        """Call listener(entry) for each robot that is added or changed; returns a remover."""
        self._listeners = [*self._listeners, listener]

        def remove() -> None:
            self._listeners = [x for x in self._listeners if x is not listener]

        return remove

    def _replace(self, entries: Iterable[RegisteredRobot], *, everything: bool) -> None:
        with self._write_lock:
            old = self._robots
            new = {} if everything else dict(old)
            for entry in entries:
                new[entry.key] = entry
            self._robots = new
        for entry in new.values():
            if old.get(entry.key) != entry:
                self._announce(entry)
        for key, entry in old.items():
            if key not in new:
                self._announce(replace(entry, decommissioned=True, broker_password_hash=None))

    def _announce(self, entry: RegisteredRobot) -> None:
        for listener in self._listeners:
            try:
                listener(entry)
            except Exception:
                log.exception("robot directory listener failed for %s/%s", *entry.key)

    def load(self, session: Session) -> None:
        """Replace the contents with every robot in the database."""
        self._replace(
            (RegisteredRobot.of(r) for r in session.scalars(select(Robot))), everything=True
        )

    def put(self, robot: Robot) -> RegisteredRobot:
        """Add or replace one robot (after its row was committed)."""
        entry = RegisteredRobot.of(robot)
        self._replace([entry], everything=False)
        return entry


def load_directory(db: Database, directory: RobotDirectory | None = None) -> RobotDirectory:
    """A directory (re)filled from the database (blocking: call it off the event loop)."""
    if directory is None:  # not `or`: an empty directory is falsy
        directory = RobotDirectory()
    with db.session() as session:
        directory.load(session)
    return directory


@contextlib.asynccontextmanager
async def running_directory(
    db: Database, refresh_s: float = REFRESH_S, min_interval_s: float = MIN_RELOAD_INTERVAL_S
) -> AsyncIterator[RobotDirectory]:
    """A directory loaded now and reloaded every `refresh_s` while the context lasts, and
    at most every `min_interval_s` when `reload_soon` asks."""
    directory = await asyncio.to_thread(load_directory, db)
    wanted = directory._reload_wanted = asyncio.Event()

    async def refresh() -> None:
        outage = OutageLog(log, "robot directory")
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wanted.wait(), refresh_s)
            wanted.clear()
            try:
                await asyncio.to_thread(load_directory, db, directory)
            except Exception as exc:
                outage.failed(exc, "reloading the robot directory failed")
            else:
                outage.succeeded()
            # Robots inventing identities must not turn into a database query each.
            await asyncio.sleep(min_interval_s)

    task = asyncio.create_task(refresh(), name="robot-directory")
    try:
        yield directory
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

"""An in-memory copy of the robot registry, for code on the event loop that must not query.

Alarms and telemetry look up every robot that reports; the directory answers from memory.
It is loaded at startup and updated by the robots API after each commit. Reads take no
lock: writers replace the whole mapping (copy on write).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet_server.db import Database
from fleet_server.db.models import Robot
from fleet_server.fleet.live_state import RobotKey


@dataclass(frozen=True, slots=True)
class RegisteredRobot:
    """What the loop needs to know of a registered robot."""

    id: int
    manufacturer: str
    serial_number: str
    site_id: str | None
    decommissioned: bool

    @property
    def key(self) -> RobotKey:
        """(manufacturer, serial number)."""
        return (self.manufacturer, self.serial_number)

    @classmethod
    def of(cls, robot: Robot) -> RegisteredRobot:
        """The entry for a robot row."""
        return cls(
            robot.id, robot.manufacturer, robot.serial_number, robot.site_id, robot.decommissioned
        )


class RobotDirectory:
    """Registered robots by identity."""

    def __init__(self) -> None:
        self._robots: dict[RobotKey, RegisteredRobot] = {}
        self._write_lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._robots)

    def load(self, session: Session) -> None:
        """Replace the contents with every robot in the database."""
        robots = {(r.manufacturer, r.serial_number): RegisteredRobot.of(r) for r in _all(session)}
        with self._write_lock:
            self._robots = robots

    def get(self, key: RobotKey) -> RegisteredRobot | None:
        """The registered robot with that identity, if any."""
        return self._robots.get(key)

    def put(self, robot: Robot) -> RegisteredRobot:
        """Add or replace one robot (after its row was committed)."""
        entry = RegisteredRobot.of(robot)
        with self._write_lock:
            self._robots = {**self._robots, entry.key: entry}
        return entry


def _all(session: Session) -> list[Robot]:
    return list(session.scalars(select(Robot)))


def load_directory(db: Database) -> RobotDirectory:
    """A directory filled from the database (blocking: call it off the event loop)."""
    directory = RobotDirectory()
    with db.session() as session:
        directory.load(session)
    return directory

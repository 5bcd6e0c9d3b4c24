"""Which site each robot works at, read from the registry off the event loop.

The live stream routes a robot's updates by its site many times a second; asking the
database each time is out of the question, so a copy of the registry's robot → site map
is kept in memory and replaced whole every few seconds (readers never see it half-built).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from fleet_server.db import Database
from fleet_server.db.models import Robot, Site
from fleet_server.fleet.live_state import RobotKey


@dataclass(frozen=True)
class Directory:
    """One reading of the registry: sites, and where each registered robot belongs."""

    sites: frozenset[str] = frozenset()
    site_of_robot: dict[RobotKey, str | None] = field(default_factory=dict)
    key_of_robot_id: dict[int, RobotKey] = field(default_factory=dict)

    def robots_at(self, site_id: str) -> list[RobotKey]:
        """Registered robots of a site."""
        return [key for key, site in self.site_of_robot.items() if site == site_id]

    def moved_robots(self, newer: Directory) -> dict[RobotKey, str | None]:
        """Robots whose site differs in `newer`, with the site they had here."""
        return {
            key: old
            for key, old in self.site_of_robot.items()
            if newer.site_of_robot.get(key) != old
        } | {key: None for key in newer.site_of_robot.keys() - self.site_of_robot.keys()}


def read_directory(db: Database) -> Directory:
    """Read sites and robots (blocking: run it in a worker thread).

    Decommissioned robots belong to no site any more, but old missions still name them.
    """
    with db.session() as session:
        sites = frozenset(session.scalars(select(Site.id)))
        rows = session.execute(
            select(
                Robot.id,
                Robot.manufacturer,
                Robot.serial_number,
                Robot.site_id,
                Robot.decommissioned,
            )
        )
        site_of: dict[RobotKey, str | None] = {}
        key_of: dict[int, RobotKey] = {}
        for robot_id, manufacturer, serial_number, site_id, decommissioned in rows:
            key = (manufacturer, serial_number)
            key_of[robot_id] = key
            if not decommissioned:
                site_of[key] = site_id
    return Directory(sites=sites, site_of_robot=site_of, key_of_robot_id=key_of)

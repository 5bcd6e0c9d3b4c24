"""Registering robots straight in a running server's database, for tests that publish as them.

Ingest admits registered robots only, and it learns of registrations through the robot
directory; a test that bypasses the API therefore stores the row and puts it in the
directory at once.
"""

from __future__ import annotations

from collections.abc import Iterable

from fleet_server.db.models import Robot
from fleet_server.robots.registry import register_robot
from fleet_server.services import FleetServices
from missions.types import Capability


def admit_robots(
    services: FleetServices,
    manufacturer: str,
    serials: Iterable[str],
    *,
    site_id: str | None = None,
    kind: str = "patrol",
    capabilities: tuple[Capability, ...] = (Capability.PATROL,),
) -> list[Robot]:
    """Register the robots (committed) and put them in the directory ingest consults."""
    with services.db.session() as session:
        robots = [
            register_robot(
                session,
                services.auth.hasher,
                manufacturer=manufacturer,
                serial_number=serial,
                kind=kind,
                capabilities=list(capabilities),
                site_id=site_id,
            ).robot
            for serial in serials
        ]
        session.commit()
        for robot in robots:
            services.robots.put(robot)
    return robots

"""A server's stored side for runtime tests: a migrated SQLite database with the clinic
(as ``clinic`` and, with its rooms drawn in, as ``quiet-clinic``), and mission rows.

Runtimes made by :meth:`Server.runtime` start with nothing in memory, as after a restart;
given a `LinkWorld`'s live fleet and order publisher they drive its robots.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from fleet_server.db import Database, upgrade_to_head
from fleet_server.db.models import Mission, Robot
from fleet_server.fleet.live_state import LiveFleet
from fleet_server.fleet.orders import OrderPublisher
from fleet_server.missions.runtime import MissionRuntime
from fleet_server.missions.states import MissionState
from fleet_server.sites.store import SiteStore
from tests.unit.fleet_server.missions.link_support import MANUFACTURER, SITE_ID, Wire
from tests.unit.fleet_server.traffic.traffic_support import fixture_site
from tests.unit.missions.compiler.compiler_support import clinic_with_rooms

QUIET_SITE = "quiet-clinic"
QUIET = clinic_with_rooms(fixture_site("clinic")).model_copy(update={"name": "quiet clinic"})
"""The clinic with its rooms drawn in, as another site."""


@dataclass
class Server:
    """What a server keeps across a restart: its database and its sites."""

    db: Database
    sites: SiteStore

    def runtime(
        self, live: LiveFleet | None = None, orders: OrderPublisher | None = None
    ) -> MissionRuntime:
        """A freshly started runtime (nothing in memory) on the stored data."""
        live = live or LiveFleet(1e9)
        orders = orders or OrderPublisher(Wire(), live, "uagv")
        return MissionRuntime(self.db, live, orders, self.sites)

    def add_mission(
        self,
        serial: str,
        spec: dict[str, object],
        state: MissionState,
        *,
        site_id: str = SITE_ID,
        capabilities: tuple[str, ...] = ("patrol",),
    ) -> uuid.UUID:
        """A mission row in ``state`` for the robot ``acme/<serial>`` (registered if new)."""
        with self.db.session() as session:
            robot = (
                session.query(Robot)
                .filter_by(manufacturer=MANUFACTURER, serial_number=serial)
                .first()
            )
            if robot is None:
                robot = Robot(
                    manufacturer=MANUFACTURER,
                    serial_number=serial,
                    kind="service_robot",
                    capabilities=list(capabilities),
                    site_id=site_id,
                )
                session.add(robot)
                session.flush()
            mission = Mission(
                site_id=site_id, kind=str(spec["kind"]), spec=spec, state=state, robot_id=robot.id
            )
            session.add(mission)
            session.commit()
            return mission.id

    def state(self, mission_id: uuid.UUID) -> MissionState:
        with self.db.session() as session:
            mission = session.get(Mission, mission_id)
            assert mission is not None
            return MissionState(mission.state)


@contextlib.contextmanager
def stored_server(folder: Path) -> Iterator[Server]:
    """A fresh database in ``folder``, migrated, with the two sites."""
    url = f"sqlite:///{(folder / 'fleet.db').as_posix()}"
    upgrade_to_head(url)
    db = Database.open(url)
    sites = SiteStore(folder)
    with db.session() as session:
        sites.create(session, fixture_site("clinic"), folder, site_id=SITE_ID)
        sites.create(session, QUIET, folder, site_id=QUIET_SITE)
    try:
        yield Server(db, sites)
    finally:
        db.close()

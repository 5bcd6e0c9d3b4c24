"""Order recovery across a server restart, on a real SQLite database: the restarted runtime
follows again what the first one recorded."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from fleet_server.db import Database, upgrade_to_head
from fleet_server.db.models import Mission, MissionOrder, Robot
from fleet_server.fleet.live_state import LiveFleet
from fleet_server.fleet.orders import OrderPublisher
from fleet_server.missions.recovery import plan_digest
from fleet_server.missions.runtime import MissionRuntime, _Dispatch
from fleet_server.missions.states import MissionState
from fleet_server.sites.store import SiteStore
from missions.compiler import QuietHours, RobotProfile, StartPose, compile_mission
from missions.sites import Site
from missions.types import Capability, parse_mission
from tests.unit.fleet_server.missions.link_support import Wire
from tests.unit.fleet_server.traffic.traffic_support import fixture_site
from tests.unit.missions.compiler.compiler_support import clinic_with_rooms

QUIET_SITE = "quiet-clinic"


@dataclass
class Server:
    """What a server keeps across a restart: its database and its sites."""

    db: Database
    sites: SiteStore

    def runtime(self, live: LiveFleet | None = None) -> MissionRuntime:
        """A freshly started runtime (nothing in memory) on the stored data."""
        live = live or LiveFleet(1e9)
        return MissionRuntime(self.db, live, OrderPublisher(Wire(), live, "uagv"), self.sites)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("server")
    url = f"sqlite:///{(folder / 'fleet.db').as_posix()}"
    upgrade_to_head(url)
    db = Database.open(url)
    sites = SiteStore(folder)
    with db.session() as session:
        sites.create(session, clinic_with_rooms(fixture_site("clinic")), folder, site_id=QUIET_SITE)
    yield Server(db, sites)
    db.close()


def add_mission(
    server: Server, site_id: str, serial: str, spec: dict[str, object], state: MissionState
) -> uuid.UUID:
    """A mission row in ``state`` for the robot ``acme/<serial>`` (registered if new)."""
    with server.db.session() as session:
        robot = session.query(Robot).filter_by(manufacturer="acme", serial_number=serial).first()
        if robot is None:
            robot = Robot(
                manufacturer="acme",
                serial_number=serial,
                kind="service_robot",
                capabilities=["patrol"],
                site_id=site_id,
            )
            session.add(robot)
            session.flush()
        mission = Mission(
            site_id=site_id,
            kind=str(spec["kind"]),
            spec=spec,
            state=state,
            robot_id=robot.id,
        )
        session.add(mission)
        session.commit()
        return mission.id


def robot_profile(serial: str) -> RobotProfile:
    return RobotProfile(
        manufacturer="acme",
        serial_number=serial,
        kind="service_robot",
        capabilities=(Capability.PATROL,),
        max_speed_m_s=1.0,
    )


QUIET_ROOM = QuietHours({"treatment_1": ((0.0, 86_400.0),)})
"""Quiet in the room drawn around L1_left_treatment_1 for the next day."""


def test_an_order_with_actions_silenced_for_quiet_hours_is_followed_again(
    server: Server,
) -> None:
    site: Site = clinic_with_rooms(fixture_site("clinic"))
    spec = {
        "kind": "patrol",
        "site": QUIET_SITE,
        "dwell_s": 1,
        "checkpoints": [
            {"waypoint": "L1_right_nurse_center", "speak_on_arrival": "outside"},
            {"waypoint": "L1_left_treatment_1", "speak_on_arrival": "inside"},
        ],
    }
    mission_id = add_mission(server, QUIET_SITE, "q1", spec, MissionState.ACTIVE)
    profile = robot_profile("q1")
    compiled = compile_mission(
        parse_mission({**spec, "site": site.name}),
        site,
        profile,
        start=StartPose(waypoint="L1_left_nurse_center"),
        order_id=str(mission_id),
        quiet=QUIET_ROOM,
    )
    assert compiled.quiet_suppressed == ("speak",)
    compiled.order()
    first = server.runtime()
    first.recovery.record_dispatches(
        [_Dispatch(mission_id, ("acme", "q1"), compiled, QUIET_SITE, profile, quiet=QUIET_ROOM)]
    )
    first.close()
    # The same inputs without the quiet hours make another plan: the test means something.
    loud = compile_mission(
        parse_mission({**spec, "site": site.name}),
        site,
        profile,
        start=StartPose(waypoint="L1_left_nurse_center"),
        order_id=str(mission_id),
    )
    assert plan_digest(loud) != plan_digest(compiled)

    # Restarted when the quiet hours are over (or changed): the order is the recorded one.
    restarted = server.runtime()
    asyncio.run(restarted.recovery.adopt_live_missions())
    assert restarted.recovery.requeued == 0
    run = restarted.running[mission_id]
    assert plan_digest(run.compiled) == plan_digest(compiled)
    assert run.compiled.quiet_suppressed == ("speak",)
    assert run.quiet == QUIET_ROOM
    # An update recorded by the restarted runtime keeps the quiet hours for the next restart.
    update = run.compiled.order_update(1, None)
    restarted.recovery.record_follow_ups([(("acme", "q1"), update)], [run])
    restarted.close()
    again = server.runtime()
    asyncio.run(again.recovery.adopt_live_missions())
    assert again.recovery.requeued == 0
    assert plan_digest(again.running[mission_id].compiled) == plan_digest(compiled)
    again.close()
    with server.db.session() as session:
        mission = session.get(Mission, mission_id)
        assert mission is not None and mission.state == MissionState.ACTIVE
        row = session.get(MissionOrder, mission_id)
        assert row is not None and row.order_update_id == 1


def test_recorded_quiet_hours_that_are_not_quiet_hours_are_refused_naming_the_field() -> None:
    from fleet_server.missions.recovery import read_start

    with pytest.raises(ValueError, match=r"start\.quiet_hours"):
        read_start({"waypoint": "L1:396", "quiet_hours": {"windows": {"a": [[5, "x"]]}}})
    pose, quiet = read_start({"waypoint": "L1:396"})
    assert pose == StartPose(waypoint="L1:396") and quiet is None

"""What a mission that stopped part-way had done survives a server restart (revision 0008).

The real mission runtime on a real database (SQLite and PostgreSQL), the clinic map, and
robots running the real agent's executor on kinematic bodies, stepped in lockstep on one
clock. Orders leave through the real `OrderPublisher` into a recording stand-in for MQTT
(the true edge) and reach the robots as JSON; their states go back through the real
`LiveFleet`. A "restart" drops the runtime, its live state and publisher and builds new
ones on the same database, while the robots carry on.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from fleet_server.db import Database, upgrade_to_head
from fleet_server.db.models import Mission, MissionEvent, Robot
from fleet_server.fleet.live_state import LiveFleet
from fleet_server.fleet.orders import OrderPublisher
from fleet_server.missions.queries import create_mission
from fleet_server.missions.resume import order_id_for, what_is_left
from fleet_server.missions.resume_store import (
    count_part_sent,
    keep_resumption,
    order_part,
    resumption_of_order,
    stored_resumption,
)
from fleet_server.missions.runtime import MissionRuntime
from fleet_server.sites.store import SiteStore
from missions.compiler import RobotProfile, StartPose, compile_mission
from missions.report import build_disinfection_report
from missions.sites import import_site
from missions.types import Capability, DisinfectionMission, dump_mission, parse_mission
from missions.vda5050 import (
    ActionStatus,
    ConnectionState,
    Order,
    decode_instant_actions,
    decode_order,
)
from robot_agent.agent import Agent
from robot_agent.config import AgentConfig, RobotDescription
from sim.adapter import SimAdapter, SimSurroundings
from sim.kinematic import KinematicRobot
from tests.unit.fleet_server.db.databases import BACKENDS, temporary_database
from tests.unit.fleet_server.missions.link_support import Wire
from tests.unit.missions.compiler.compiler_support import clinic_with_rooms

RMF = Path(__file__).resolve().parents[3] / "fixtures" / "maps" / "rmf"
SITE = import_site(RMF / "clinic.building.yaml", kind="hospital")
SITE_ID = "clinic"
MAKER = "fleetsim"
TARGETS = ["L1_left_negative_air_pressure", "L1_sub_waiting_area_1", "L1_sub_waiting_area_3"]
UV_ROUND: dict[str, Any] = {
    "kind": "disinfection",
    "site": SITE.name,
    "method": "uv",
    "target_dose_mj_cm2": 10,
    "targets": [{"waypoint": w} for w in TARGETS],
}


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    with temporary_database(request.param, tmp_path) as url:
        upgrade_to_head(url)
        db = Database.open(url)
        with db.session() as session:
            SiteStore(tmp_path).create(session, SITE, tmp_path, site_id=SITE_ID)
            for serial in ("uv-1", "uv-2"):
                session.add(
                    Robot(
                        manufacturer=MAKER,
                        serial_number=serial,
                        kind="uv_robot",
                        capabilities=["uv_disinfection"],
                        site_id=SITE_ID,
                    )
                )
            session.commit()
        yield db
        db.close()


@dataclass
class Server:
    """One lifetime of the server: its runtime, live state and publisher."""

    runtime: MissionRuntime
    live: LiveFleet
    wire: Wire
    read: int = 0

    def orders(self) -> list[Order]:
        """Every order and order update sent."""
        return [decode_order(p) for t, p in self.wire.sent if t.endswith("/order")]

    def order_ids(self) -> list[str]:
        """The orderIds sent, in order."""
        return list(dict.fromkeys(order.order_id for order in self.orders()))


@dataclass
class Clinic:
    """Robots that outlive servers, and the server of the moment."""

    db: Database
    data_dir: Path
    t: float = 0.0
    bodies: dict[str, tuple[KinematicRobot, Agent]] = field(default_factory=dict)
    online: set[str] = field(default_factory=set)
    deaf: set[str] = field(default_factory=set)
    """Robots whose messages from the server are lost on the way."""
    server: Server | None = None
    servers: list[Server] = field(default_factory=list)

    def robot(self, serial: str, waypoint: str) -> None:
        wp = next(w for w in SITE.all_waypoints() if w.name == waypoint)
        body = KinematicRobot(x=wp.x, y=wp.y, map_id=wp.level, max_speed_m_s=2.0, accel_m_s2=2.0)
        config = AgentConfig(
            manufacturer=MAKER,
            serial_number=serial,
            robot=RobotDescription(capabilities=[Capability.UV_DISINFECTION]),
        )
        agent = Agent(config, SimAdapter(body, SimSurroundings()), monotonic=lambda: self.t)
        self.bodies[serial] = (body, agent)

    async def start_server(self) -> Server:
        """A new server on the database, which re-adopts live missions as at start-up."""
        if self.server is not None:
            self.server.runtime.close()
        live = LiveFleet(1e9)
        wire = Wire()
        orders = OrderPublisher(wire, live, "uagv", echo_timeout_s=1e6)
        runtime = MissionRuntime(
            self.db,
            live,
            orders,
            SiteStore(self.data_dir),
            reassign_after_s=2.0,
            monotonic=lambda: self.t,
        )
        self.server = Server(runtime, live, wire)
        self.servers.append(self.server)
        for serial in self.online:
            self.connect(serial)
        runtime._loop = asyncio.get_running_loop()  # what `run()` sets before adopting
        await runtime.recovery.adopt_live_missions()
        return self.server

    def connect(self, serial: str) -> None:
        assert self.server is not None
        self.online.add(serial)
        key = (MAKER, serial)
        self.server.live.apply_connection(key, ConnectionState.ONLINE, self.t)
        self.server.live.apply_state(key, self.bodies[serial][1].build_state(), self.t)

    def cut(self, serial: str) -> None:
        """The robot drops off the network (its broker's last will) and stands still."""
        assert self.server is not None
        self.online.discard(serial)
        self.server.live.apply_connection((MAKER, serial), ConnectionState.CONNECTIONBROKEN, self.t)

    def deliver(self) -> None:
        server = self.server
        assert server is not None
        while server.read < len(server.wire.sent):
            topic, payload = server.wire.sent[server.read]
            server.read += 1
            serial, kind = topic.split("/")[3:5]
            if serial not in self.online or serial in self.deaf:
                continue
            executor = self.bodies[serial][1].executor
            if kind == "order":
                executor.receive_order(decode_order(payload))
            elif kind == "instantActions":
                executor.receive_instant_actions(decode_instant_actions(payload))

    async def step(self, dt: float = 0.25) -> None:
        server = self.server
        assert server is not None
        self.t += dt
        for serial in self.online:
            body, agent = self.bodies[serial]
            body.step(dt)
            agent.executor.tick()
            server.live.apply_state((MAKER, serial), agent.build_state(), self.t)
        self.deliver()
        await server.runtime.step()
        self.deliver()

    async def until(self, done: Any, limit_s: float, what: str) -> None:
        end = self.t + limit_s
        while not done():
            assert self.t < end, f"not within {limit_s} s: {what}"
            await self.step()

    def uv_finished(self, serial: str) -> int:
        state = self.bodies[serial][1].build_state()
        return sum(
            a.action_type == "uvDisinfect" and a.action_status is ActionStatus.FINISHED
            for a in state.action_states
        )

    def uv_actions(self, order_id: str) -> list[str]:
        """The uvDisinfect actionIds of an order and its updates, whichever server sent them."""
        ids = [
            a.action_id
            for server in self.servers
            for order in server.orders()
            if order.order_id == order_id
            for n in order.nodes
            for a in n.actions
            if a.action_type == "uvDisinfect"
        ]
        return list(dict.fromkeys(ids))

    def mission(self, mission_id: uuid.UUID) -> Mission:
        with self.db.session() as session:
            mission = session.get(Mission, mission_id)
            assert mission is not None
            return mission

    def causes(self, mission_id: uuid.UUID) -> str:
        with self.db.session() as session:
            query = select(MissionEvent.cause).where(MissionEvent.mission_id == mission_id)
            return " | ".join(session.scalars(query))


async def test_a_uv_round_reassigned_part_way_resumes_after_restarts(
    database: Database, tmp_path: Path
) -> None:
    clinic = Clinic(database, tmp_path)
    clinic.robot("uv-1", "L1_left_nurse_center")
    clinic.robot("uv-2", "L1_right_nurse_center")
    first = await clinic.start_server()
    clinic.connect("uv-1")
    with database.session() as session:
        mission_id = create_mission(session, parse_mission(UV_ROUND), SITE_ID, "test").id
        session.commit()

    # uv-1 does two of the three targets, then drops off the network for good.
    await clinic.until(lambda: clinic.uv_finished("uv-1") >= 2, 300, "uv-1 doses two targets")
    assert first.order_ids() == [str(mission_id)]
    clinic.cut("uv-1")
    await clinic.until(lambda: clinic.mission(mission_id).state == "pending", 30, "reassigned")
    assert clinic.mission(mission_id).resumption is not None

    # Restart; what is left (one target) goes out as the second part, but never reaches
    # uv-2, which is lost too: that part's orderId is used up all the same.
    second = await clinic.start_server()
    clinic.deaf.add("uv-2")
    clinic.connect("uv-2")
    await clinic.until(lambda: second.order_ids() != [], 60, "the second part is sent")
    assert second.order_ids() == [f"{mission_id}-part1"]
    assert "2 of 3 targets done; resumes at the next" in clinic.causes(mission_id)
    clinic.cut("uv-2")
    await clinic.until(lambda: clinic.mission(mission_id).state == "pending", 30, "reassigned")

    # uv-2 back and reachable: it takes the one target left as the third part.
    clinic.deaf.clear()
    clinic.connect("uv-2")
    await clinic.until(lambda: clinic.mission(mission_id).state == "active", 60, "uv-2 starts")
    assert second.order_ids() == [f"{mission_id}-part1", f"{mission_id}-part2"]

    # Restart again while uv-2 runs it: followed again, and the report covers all three.
    third = await clinic.start_server()
    await clinic.until(
        lambda: clinic.mission(mission_id).state in ("completed", "failed"), 300, "finished"
    )
    mission = clinic.mission(mission_id)
    assert mission.state == "completed", (clinic.causes(mission_id), mission.report)
    assert mission.report is not None and mission.report["passed"]
    assert third.order_ids() == [f"{mission_id}-part2"]  # its updates, no new orderId
    done_first = clinic.uv_actions(str(mission_id))[:2]
    (done_second,) = clinic.uv_actions(f"{mission_id}-part2")
    assert [p["action_id"] for p in mission.report["points"]] == [*done_first, done_second]
    assert all(p["passed"] for p in mission.report["points"])


# -- the stored form -------------------------------------------------------------------------

UV_PROFILE = RobotProfile(
    manufacturer=MAKER,
    serial_number="uv-1",
    capabilities=(Capability.UV_DISINFECTION,),
    max_speed_m_s=1.0,
    uv_irradiance_at_1m_mw_cm2=2.67,
)


def test_a_stored_resumption_reads_back_exactly_and_parts_keep_counting(
    database: Database,
) -> None:
    spec = parse_mission(
        {**UV_ROUND, "targets": [{"room": "treatment_1"}, {"waypoint": "L1_left_treatment_1"}]}
    )
    assert isinstance(spec, DisinfectionMission)
    compiled = compile_mission(
        spec,
        clinic_with_rooms(SITE),
        UV_PROFILE,
        start=StartPose(waypoint="L1_left_nurse_center"),
        order_id="m",
    )
    room_points = [p for p in compiled.planned_points if p.room == "treatment_1"]
    statuses = dict.fromkeys((p.action_id for p in room_points), ActionStatus.FINISHED)
    results = {p.action_id: None for p in room_points}
    left = what_is_left(compiled, statuses, results, None)
    assert left.carried_rooms and len(left.carried_points) == len(room_points)

    with database.session() as session:
        mission = create_mission(session, spec, SITE_ID, "test")
        keep_resumption(mission, left)
        session.commit()
        mission_id = mission.id
    with database.session() as session:
        stored = session.get(Mission, mission_id)
        assert stored is not None
        again = stored_resumption(stored, SITE.name)
        assert again is not None
        assert (again.spec, again.part, again.note) == (left.spec, 1, left.note)
        assert again.carried_points == left.carried_points
        assert again.carried_outcomes == left.carried_outcomes
        plan, read = left.carried_rooms["treatment_1"], again.carried_rooms["treatment_1"]
        for name in ("sample_xy", "sample_is_wall", "dose_rate"):
            assert np.array_equal(getattr(plan, name), getattr(read, name)), name
        assert (read.polygon, read.lamp, read.dwell_points) == (
            plan.polygon,
            plan.lamp,
            plan.dwell_points,
        )
        outcomes = list(left.carried_outcomes)
        reports = [
            build_disinfection_report(spec, list(r.carried_points), outcomes, r.carried_rooms)
            for r in (left, again)
        ]
        assert len({r.model_dump_json(exclude={"generated_at"}) for r in reports}) == 1

        # Re-adopted under the part it was dispatched as: it carries on from `again`.
        assert resumption_of_order(stored, f"{mission_id}-part1", SITE.name)[1] is False
        # Re-adopted under the order it was taken off (suspended): that progress is kept.
        assert resumption_of_order(stored, str(mission_id), SITE.name)[1] is True
        # Requeued after a restart: the part that went out is used up.
        count_part_sent(stored)
        session.commit()
    with database.session() as session:
        stored = session.get(Mission, mission_id)
        assert stored is not None
        bumped = stored_resumption(stored, SITE.name)
        assert bumped is not None and order_id_for(mission_id, bumped) == f"{mission_id}-part2"
        assert bumped.carried_points == left.carried_points


def test_order_parts_and_an_unreadable_record() -> None:
    mission_id = uuid.uuid4()
    assert order_part(mission_id, str(mission_id)) == 0
    assert order_part(mission_id, f"{mission_id}-part12") == 12
    assert order_part(mission_id, f"{mission_id}-r3") is None
    mission = Mission(id=mission_id, spec=dump_mission(parse_mission(UV_ROUND)))
    mission.resumption = {"format": 1, "part": 3, "spec": {"kind": "nonsense"}}
    fallback = stored_resumption(mission, SITE.name)
    # Starts over from the stored spec, but its next orderId still counts on.
    assert fallback is not None and fallback.part == 3
    assert fallback.spec == parse_mission(UV_ROUND) and fallback.carried_points == ()
    mission.resumption = {"format": 1, "spec": {}}
    assert stored_resumption(mission, SITE.name) is None

"""A whole fleet for end-to-end tests: Mosquitto, the app on SQLite, the clinic site, and
registered simulated robots each running the real agent (one sim thread per robot, so a
test can stop one robot's agent alone)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from fleet_server.app import create_app
from fleet_server.broker import MosquittoBroker, find_free_port
from fleet_server.robots.registry import register_robot
from fleet_server.services import FleetServices
from fleet_server.settings import Settings
from missions.sites import import_site
from missions.types import Capability
from robot_agent.config import AgentConfig, RobotDescription
from sim.adapter import SimSurroundings
from sim.clock import SimClock
from sim.fleet import SimFleet, SimFleetThread, SimulatedRobot
from sim.kinematic import KinematicRobot
from tests.support.mqtt import wait_until

RMF = Path(__file__).resolve().parents[1] / "fixtures" / "maps" / "rmf"
ADMIN_PASSWORD = "e2e-admin-password-long"


@dataclass
class World:
    """The running fleet, with helpers to call the API as admin."""

    client: TestClient
    headers: dict[str, str]
    bodies: dict[str, KinematicRobot]
    sims: dict[str, SimFleetThread] = field(default_factory=dict)

    @property
    def services(self) -> FleetServices:
        services: FleetServices = self.client.app.state.services  # type: ignore[attr-defined]
        return services

    def create(self, body: dict[str, Any]) -> str:
        response = self.client.post("/api/v1/missions", json=body, headers=self.headers)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def mission(self, mission_id: str) -> dict[str, Any]:
        response = self.client.get(f"/api/v1/missions/{mission_id}", headers=self.headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def state(self, mission_id: str) -> str:
        return str(self.mission(mission_id)["state"])

    def events(self, mission_id: str) -> list[dict[str, Any]]:
        response = self.client.get(f"/api/v1/missions/{mission_id}/events", headers=self.headers)
        events: list[dict[str, Any]] = response.json()
        return events

    def robot_summary(self, serial: str | None) -> str:
        """What the server last heard from a robot, for failure messages."""
        record = self.services.live.get("fleetsim", serial) if serial else None
        state = record.state if record else None
        if record is None or state is None:
            return f"robot {serial}: no state"
        actions = [(a.action_id[-14:], a.action_status.value) for a in state.action_states]
        return (
            f"robot {serial}: online={record.online} order={state.order_id} "
            f"last={state.last_node_id}/{state.last_node_sequence_id} "
            f"nodes_left={len(state.node_states)} driving={state.driving} "
            f"errors={[e.error_type for e in state.errors]} actions={actions} "
            f"body={self.bodies.get(serial or '')}"
        )

    def await_state(self, mission_id: str, states: set[str], timeout: float) -> str:
        assert wait_until(lambda: self.state(mission_id) in states, timeout, interval_s=0.25), (
            f"mission {mission_id} stuck in {self.state(mission_id)}: {self.events(mission_id)}; "
            + self.robot_summary(self.mission(mission_id)["robot"])
        )
        return self.state(mission_id)


@contextlib.contextmanager
def fleet_world(
    tmp_path: Path,
    robots: dict[str, tuple[str, list[Capability]]],
    *,
    time_scale: float = 1.0,
    **settings: Any,
) -> Iterator[World]:
    """Robots by serial: (start waypoint name on the clinic map, capabilities); the robots'
    simulated time (driving, dwelling) runs `time_scale` times faster than real time."""
    broker = MosquittoBroker(find_free_port())
    broker.start()
    config = Settings(
        environment="test",
        mqtt_url=f"mqtt://127.0.0.1:{broker.port}",
        data_dir=tmp_path,
        admin_password=ADMIN_PASSWORD,  # type: ignore[arg-type]
        argon2_profile="fast-insecure",
        **settings,
    )
    site = import_site(RMF / "clinic.building.yaml", kind="hospital")
    waypoints = {wp.name: wp for wp in site.all_waypoints() if wp.name}
    chargers = [(wp.x, wp.y, wp.level) for wp in site.all_waypoints() if wp.is_charger]
    sims: dict[str, SimFleetThread] = {}
    try:
        with TestClient(create_app(config)) as client:
            token = client.post(
                "/api/v1/auth/token", data={"username": "admin", "password": ADMIN_PASSWORD}
            ).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            files = [
                ("map_file", ("clinic.building.yaml", (RMF / "clinic.building.yaml").read_bytes())),
                ("images", ("clinic.png", (RMF / "clinic.png").read_bytes())),
            ]
            created = client.post(
                "/api/v1/sites", files=files, data={"kind": "hospital"}, headers=headers
            )
            assert created.status_code == 201, created.text
            services: FleetServices = client.app.state.services  # type: ignore[attr-defined]
            bodies = {}
            with services.db.session() as session:
                for serial, (start, caps) in robots.items():
                    register_robot(
                        session,
                        services.auth.hasher,
                        manufacturer="fleetsim",
                        serial_number=serial,
                        kind="service_robot",
                        capabilities=caps,
                        site_id="clinic",
                    )
                    wp = waypoints[start]
                    body = KinematicRobot(
                        x=wp.x,
                        y=wp.y,
                        map_id=wp.level,
                        max_speed_m_s=4.0,
                        accel_m_s2=4.0,
                        lift_ride_s=2.0,
                    )
                    bodies[serial] = body
                    agent = AgentConfig(
                        manufacturer="fleetsim",
                        serial_number=serial,
                        broker_url=f"mqtt://127.0.0.1:{broker.port}",
                        keepalive_s=2,
                        state_interval_s=1.0,
                        robot=RobotDescription(
                            capabilities=[c.value for c in caps],  # type: ignore[misc]
                            max_speed_m_s=4.0,
                        ),
                    )
                    surroundings = SimSurroundings(chargers=chargers)
                    sims[serial] = SimFleetThread(
                        SimFleet(
                            [SimulatedRobot(config=agent, body=body, surroundings=surroundings)],
                            clock=SimClock(time_scale),
                        )
                    ).start()
                session.commit()
            live = services.live
            assert wait_until(
                lambda: all(
                    (r := live.get("fleetsim", s)) is not None and r.online and r.pose
                    for s in robots
                ),
                15,
            )
            yield World(client, headers, bodies, sims)
    finally:
        for sim in sims.values():
            sim.stop()
        broker.stop()

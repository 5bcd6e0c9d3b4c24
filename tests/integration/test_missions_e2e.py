"""Missions end to end: REST API → dispatcher → VDA 5050 orders → simulated robots → reports.

Real Mosquitto, a real SQLite database, the clinic map, and four simulated robots each
running the real onboard agent.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fleet_server.app import create_app
from fleet_server.broker import MosquittoBroker, find_free_port
from fleet_server.robots.registry import register_robot
from fleet_server.services import FleetServices
from fleet_server.settings import Settings
from missions.sites import import_site
from missions.types import Capability
from robot_agent.config import AgentConfig, RobotDescription
from sim.fleet import SimFleet, SimFleetThread, SimulatedRobot
from sim.kinematic import KinematicRobot
from tests.support.mqtt import wait_until

RMF = Path(__file__).resolve().parents[1] / "fixtures" / "maps" / "rmf"
ADMIN_PASSWORD = "e2e-admin-password-long"


@dataclass
class World:
    client: TestClient
    headers: dict[str, str]
    bodies: dict[str, KinematicRobot]

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


ROBOTS = {
    "e2e-patrol": ("L1_left_nurse_center", [Capability.PATROL]),
    "e2e-uv": ("L1_sub_waiting_area_2", [Capability.UV_DISINFECTION]),
    "e2e-guide": ("L1_sub_waiting_area_5", [Capability.GUIDANCE]),
    "e2e-patrol-2": ("L1_right_nurse_center", [Capability.PATROL]),
}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    broker = MosquittoBroker(find_free_port())
    broker.start()
    settings = Settings(
        environment="test",
        mqtt_url=f"mqtt://127.0.0.1:{broker.port}",
        data_dir=tmp_path,
        admin_password=ADMIN_PASSWORD,  # type: ignore[arg-type]
        argon2_profile="fast-insecure",
    )
    site = import_site(RMF / "clinic.building.yaml", kind="hospital")
    waypoints = {wp.name: wp for wp in site.all_waypoints() if wp.name}
    sim: SimFleetThread | None = None
    try:
        with TestClient(create_app(settings)) as client:
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
            robots, bodies = [], {}
            with services.db.session() as session:
                for serial, (start, caps) in ROBOTS.items():
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
                    config = AgentConfig(
                        manufacturer="fleetsim",
                        serial_number=serial,
                        broker_url=f"mqtt://127.0.0.1:{broker.port}",
                        keepalive_s=5,
                        state_interval_s=1.0,
                        robot=RobotDescription(
                            capabilities=[c.value for c in caps], max_speed_m_s=4.0
                        ),  # type: ignore[misc]
                    )
                    robots.append(SimulatedRobot(config=config, body=body))
                session.commit()
            sim = SimFleetThread(SimFleet(robots)).start()
            live = services.live
            assert wait_until(
                lambda: all((r := live.get("fleetsim", s)) and r.online and r.pose for s in ROBOTS),
                15,
            )
            yield World(client, headers, bodies)
    finally:
        if sim is not None:
            sim.stop()
        broker.stop()


def _await_state(world: World, mission_id: str, states: set[str], timeout: float) -> str:
    assert wait_until(lambda: world.state(mission_id) in states, timeout, interval_s=0.25), (
        f"mission {mission_id} stuck in {world.state(mission_id)}: "
        f"{world.client.get(f'/api/v1/missions/{mission_id}/events', headers=world.headers).json()}"
    )
    return world.state(mission_id)


def test_patrol_disinfection_guidance_complete_and_a_cancelled_mission_stops(world: World) -> None:
    patrol = world.create(
        {
            "kind": "patrol",
            "site": "clinic",
            "checkpoints": ["L1_left_treatment_1", "L1_sub_waiting_area_3"],
            "dwell_s": 1.0,
            "checks": ["door_closed"],
            "preferred_robot": "e2e-patrol",
        }
    )
    uv = world.create(
        {
            "kind": "disinfection",
            "site": "clinic",
            "method": "uv",
            "target_dose_mj_cm2": 10,
            "targets": [
                {"waypoint": "L1_left_negative_air_pressure"},
                {"waypoint": "L1_sub_waiting_area_1"},
            ],
        }
    )
    guide = world.create(
        {
            "kind": "guidance",
            "site": "clinic",
            "from": "L1_sub_waiting_area_5",
            "to": "L2_north_counter",
            "language": "en",
            "max_speed_m_s": 1.0,
            "wait_for_person_timeout_s": 30,
        }
    )
    long_patrol = world.create(
        {
            "kind": "patrol",
            "site": "clinic",
            "rounds": 5,
            "dwell_s": 0.5,
            "checkpoints": ["L1_right_treatment", "L1_sub_waiting_area_8", "L1_right_procedure"],
            "preferred_robot": "e2e-patrol-2",
        }
    )
    _await_state(world, long_patrol, {"active"}, 20)
    time.sleep(1.0)
    cancelled = world.client.post(f"/api/v1/missions/{long_patrol}/cancel", headers=world.headers)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state"] == "cancelled"
    body = world.bodies["e2e-patrol-2"]
    assert wait_until(lambda: body.goal is None and body.speed == 0, 5), "robot did not stop"
    x, y = body.x, body.y
    time.sleep(1.0)
    assert (body.x, body.y) == (x, y)

    for mission_id in (patrol, uv, guide):
        assert (
            _await_state(world, mission_id, {"completed", "failed", "cancelled"}, 120)
            == "completed"
        )

    report = world.client.get(f"/api/v1/missions/{uv}/report", headers=world.headers)
    assert report.status_code == 200, report.text
    points = report.json()["points"]
    assert len(points) == 2
    for point in points:
        assert point["passed"], point
        assert point["unit"] == "mJ/cm²"
        assert point["delivered"] >= point["target"] == 10
    html = world.client.get(
        f"/api/v1/missions/{uv}/report?format=html&language=en", headers=world.headers
    )
    assert html.status_code == 200 and "<html" in html.text.lower()

    events = world.client.get(f"/api/v1/missions/{guide}/events", headers=world.headers).json()
    assert [e["to_state"] for e in events] == [
        "pending",
        "assigned",
        "dispatched",
        "active",
        "completed",
    ]
    assert world.bodies["e2e-guide"].map_id == "L2"

    page = world.client.get("/api/v1/missions?state=completed", headers=world.headers).json()
    assert {m["id"] for m in page["items"]} == {patrol, uv, guide}

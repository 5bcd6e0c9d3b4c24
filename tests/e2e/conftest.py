"""A running fleet server with simulated robots at the clinic, and a headless Chromium.

The server runs under uvicorn in a thread on a free port (the browser needs a real
socket), against a real Mosquitto and a SQLite file; four simulated robots run the real
onboard agent. The console bundle must be built first (`npm run build` in
fleet_server/console); Debian's Chromium drives it through Playwright.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from fleet_server.app import create_app
from fleet_server.broker import MosquittoBroker, find_free_port
from fleet_server.console_static import CONSOLE_DIST_DIR
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
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ADMIN_PASSWORD = "console-admin-password"
VIEWER_PASSWORD = "console-viewer-password"

ROBOTS = {
    "e2e-patrol": ("L1_left_nurse_center", [Capability.PATROL]),
    "e2e-patrol-2": ("L1_right_nurse_center", [Capability.PATROL]),
    "e2e-uv": ("L1_sub_waiting_area_2", [Capability.UV_DISINFECTION]),
    "e2e-guide": ("L1_sub_waiting_area_5", [Capability.GUIDANCE]),
}


@dataclass
class ConsoleServer:
    """The running server: its URL, an admin API client, and the simulated bodies."""

    base_url: str
    api: httpx.Client
    services: FleetServices
    bodies: dict[str, KinematicRobot]
    broker_port: int

    def create_mission(self, body: dict[str, Any]) -> str:
        """POST a mission as admin; its id."""
        response = self.api.post("/api/v1/missions", json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def mission_state(self, mission_id: str) -> str:
        """The mission's state as the API reports it."""
        response = self.api.get(f"/api/v1/missions/{mission_id}")
        assert response.status_code == 200, response.text
        return str(response.json()["state"])


class _ThreadedUvicorn(uvicorn.Server):
    """uvicorn without signal handlers, so it can run in a thread."""

    def install_signal_handlers(self) -> None:
        return


def _require_prerequisites() -> None:
    if not (CONSOLE_DIST_DIR / "index.html").is_file():
        pytest.fail(
            f"the console bundle is missing ({CONSOLE_DIST_DIR}); build it with "
            "`cd fleet_server/console && npm ci && npm run build`"
        )
    if not CHROMIUM.is_file():
        pytest.fail("Debian's chromium is required at /usr/bin/chromium (apt-get install chromium)")
    if shutil.which("mosquitto") is None:
        pytest.fail("the mosquitto binary is required (Debian package 'mosquitto')")


def _start_server(app: FastAPI, port: int) -> tuple[_ThreadedUvicorn, threading.Thread]:
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = _ThreadedUvicorn(config)
    thread = threading.Thread(target=server.run, name="console-e2e-uvicorn", daemon=True)
    thread.start()
    if not wait_until(lambda: server.started, 30):
        raise RuntimeError("uvicorn did not start within 30 s")
    return server, thread


def _import_clinic(api: httpx.Client) -> None:
    files = [
        ("map_file", ("clinic.building.yaml", (RMF / "clinic.building.yaml").read_bytes())),
        ("images", ("clinic.png", (RMF / "clinic.png").read_bytes())),
    ]
    created = api.post("/api/v1/sites", files=files, data={"kind": "hospital"})
    assert created.status_code == 201, created.text
    viewer = api.post(
        "/api/v1/users",
        json={
            "username": "viewer",
            "password": VIEWER_PASSWORD,
            "roles": [{"role": "viewer", "site_id": "clinic"}],
        },
    )
    assert viewer.status_code == 201, viewer.text


def _simulated_robots(
    services: FleetServices, broker_port: int
) -> tuple[list[SimulatedRobot], dict[str, KinematicRobot]]:
    site = import_site(RMF / "clinic.building.yaml", kind="hospital")
    waypoints = {wp.name: wp for wp in site.all_waypoints() if wp.name}
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
                x=wp.x, y=wp.y, map_id=wp.level, max_speed_m_s=4.0, accel_m_s2=4.0, lift_ride_s=2.0
            )
            bodies[serial] = body
            config = AgentConfig(
                manufacturer="fleetsim",
                serial_number=serial,
                broker_url=f"mqtt://127.0.0.1:{broker_port}",
                keepalive_s=5,
                state_interval_s=0.5,
                robot=RobotDescription(capabilities=[c.value for c in caps], max_speed_m_s=4.0),
            )
            robots.append(SimulatedRobot(config=config, body=body))
        session.commit()
    return robots, bodies


@pytest.fixture(scope="session")
def console_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleServer]:
    """The server at the clinic with four simulated robots online."""
    _require_prerequisites()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    broker = MosquittoBroker(find_free_port())
    broker.start()
    settings = Settings(
        environment="test",
        mqtt_url=f"mqtt://127.0.0.1:{broker.port}",
        data_dir=tmp_path_factory.mktemp("console-e2e"),
        admin_password=ADMIN_PASSWORD,
        argon2_profile="fast-insecure",
    )
    port = find_free_port()
    server: _ThreadedUvicorn | None = None
    thread: threading.Thread | None = None
    sim: SimFleetThread | None = None
    try:
        app = create_app(settings)
        server, thread = _start_server(app, port)
        base_url = f"http://127.0.0.1:{port}"
        api = httpx.Client(base_url=base_url, timeout=10)
        token = api.post(
            "/api/v1/auth/token", data={"username": "admin", "password": ADMIN_PASSWORD}
        ).json()["access_token"]
        api.headers["Authorization"] = f"Bearer {token}"
        _import_clinic(api)
        services: FleetServices = app.state.services
        robots, bodies = _simulated_robots(services, broker.port)
        sim = SimFleetThread(SimFleet(robots)).start()
        assert wait_until(
            lambda: all(
                (r := services.live.get("fleetsim", s)) is not None and r.online and r.pose
                for s in ROBOTS
            ),
            20,
        ), "simulated robots did not come online"
        yield ConsoleServer(base_url, api, services, bodies, broker.port)
        api.close()
    finally:
        if sim is not None:
            sim.stop()
        if server is not None and thread is not None:
            server.should_exit = True
            thread.join(15)
        broker.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    # Module scope: Playwright's sync API keeps an event loop running on the main thread
    # while it is open, which would break every later test that runs its own loop.
    """Debian's headless Chromium under Playwright."""
    _require_prerequisites()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot under test-artifacts/e2e/."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


def wait_for(predicate: Any, timeout_s: float, interval_s: float = 0.25) -> bool:
    """Poll until true or timed out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval_s)
    return bool(predicate())

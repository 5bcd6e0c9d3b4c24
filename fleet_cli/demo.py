"""`fleet demo`: server + embedded broker + SQLite + simulated robots on one machine."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from types import FrameType

import numpy as np
import uvicorn

from fleet_server.app import create_app
from fleet_server.services import ensure_admin
from fleet_server.settings import Settings
from robot_agent.config import AgentConfig
from sim.fleet import SimFleet, SimFleetThread, SimulatedRobot
from sim.kinematic import KinematicRobot, LoopRoute

log = logging.getLogger(__name__)

DEMO_SITES = ("hospital", "bank", "plaza")


def demo_robots(broker_url: str, interface: str, count: int) -> list[SimulatedRobot]:
    """`count` robots spread over a hospital, a bank and a plaza, each on its own loop."""
    robots = []
    for i in range(count):
        site = DEMO_SITES[i % len(DEMO_SITES)]
        width, height = 20.0 + 4 * (i % 3), 12.0 + 2 * (i % 2)
        corners = np.array([[0.0, 0.0], [width, 0.0], [width, height], [0.0, height]])
        route = LoopRoute(points=corners + 3.0 * i, map_id=f"{site}:L1")
        body = KinematicRobot(route=route, wander=True, max_speed_m_s=0.6 + 0.1 * (i % 4))
        config = AgentConfig(
            manufacturer="fleetsim",
            serial_number=f"{site}-{i + 1:03d}",
            broker_url=broker_url,
            interface=interface,
            keepalive_s=10,
        )
        robots.append(SimulatedRobot(config=config, body=body))
    return robots


class _DemoServer(uvicorn.Server):
    """Stops the simulated robots first on Ctrl-C, so they say OFFLINE before the broker goes."""

    def __init__(self, config: uvicorn.Config, before_exit: Callable[[], None]) -> None:
        super().__init__(config)
        self._before_exit = before_exit

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self._before_exit()
        super().handle_exit(sig, frame)


async def run_demo(settings: Settings, robot_count: int) -> None:
    """Serve until interrupted, with simulated robots reporting over the embedded broker."""
    app = create_app(settings)
    config = uvicorn.Config(
        app, host=settings.http_host, port=settings.http_port, log_level="warning", lifespan="on"
    )
    sim: SimFleetThread | None = None

    def stop_robots() -> None:
        if sim is not None:
            sim.stop()

    server = _DemoServer(config, stop_robots)
    serve = asyncio.create_task(server.serve())
    while not server.started:
        if serve.done():
            await serve  # re-raises why the server could not start
            return
        await asyncio.sleep(0.05)
    endpoint = settings.mqtt_endpoint()
    fleet = SimFleet(
        demo_robots(f"mqtt://{endpoint.host}:{endpoint.port}", settings.vda_interface, robot_count)
    )
    sim = SimFleetThread(fleet).start()
    services = app.state.services
    with services.db.session() as session:
        generated = ensure_admin(session, None, services.auth.hasher)
    url = f"http://{settings.http_host}:{settings.http_port}"
    print(f"Fleet demo: console and API at {url}  (robots: {url}/api/v1/robots)", flush=True)
    print(
        f"MQTT broker: {endpoint.host}:{endpoint.port}; {robot_count} simulated robots at "
        f"{', '.join(DEMO_SITES)}. Ctrl-C stops.",
        flush=True,
    )
    if generated is not None:
        print(f"Sign in as 'admin' with the password {generated} (shown once).", flush=True)
    else:
        print(
            "Sign in as 'admin' with FLEET_ADMIN_PASSWORD or the password printed at the first "
            "start (users exist in this data folder).",
            flush=True,
        )
    try:
        await serve
    finally:
        await asyncio.to_thread(stop_robots)

"""`fleet demo`: server + embedded broker + SQLite + simulated robots on one machine."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from types import FrameType

import numpy as np
import uvicorn

from fleet_server.app import create_app
from fleet_server.db.models import Site as SiteRow
from fleet_server.robots.registry import (
    find_robot,
    give_new_password,
    mqtt_username,
    register_robot,
)
from fleet_server.services import FleetServices, ensure_admin
from fleet_server.settings import Settings
from fleet_server.sites.store import slugify
from missions.sites import SiteKind
from missions.types import Capability
from robot_agent.config import AgentConfig
from sim.fleet import FleetGroup, SimFleet, SimFleetThread, SimulatedRobot
from sim.models import load_models
from sim.sitemaps import load_site, map_path
from sim.world import World

log = logging.getLogger(__name__)

DEMO_SITES = ("hospital", "bank", "plaza")
DEMO_ANCHORS: dict[str, tuple[float, float]] = {
    "hospital": (114.0579, 22.5431),
    "bank": (114.0668, 22.5387),
}
"""Where the demo's pixel-drawn maps sit (lon, lat): a hospital and a bank about a
kilometre apart in one district, so the city map shows them side by side. The campus map
carries its own WGS84 coordinates."""
DEMO_MAPS: dict[str, tuple[str, SiteKind, tuple[str, ...]]] = {
    "hospital": ("clinic", SiteKind.HOSPITAL, ("patrol", "uvc", "guide")),
    "bank": ("office", SiteKind.BANK, ("patrol", "reception", "spray")),
    "plaza": ("campus", SiteKind.PUBLIC_SPACE, ("patrol", "spray")),
}


def demo_fleet(broker_url: str, interface: str, count: int) -> FleetGroup:
    """`count` robots spread over a hospital, a bank and a plaza, roaming their maps' lanes.

    Each site is a world of its own on a bundled map (clinic, office, campus). A robot
    roams until the server gives it an order, which it then carries out.
    """
    models = load_models()
    fleets = []
    for k, site in enumerate(DEMO_SITES):
        serial_numbers = [f"{site}-{i + 1:03d}" for i in range(k, count, len(DEMO_SITES))]
        if not serial_numbers:
            continue
        map_name, kind, kinds = DEMO_MAPS[site]
        world = World(load_site(map_path(map_name), site, kind, DEMO_ANCHORS.get(site)), seed=k)
        robots = []
        for j, serial in enumerate(serial_numbers):
            model = models[kinds[j % len(kinds)]]
            config = AgentConfig(
                manufacturer="fleetsim",
                serial_number=serial,
                broker_url=broker_url,
                interface=interface,
                keepalive_s=10,
                robot=model.description(),
            )
            robots.append(SimulatedRobot(config=config, body=world.add_robot(serial, model=model)))
        nodes = world.roamable_nodes()
        starts = world.rng.choice(nodes, size=len(robots), replace=len(robots) > len(nodes))
        world.wander_on_graph(np.arange(len(robots)), starts)
        fleets.append(SimFleet(robots, world=world))
    return FleetGroup(fleets)


def provision_demo(services: FleetServices, fleet: FleetGroup) -> list[str]:
    """Store the demo sites and register the demo robots (what is stored already stays).

    Each simulated robot's agent gets its MQTT account: the password of a new registration,
    or a new password for a robot registered by an earlier run (passwords are not stored)."""
    done = []
    rows = []
    with services.db.session() as session:
        for sim_fleet in fleet.fleets:
            site = sim_fleet.world.site if sim_fleet.world is not None else None
            if site is None:
                continue
            site_id = slugify(site.name)
            if session.get(SiteRow, site_id) is None:
                services.sites.create(session, site, map_path(_map_of(site.name)).parent)
                done.append(f"site {site_id}")
            for robot in sim_fleet.robots:
                cfg = robot.config
                row = find_robot(session, cfg.manufacturer, cfg.serial_number)
                if row is not None:
                    password = give_new_password(row, services.auth.hasher)
                else:
                    registration = register_robot(
                        session,
                        services.auth.hasher,
                        manufacturer=cfg.manufacturer,
                        serial_number=cfg.serial_number,
                        kind=cfg.robot.kind,
                        capabilities=[Capability(c) for c in cfg.robot.capabilities],
                        site_id=site_id,
                    )
                    row, password = registration.robot, registration.mqtt_password
                    done.append(f"robot {cfg.serial_number}")
                rows.append(row)
                sim_fleet.use_credentials(
                    cfg.serial_number, mqtt_username(row.manufacturer, row.serial_number), password
                )
        session.commit()
        for row in rows:
            services.robots.put(row)  # the embedded broker learns the accounts
    return done


def _map_of(site_name: str) -> str:
    return DEMO_MAPS[site_name][0]


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
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_level="warning",
        log_config=None,  # our handler: same format and redaction as the server
        lifespan="on",
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
    fleet = demo_fleet(
        f"mqtt://{endpoint.host}:{endpoint.port}", settings.vda_interface, robot_count
    )
    services = app.state.services
    await asyncio.to_thread(provision_demo, services, fleet)
    if services.broker_accounts is not None:
        await services.broker_accounts.sync()  # accounts in place before the robots connect
    sim = SimFleetThread(fleet).start()
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

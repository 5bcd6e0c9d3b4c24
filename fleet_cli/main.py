"""The `fleet` command line."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from pathlib import Path
from typing import Annotated, NoReturn

import numpy as np
import typer
import uvicorn

from fleet_cli import broker_cli, missions_cli, robots_cli, sites_cli, users
from fleet_cli.ports import PortTakenError, choose_port
from fleet_cli.sim_cli import app as sim_app
from fleet_server.observability.structured_logging import configure_logging
from fleet_server.settings import Settings, SettingsError, load_settings
from sim.fleet import SimFleet, SimulatedRobot

app = typer.Typer(help="Fleet orchestration for service robots.", no_args_is_help=True)
app.add_typer(sim_app, name="sim")
app.add_typer(sites_cli.app, name="site")
app.add_typer(users.app, name="user")
app.add_typer(missions_cli.app, name="mission")
app.add_typer(robots_cli.app, name="robot")
app.add_typer(broker_cli.app, name="broker")

EXIT_USAGE = 2


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(EXIT_USAGE)


def _settings() -> Settings:
    try:
        settings = load_settings()
    except SettingsError as exc:
        _fail(str(exc))
    configure_logging(settings.log_level, settings.effective_log_format)
    return settings


def _resolve_ports(settings: Settings) -> Settings:
    try:
        http_port = choose_port(settings.http_host, settings.http_port, "FLEET_HTTP_PORT", "HTTP")
        mqtt_port = settings.embedded_mqtt_port
        if settings.uses_embedded_broker:
            mqtt_port = choose_port(
                "127.0.0.1", mqtt_port, "FLEET_EMBEDDED_MQTT_PORT", "embedded MQTT broker"
            )
    except PortTakenError as exc:
        _fail(str(exc))
    return settings.model_copy(update={"http_port": http_port, "embedded_mqtt_port": mqtt_port})


@app.command()
def serve() -> None:
    """Run the fleet server (configuration from FLEET_* variables and .env)."""
    from fleet_server.app import create_app

    settings = _resolve_ports(_settings())
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    uvicorn.run(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_level=settings.log_level.lower(),
        log_config=None,  # uvicorn's lines go through our handler: same format, redacted
    )


@app.command()
def demo(
    robots: Annotated[int, typer.Option(min=1, max=500, help="Simulated robots.")] = 9,
) -> None:
    """Server + embedded broker + SQLite + simulated robots, console on FLEET_HTTP_PORT."""
    from fleet_cli.demo import run_demo

    settings = _resolve_ports(_settings())
    if not settings.uses_embedded_broker:
        typer.echo(f"demo: using the external broker from FLEET_MQTT_URL={settings.mqtt_url}")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_demo(settings, robots))


@app.command()
def agent(
    config: Annotated[Path, typer.Option("--config", help="Agent YAML configuration.")],
) -> None:
    """Run one onboard agent (VDA 5050 over MQTT) with the platform adapter of its config."""
    from robot_agent.config import AgentConfigError, load_agent_config
    from sim.kinematic import KinematicRobot, LoopRoute

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        cfg = load_agent_config(config)
    except AgentConfigError as exc:
        _fail(str(exc))
    if cfg.adapter.type != "sim":
        _fail(
            f"{config}: adapter.type {cfg.adapter.type!r} runs inside its own host process "
            "(the ROS 2 node in ros2_ws/); `fleet agent` drives the simulator adapter only"
        )
    params = cfg.adapter.params
    try:
        route = LoopRoute(
            points=np.asarray(params.get("route", [[0, 0], [10, 0], [10, 6], [0, 6]]), float),
            map_id=str(params.get("map_id", "L1")),
        )
        body = KinematicRobot(
            route=route,
            wander=bool(params.get("wander", True)),
            max_speed_m_s=float(params.get("speed_m_s", 0.8)),
            battery_pct=float(params.get("battery_pct", 100.0)),
        )
    except (TypeError, ValueError) as exc:
        _fail(f"{config}: adapter.params: {exc}")
    asyncio.run(_run_until_signal(SimFleet([SimulatedRobot(config=cfg, body=body)])))


async def _run_until_signal(fleet: SimFleet) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await fleet.run(stop)


def main() -> None:
    """Entry point for `python -m fleet_cli`."""
    app()


if __name__ == "__main__":
    main()

"""`fleet robot …`: robots from the shell, e.g. registering one before it first connects."""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable
from typing import Annotated, NoReturn

import typer

from fleet_server.auth.audit import Actor
from fleet_server.auth.passwords import PasswordHasher
from fleet_server.db import Database, upgrade_to_head
from fleet_server.errors import FleetError
from fleet_server.robots.identity import check_kind, check_manufacturer, check_serial_number
from fleet_server.robots.service import register as register_robot
from fleet_server.settings import SettingsError, load_settings
from missions.types import Capability

app = typer.Typer(
    help="Robots: register them with their own MQTT credentials.", no_args_is_help=True
)

EXIT_BAD_INPUT = 2


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(EXIT_BAD_INPUT)


def _checked(option: str, value: str, check: Callable[[str], str]) -> str:
    try:
        return check(value)
    except ValueError as exc:
        _fail(f"{option} {value!r}: {exc}")


@app.command("register")
def register(
    manufacturer: Annotated[str, typer.Option("--manufacturer", help="VDA 5050 manufacturer.")],
    serial: Annotated[str, typer.Option("--serial", help="VDA 5050 serial number.")],
    kind: Annotated[str, typer.Option("--kind", help="Robot kind, e.g. uv_disinfection.")],
    site: Annotated[str, typer.Option("--site", help="Id of the site it works at.")],
    capability: Annotated[
        list[Capability] | None,
        typer.Option(
            "--capability", help="What it can do (repeat for several).", case_sensitive=False
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Register a robot; its MQTT password is printed once and stored only hashed."""
    _checked("--manufacturer", manufacturer, check_manufacturer)
    _checked("--serial", serial, check_serial_number)
    _checked("--kind", kind, check_kind)
    if not capability:
        _fail("--capability: give at least one of " + ", ".join(c.value for c in Capability))
    try:
        settings = load_settings()
    except SettingsError as exc:
        _fail(str(exc))
    upgrade_to_head(settings.database_url)
    database = Database.open(settings.database_url)
    try:
        with database.session() as session:
            registration = register_robot(
                session,
                PasswordHasher(settings.argon2_profile),
                Actor(f"cli:{getpass.getuser()}"),
                manufacturer=manufacturer,
                serial_number=serial,
                kind=kind,
                capabilities=capability,
                site_id=site,
            )
            robot = registration.robot
            result = {
                "manufacturer": robot.manufacturer,
                "serial_number": robot.serial_number,
                "kind": robot.kind,
                "capabilities": robot.capabilities,
                "site_id": robot.site_id,
                "mqtt_username": registration.mqtt_username,
                "mqtt_password": registration.mqtt_password,
            }
    except FleetError as exc:
        field = exc.extra.get("errors", [{}])[0].get("field")
        _fail(exc.detail.replace("site_id:", "--site:", 1) if field == "site_id" else exc.detail)
    finally:
        database.close()
    if as_json:
        typer.echo(json.dumps(result))
        return
    typer.echo(f"registered robot {manufacturer}/{serial} at site {site}")
    typer.echo(f"mqtt username: {result['mqtt_username']}")
    typer.echo(f"mqtt password (shown once, store it now): {result['mqtt_password']}")

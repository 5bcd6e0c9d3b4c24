"""`fleet robot …`: robots from the shell, e.g. registering one before it first connects or
giving it a new MQTT password."""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable
from typing import Annotated, Any, NoReturn

import typer

from fleet_server.auth.audit import Actor
from fleet_server.auth.passwords import PasswordHasher
from fleet_server.db import Database, upgrade_to_head
from fleet_server.errors import FleetError
from fleet_server.robots.identity import check_kind, check_manufacturer, check_serial_number
from fleet_server.robots.registry import find_robot
from fleet_server.robots.service import register as register_robot
from fleet_server.robots.service import rotate_credentials as rotate_robot_credentials
from fleet_server.settings import Settings, SettingsError, load_settings
from missions.types import Capability

app = typer.Typer(
    help="Robots: register them with their own MQTT credentials, rotate those.",
    no_args_is_help=True,
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


def _open_database() -> tuple[Settings, Database]:
    """The settings and the database they name, migrated to the newest revision."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        _fail(str(exc))
    upgrade_to_head(settings.database_url)
    return settings, Database.open(settings.database_url)


def _cli_actor() -> Actor:
    return Actor(f"cli:{getpass.getuser()}")


def _print_credentials(result: dict[str, Any], headline: str, as_json: bool) -> None:
    """Print a robot's new MQTT credentials (the only time the password is shown)."""
    if as_json:
        typer.echo(json.dumps(result))
        return
    typer.echo(headline)
    typer.echo(f"mqtt username: {result['mqtt_username']}")
    typer.echo(f"mqtt password (shown once, store it now): {result['mqtt_password']}")


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
    settings, database = _open_database()
    try:
        with database.session() as session:
            registration = register_robot(
                session,
                PasswordHasher(settings.argon2_profile),
                _cli_actor(),
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
    _print_credentials(result, f"registered robot {manufacturer}/{serial} at site {site}", as_json)


@app.command("rotate-credentials")
def rotate_credentials(
    manufacturer: Annotated[str, typer.Option("--manufacturer", help="VDA 5050 manufacturer.")],
    serial: Annotated[str, typer.Option("--serial", help="VDA 5050 serial number.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Give a robot a new MQTT password, printed once and stored only hashed; the old one
    stops working."""
    _checked("--manufacturer", manufacturer, check_manufacturer)
    _checked("--serial", serial, check_serial_number)
    settings, database = _open_database()
    try:
        with database.session() as session:
            robot = find_robot(session, manufacturer, serial)
            if robot is None:
                _fail(f"--manufacturer/--serial: no robot {manufacturer}/{serial} is registered")
            credentials = rotate_robot_credentials(
                session, PasswordHasher(settings.argon2_profile), robot, _cli_actor()
            )
    except FleetError as exc:  # decommissioned
        _fail(f"--manufacturer/--serial: {exc.detail}")
    finally:
        database.close()
    result = {
        "manufacturer": manufacturer,
        "serial_number": serial,
        "mqtt_username": credentials.mqtt_username,
        "mqtt_password": credentials.mqtt_password,
    }
    headline = f"new credentials for robot {manufacturer}/{serial}; the old password is void"
    _print_credentials(result, headline, as_json)

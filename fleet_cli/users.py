"""`fleet user …`: accounts from the shell, e.g. the first admin of a fresh installation."""

from __future__ import annotations

import getpass
import sys
from typing import Annotated, NoReturn

import typer

from fleet_server.auth.audit import Actor
from fleet_server.auth.passwords import PasswordHasher, generate_password
from fleet_server.auth.roles import Grant, Role
from fleet_server.auth.users import create_user
from fleet_server.db import Database, upgrade_to_head
from fleet_server.db.models import Site
from fleet_server.errors import FleetError
from fleet_server.settings import SettingsError, load_settings

app = typer.Typer(help="Users: create accounts and grant roles.", no_args_is_help=True)

EXIT_BAD_INPUT = 2


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(EXIT_BAD_INPUT)


def _password_from_stdin() -> str:
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        _fail("--password-stdin: no password on standard input")
    return password


@app.command("create")
def create(
    username: Annotated[str, typer.Argument(help="Login name (lowercase).")],
    role: Annotated[Role, typer.Option("--role", help="Role to grant.", case_sensitive=False)],
    site: Annotated[
        str | None, typer.Option("--site", help="Site id the role is limited to (default: all).")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Create a user with one role; without --password-stdin a password is generated and
    printed once."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        _fail(str(exc))
    password = _password_from_stdin() if password_stdin else generate_password()
    upgrade_to_head(settings.database_url)
    database = Database.open(settings.database_url)
    try:
        with database.session() as session:
            if site is not None and session.get(Site, site) is None:
                _fail(f"--site: no site {site!r} (import it first: fleet site import)")
            create_user(
                session,
                PasswordHasher(settings.argon2_profile),
                username,
                password,
                [Grant(role, site)],
                Actor(f"cli:{getpass.getuser()}"),
            )
    except FleetError as exc:
        _fail(exc.detail)
    finally:
        database.close()
    where = "all sites" if site is None else f"site {site}"
    typer.echo(f"created user {username} ({role.value} at {where})")
    if not password_stdin:
        typer.echo(f"password (shown once, store it now): {password}")

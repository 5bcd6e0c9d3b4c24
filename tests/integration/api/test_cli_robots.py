"""`fleet robot register` and `rotate-credentials`: robots from the shell, credentials printed
once, on both databases."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from fleet_cli.main import app
from fleet_server.auth.audit import Actor
from fleet_server.auth.passwords import PasswordHasher
from fleet_server.db import Database, upgrade_to_head
from fleet_server.db.models import AuditEntry, Robot, Site
from fleet_server.robots.service import decommission
from tests.unit.fleet_server.db.databases import BACKENDS, temporary_database

ARGS = ["robot", "register", "--manufacturer", "acme", "--serial", "uv-7", "--kind", "uv_robot"]


@pytest.fixture(params=BACKENDS)
def database(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Database]:
    with temporary_database(request.param, tmp_path) as url:
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("FLEET_DATABASE_URL", url)
        monkeypatch.setenv("FLEET_DATA_DIR", str(tmp_path))
        monkeypatch.setenv("FLEET_ARGON2_PROFILE", "fast-insecure")
        upgrade_to_head(url)
        db = Database.open(url)
        with db.session() as session:
            session.add(Site(id="clinic", name="Clinic", kind="hospital"))
            session.commit()
        yield db
        db.close()


def _robots(db: Database) -> list[Robot]:
    with db.session() as session:
        return list(session.scalars(select(Robot)))


def test_register_prints_json_with_the_password_once(database: Database) -> None:
    args = [*ARGS, "--site", "clinic", "--capability", "uv_disinfection", "--capability", "patrol"]
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert printed["mqtt_username"] == "acme/uv-7"
    assert printed["capabilities"] == ["uv_disinfection", "patrol"]
    (robot,) = _robots(database)
    assert (robot.site_id, robot.kind) == ("clinic", "uv_robot")
    assert robot.credentials_hash is not None
    assert printed["mqtt_password"] not in robot.credentials_hash
    assert PasswordHasher("fast-insecure").verify(printed["mqtt_password"], robot.credentials_hash)[
        0
    ]
    with database.session() as session:
        entry = session.scalars(select(AuditEntry)).one()
        assert (entry.action, entry.target, entry.actor[:4]) == (
            "robot.register",
            "robot:acme/uv-7",
            "cli:",
        )
        assert printed["mqtt_password"] not in json.dumps(entry.detail)
    again = CliRunner().invoke(app, [*args, "--json"])
    assert again.exit_code == 2 and "already registered" in again.output


def test_plain_output_says_the_password_is_shown_once(database: Database) -> None:
    result = CliRunner().invoke(app, [*ARGS, "--site", "clinic", "--capability", "patrol"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "registered robot acme/uv-7 at site clinic"
    assert lines[2].startswith("mqtt password (shown once, store it now): ")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (
            ["--serial", "bad/serial", "--site", "clinic", "--capability", "patrol"],
            "--serial 'bad/serial'",
        ),
        (["--site", "nowhere", "--capability", "patrol"], "--site: no site 'nowhere'"),
        (["--site", "clinic"], "--capability: give at least one"),
        (
            ["--kind", "Big Robot", "--site", "clinic", "--capability", "patrol"],
            "--kind 'Big Robot'",
        ),
    ],
)
def test_bad_options_exit_2_naming_the_option(
    database: Database, args: list[str], says: str
) -> None:
    result = CliRunner().invoke(app, [*ARGS, *args])
    assert result.exit_code == 2, result.output
    assert says in result.output
    assert _robots(database) == []


ROTATE = ["robot", "rotate-credentials", "--manufacturer", "acme", "--serial", "uv-7"]


def _register(database: Database) -> str:
    args = [*ARGS, "--site", "clinic", "--capability", "uv_disinfection", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    password: str = json.loads(result.output)["mqtt_password"]
    return password


def _verifies(password: str, robot: Robot) -> bool:
    assert robot.credentials_hash is not None
    return PasswordHasher("fast-insecure").verify(password, robot.credentials_hash)[0]


def test_rotate_gives_a_new_password_and_voids_the_old_one(database: Database) -> None:
    old = _register(database)
    (before,) = _robots(database)
    result = CliRunner().invoke(app, [*ROTATE, "--json"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert set(printed) == {"manufacturer", "serial_number", "mqtt_username", "mqtt_password"}
    assert (printed["manufacturer"], printed["serial_number"]) == ("acme", "uv-7")
    assert printed["mqtt_username"] == "acme/uv-7"
    new = printed["mqtt_password"]
    assert new != old
    (robot,) = _robots(database)
    assert _verifies(new, robot) and not _verifies(old, robot)
    assert robot.broker_password_hash not in (None, before.broker_password_hash)
    assert new not in (robot.credentials_hash or "") + (robot.broker_password_hash or "")
    with database.session() as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "robot.credentials.rotate")
        ).one()
        assert (entry.target, entry.actor[:4], entry.site_id) == (
            "robot:acme/uv-7",
            "cli:",
            "clinic",
        )
        assert new not in json.dumps(entry.detail)

    plain = CliRunner().invoke(app, ROTATE)
    assert plain.exit_code == 0, plain.output
    lines = plain.output.splitlines()
    assert lines[0] == "new credentials for robot acme/uv-7; the old password is void"
    assert lines[1] == "mqtt username: acme/uv-7"
    prefix = "mqtt password (shown once, store it now): "
    assert lines[2].startswith(prefix)
    (again,) = _robots(database)
    assert _verifies(lines[2][len(prefix) :], again) and not _verifies(new, again)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--serial", "uv-9"], "--manufacturer/--serial: no robot acme/uv-9 is registered"),
        (["--manufacturer", "other"], "--manufacturer/--serial: no robot other/uv-7"),
        (["--serial", "bad/serial"], "--serial 'bad/serial'"),
        (["--manufacturer", ""], "--manufacturer ''"),
    ],
)
def test_rotate_refuses_unknown_or_malformed_robots(
    database: Database, args: list[str], says: str
) -> None:
    password = _register(database)
    (before,) = _robots(database)
    result = CliRunner().invoke(app, [*ROTATE, *args])
    assert result.exit_code == 2, result.output
    assert says in result.output
    (after,) = _robots(database)
    assert after.credentials_hash == before.credentials_hash and _verifies(password, after)
    assert after.broker_password_hash == before.broker_password_hash


def test_rotate_refuses_a_decommissioned_robot(database: Database) -> None:
    _register(database)
    with database.session() as session:
        robot = session.scalars(select(Robot)).one()
        decommission(session, robot, Actor("test"))
    result = CliRunner().invoke(app, [*ROTATE, "--json"])
    assert result.exit_code == 2, result.output
    assert "--manufacturer/--serial: robot acme/uv-7 is decommissioned" in result.output
    (robot,) = _robots(database)
    assert robot.credentials_hash is None and robot.broker_password_hash is None
    with database.session() as session:
        actions = list(session.scalars(select(AuditEntry.action)))
        assert "robot.credentials.rotate" not in actions

"""`fleet robot register`: a robot from the shell, credentials printed once, on both databases."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from fleet_cli.main import app
from fleet_server.auth.passwords import PasswordHasher
from fleet_server.db import Database, upgrade_to_head
from fleet_server.db.models import AuditEntry, Robot, Site
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

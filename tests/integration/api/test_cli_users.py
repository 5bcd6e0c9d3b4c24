"""`fleet user create`: the first admin from the shell, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from fleet_cli.main import app
from fleet_server.auth.passwords import PasswordHasher
from fleet_server.auth.roles import Grant, Role
from fleet_server.auth.users import grants_of
from fleet_server.db import Database, upgrade_to_head
from fleet_server.db.models import AuditEntry, Site, User
from tests.unit.fleet_server.db.databases import BACKENDS, temporary_database


@pytest.fixture(params=BACKENDS)
def database(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Database]:
    with temporary_database(request.param, tmp_path) as url:
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("FLEET_DATABASE_URL", url)
        monkeypatch.setenv("FLEET_DATA_DIR", str(tmp_path))
        monkeypatch.setenv("FLEET_ARGON2_PROFILE", "fast-insecure")
        upgrade_to_head(url)  # so tests can look for users the command must not have made
        db = Database.open(url)
        yield db
        db.close()


def _user(db: Database, username: str) -> User | None:
    with db.session() as session:
        return session.scalar(select(User).where(User.username == username))


def test_generated_password_is_printed_once_and_works(database: Database) -> None:
    result = CliRunner().invoke(app, ["user", "create", "admin", "--role", "admin"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "created user admin (admin at all sites)"
    password = lines[1].rsplit(": ", 1)[1]
    assert result.output.count(password) == 1
    user = _user(database, "admin")
    assert user is not None
    assert grants_of(user) == {Grant(Role.ADMIN)}
    assert PasswordHasher("fast-insecure").verify(password, user.password_hash)[0]
    assert password not in user.password_hash
    with database.session() as session:
        entry = session.scalars(select(AuditEntry)).one()
        assert (entry.action, entry.target, entry.actor[:4]) == ("user.create", "admin", "cli:")


def test_password_from_stdin_and_a_site_role(database: Database) -> None:
    args = ["user", "create", "kim", "--role", "dispatcher", "--site", "north", "--password-stdin"]
    missing = CliRunner().invoke(app, args, input="kims-long-password\n")
    assert missing.exit_code == 2
    assert "--site: no site 'north'" in missing.output
    with database.session() as session:
        session.add(Site(id="north", name="North", kind="hospital"))
        session.commit()
    result = CliRunner().invoke(app, args, input="kims-long-password\n")
    assert result.exit_code == 0, result.output
    assert "kims-long-password" not in result.output
    assert "password" not in result.output
    user = _user(database, "kim")
    assert user is not None
    assert grants_of(user) == {Grant(Role.DISPATCHER, "north")}
    assert PasswordHasher().verify("kims-long-password", user.password_hash)[0]


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["BAD NAME", "--role", "viewer"], None, "username"),
        (["ok-name", "--role", "viewer", "--password-stdin"], "short\n", "password"),
        (["ok-name", "--role", "viewer", "--password-stdin"], "\n", "--password-stdin"),
        (["ok-name", "--role", "overlord"], None, "overlord"),
    ],
)
def test_bad_input_is_named(
    database: Database, args: list[str], stdin: str | None, message: str
) -> None:
    result = CliRunner().invoke(app, ["user", "create", *args], input=stdin)
    assert result.exit_code == 2
    assert message in result.output
    assert _user(database, "ok-name") is None


def test_an_existing_user_is_not_overwritten(database: Database) -> None:
    first = CliRunner().invoke(app, ["user", "create", "admin", "--role", "admin"])
    assert first.exit_code == 0
    before = _user(database, "admin")
    again = CliRunner().invoke(app, ["user", "create", "admin", "--role", "viewer"])
    assert again.exit_code == 2
    assert "user 'admin' exists already" in again.output
    after = _user(database, "admin")
    assert before is not None and after is not None
    assert after.password_hash == before.password_hash

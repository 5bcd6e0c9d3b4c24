"""Accounts in the database: the first admin, hashes at rest, uniqueness, on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fleet_server.auth.passwords import PasswordHasher
from fleet_server.auth.roles import Grant, Role
from fleet_server.auth.users import grants_of
from fleet_server.db import make_engine, upgrade_to_head
from fleet_server.db.models import AuditEntry, User
from fleet_server.services import ensure_admin
from tests.unit.fleet_server.db.databases import BACKENDS, temporary_database

HASHER = PasswordHasher("fast-insecure")


@pytest.fixture(params=BACKENDS)
def fresh_session(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Session]:
    with temporary_database(request.param, tmp_path) as url:
        engine = make_engine(url)
        upgrade_to_head(engine)
        with Session(engine, expire_on_commit=False) as session:
            yield session
        engine.dispose()


def _users(session: Session) -> list[User]:
    return list(session.scalars(select(User)))


def test_first_admin_gets_a_generated_password_once(fresh_session: Session) -> None:
    password = ensure_admin(fresh_session, None, HASHER)
    assert password is not None and len(password) >= 24
    [admin] = _users(fresh_session)
    assert admin.username == "admin"
    assert grants_of(admin) == {Grant(Role.ADMIN)}
    assert HASHER.verify(password, admin.password_hash)[0]
    assert password not in admin.password_hash
    assert ensure_admin(fresh_session, None, HASHER) is None
    assert ensure_admin(fresh_session, "some-other-password", HASHER) is None
    assert len(_users(fresh_session)) == 1
    assert HASHER.verify(password, admin.password_hash)[0]
    actions = fresh_session.scalars(select(AuditEntry.action)).all()
    assert actions == ["user.create"]


def test_first_admin_with_a_given_password(fresh_session: Session) -> None:
    assert ensure_admin(fresh_session, "given-admin-password", HASHER) is None
    [admin] = _users(fresh_session)
    assert HASHER.verify("given-admin-password", admin.password_hash)[0]


def test_usernames_are_unique_in_the_database(fresh_session: Session) -> None:
    fresh_session.add(User(username="twin", password_hash="x"))
    fresh_session.commit()
    fresh_session.add(User(username="twin", password_hash="y"))
    with pytest.raises(IntegrityError):
        fresh_session.commit()
    fresh_session.rollback()
    assert fresh_session.scalar(select(func.count(User.id))) == 1

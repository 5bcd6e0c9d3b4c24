"""Database fixtures: every test here runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from fleet_server.db import make_engine, upgrade_to_head
from tests.unit.fleet_server.db.databases import BACKENDS, temporary_database


@pytest.fixture(scope="module", params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A fresh, empty database per test module and backend."""
    folder: Path = tmp_path_factory.mktemp("db")
    with temporary_database(request.param, folder) as url:
        yield url


@pytest.fixture(scope="module")
def migrated_engine(database_url: str) -> Iterator[Engine]:
    """An engine on a database migrated to the newest revision."""
    engine = make_engine(database_url)
    upgrade_to_head(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session(migrated_engine: Engine) -> Iterator[Session]:
    """A session whose work is rolled back after the test."""
    with Session(migrated_engine, expire_on_commit=False) as session:
        yield session
        session.rollback()

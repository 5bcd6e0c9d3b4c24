"""Throw-away databases for tests: a SQLite file, or a fresh PostgreSQL database.

PostgreSQL comes from `FLEET_TEST_POSTGRES_URL` (default: trust auth on 127.0.0.1). Each
call creates a uniquely named database and drops it afterwards, so parallel runs never
collide. An unreachable server fails the test unless `FLEET_TEST_SKIP_POSTGRES=1`.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BACKENDS = ("sqlite", "postgresql")


def _server_url() -> str:
    return os.environ.get("FLEET_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def _admin_connection() -> psycopg.Connection[tuple[object, ...]]:
    url = make_url(_server_url())
    try:
        return psycopg.connect(
            host=url.host or "127.0.0.1",
            port=url.port or 5432,
            user=url.username,
            password=url.password,
            dbname=url.database or "postgres",
            autocommit=True,
            connect_timeout=5,
        )
    except psycopg.OperationalError as exc:
        if os.environ.get("FLEET_TEST_SKIP_POSTGRES") == "1":
            pytest.skip("PostgreSQL unreachable and FLEET_TEST_SKIP_POSTGRES=1")
        pytest.fail(
            f"PostgreSQL at FLEET_TEST_POSTGRES_URL={_server_url()} is unreachable ({exc}); "
            "start it or set FLEET_TEST_SKIP_POSTGRES=1",
            pytrace=False,
        )


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database; yields its SQLAlchemy URL and drops it after."""
    name = f"fleet_test_{uuid.uuid4().hex[:12]}"
    with _admin_connection() as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        url = make_url(_server_url()).set(drivername="postgresql+psycopg", database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        with _admin_connection() as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@contextlib.contextmanager
def temporary_database(backend: str, folder: Path) -> Iterator[str]:
    """An empty database of `backend` (`sqlite` or `postgresql`); yields its URL."""
    if backend == "sqlite":
        yield f"sqlite:///{(folder / f'fleet-{uuid.uuid4().hex[:8]}.db').as_posix()}"
    elif backend == "postgresql":
        with postgres_database() as url:
            yield url
    else:
        raise ValueError(f"unknown database backend {backend!r}")

"""Engines and sessions for the configured database: a SQLite file or PostgreSQL via psycopg."""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 5000


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    cursor = dbapi_connection.cursor()
    try:
        # WAL lets readers (API requests) proceed while one writer commits; SQLite leaves
        # foreign keys off unless every connection asks for them.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


def make_engine(database_url: str) -> Engine:
    """An engine for `database_url`; a SQLite file gets WAL and foreign keys, its folder is made."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _configure_sqlite_connection)
        return engine
    if url.get_backend_name() == "postgresql":
        if url.get_driver_name() != "psycopg":
            url = url.set(drivername="postgresql+psycopg")
        return create_engine(url, pool_pre_ping=True)
    raise ValueError(f"database URL: unsupported backend {url.get_backend_name()!r}")


@dataclass
class Database:
    """The engine and session factory of one server process."""

    engine: Engine
    sessions: sessionmaker[Session]

    @classmethod
    def open(cls, database_url: str) -> Database:
        """Connect lazily to `database_url` (nothing is opened until the first session)."""
        engine = make_engine(database_url)
        return cls(engine=engine, sessions=sessionmaker(engine, expire_on_commit=False))

    def session(self) -> Session:
        """A new session; use it as a context manager."""
        return self.sessions()

    def ping(self) -> bool:
        """True when a trivial query succeeds."""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as exc:  # any driver error means "not reachable"
            # Probes ask often: an outage is reported by the loops that meet it (OutageLog).
            log.debug("database ping failed: %s", exc)
            return False
        return True

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

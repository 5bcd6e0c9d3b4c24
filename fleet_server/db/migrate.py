"""Alembic migrations run from code: the scripts ship inside the package, no alembic.ini needed."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from fleet_server.db.engine import make_engine

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def alembic_config() -> Config:
    """An Alembic configuration pointing at the packaged migration scripts."""
    config = Config()
    config.set_main_option("script_location", MIGRATIONS_DIR.as_posix())
    return config


def _run(engine: Engine, direction: str, revision: str) -> None:
    config = alembic_config()
    with engine.begin() as connection:
        # env.py uses this connection instead of building its own from a URL in an ini file.
        config.attributes["connection"] = connection
        if direction == "upgrade":
            command.upgrade(config, revision)
        else:
            command.downgrade(config, revision)


def _with_engine(database_url: str | Engine, direction: str, revision: str) -> None:
    if isinstance(database_url, Engine):
        _run(database_url, direction, revision)
        return
    engine = make_engine(database_url)
    try:
        _run(engine, direction, revision)
    finally:
        engine.dispose()


def upgrade_to_head(database_url: str | Engine) -> None:
    """Bring the schema up to the newest revision (a no-op when it is there already)."""
    _with_engine(database_url, "upgrade", "head")


def downgrade_to_base(database_url: str | Engine) -> None:
    """Undo every migration, leaving only Alembic's empty version table."""
    _with_engine(database_url, "downgrade", "base")


def head_revision() -> str:
    """The newest revision the packaged scripts define."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migration scripts in {MIGRATIONS_DIR}")
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, None when it was never migrated."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()

"""Persistence: SQLAlchemy models, engine and sessions, Alembic migrations."""

from fleet_server.db.engine import Database, make_engine
from fleet_server.db.migrate import downgrade_to_base, upgrade_to_head

__all__ = ["Database", "downgrade_to_base", "make_engine", "upgrade_to_head"]

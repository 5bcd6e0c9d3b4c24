"""Alembic migration environment; run through `fleet_server.db.migrate`."""

"""Alembic migrations: from empty to head and back to base, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

from fleet_server.db import downgrade_to_base, make_engine, upgrade_to_head
from fleet_server.db.base import Base
from fleet_server.db.migrate import current_revision, head_revision
from fleet_server.db.models import Mission, Site
from tests.unit.fleet_server.db.databases import BACKENDS, temporary_database

TABLES = {
    "users",
    "role_grants",
    "api_tokens",
    "audit_log",
    "sites",
    "robots",
    "missions",
    "mission_events",
    "mission_orders",
    "schedules",
    "schedule_occurrences",
    "alarms",
    "telemetry_samples",
    "appointment_routing",
    "appointment_destinations",
    "appointments",
    "webhooks",
    "feed_events",
    "webhook_deliveries",
    "site_emergencies",
}


@pytest.fixture(params=BACKENDS)
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with temporary_database(request.param, tmp_path) as url:
        engine = make_engine(url)
        yield engine
        engine.dispose()


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def test_upgrade_from_empty_creates_every_table_at_head(empty_engine: Engine) -> None:
    assert _tables(empty_engine) == set()
    upgrade_to_head(empty_engine)
    assert _tables(empty_engine) == TABLES | {"alembic_version"}
    assert current_revision(empty_engine) == head_revision()


def test_migrated_schema_matches_the_models(empty_engine: Engine) -> None:
    upgrade_to_head(empty_engine)
    with empty_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_downgrade_to_base_removes_everything_and_upgrade_again_works(
    empty_engine: Engine,
) -> None:
    upgrade_to_head(empty_engine)
    downgrade_to_base(empty_engine)
    assert _tables(empty_engine) == {"alembic_version"}
    assert current_revision(empty_engine) is None
    upgrade_to_head(empty_engine)
    upgrade_to_head(empty_engine)  # at head already: nothing to do
    assert _tables(empty_engine) == TABLES | {"alembic_version"}


def test_migrates_from_a_url_without_any_alembic_ini(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'nested' / 'fleet.db'}"
    upgrade_to_head(url)
    engine = make_engine(url)
    try:
        assert _tables(engine) == TABLES | {"alembic_version"}
    finally:
        engine.dispose()
    assert not (tmp_path / "alembic.ini").exists()


def test_constraints_refuse_unknown_states_and_roles(empty_engine: Engine) -> None:
    upgrade_to_head(empty_engine)
    with empty_engine.connect() as connection:
        connection.execute(
            text(
                "INSERT INTO users (id, username, password_hash, disabled, "
                "failed_logins, auth_epoch, created_at, password_changed_at) "
                "VALUES (1, 'u', 'h', false, 0, 0, CURRENT_TIMESTAMP, "
                "CURRENT_TIMESTAMP)"
            )
        )
        with pytest.raises(IntegrityError):
            connection.execute(
                text("INSERT INTO role_grants (user_id, role) VALUES (1, 'superuser')")
            )
        connection.rollback()
    with empty_engine.connect() as connection:
        with pytest.raises(IntegrityError):  # foreign key to a site that does not exist
            connection.execute(
                text(
                    "INSERT INTO missions (id, site_id, kind, priority, state, spec, created_at, "
                    "updated_at, version) VALUES ('0123456789abcdef0123456789abcdef', 'nowhere', "
                    "'patrol', 'normal', 'pending', '{}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)"
                )
            )
        connection.rollback()


def test_timestamps_must_carry_a_time_zone(empty_engine: Engine) -> None:
    upgrade_to_head(empty_engine)
    with Session(empty_engine) as session:
        session.add(Site(id="s", name="S", kind="bank", created_at=datetime(2026, 1, 1)))
        with pytest.raises(StatementError, match="naive datetime"):
            session.flush()


def test_json_documents_round_trip_and_null_report_is_sql_null(empty_engine: Engine) -> None:
    upgrade_to_head(empty_engine)
    site_map = {"levels": [{"name": "L1", "graph": {"nodes": [[0.0, 1.5]]}}], "名": "診所"}
    with Session(empty_engine) as session:
        session.add(Site(id="clinic", name="Clinic", kind="hospital", site_map=site_map))
        session.flush()
        session.add(Mission(site_id="clinic", kind="patrol", spec={"loops": 2}, report=None))
        session.commit()
    with Session(empty_engine) as session:
        assert session.get_one(Site, "clinic").site_map == site_map
        nulls = session.scalar(text("SELECT count(*) FROM missions WHERE report IS NULL"))
        assert nulls == 1


def test_sqlite_files_use_wal_and_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'f.db'}")
    try:
        with engine.connect() as connection:
            assert connection.scalar(text("PRAGMA journal_mode")) == "wal"
            assert connection.scalar(text("PRAGMA foreign_keys")) == 1
    finally:
        engine.dispose()

"""Stop the app and start a new one on the same database: users, tokens and audit survive."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from fleet_server.broker import MosquittoBroker
from tests.integration.api.cast import ADMIN_PASSWORD, app_settings, running_app, sign_in
from tests.unit.fleet_server.db.databases import BACKENDS, temporary_database


@pytest.mark.parametrize("backend", BACKENDS)
def test_accounts_tokens_and_audit_survive_a_restart(
    backend: str, module_broker: MosquittoBroker, tmp_path: Path
) -> None:
    with temporary_database(backend, tmp_path) as url:
        settings = app_settings(module_broker.port, url, tmp_path)
        with running_app(settings) as first:
            admin = sign_in(first, "admin", ADMIN_PASSWORD)
            created = first.post(
                "/api/v1/users",
                json={"username": "night.guard", "roles": [{"role": "viewer"}]},
                headers=admin,
            ).json()
            token = first.post("/api/v1/tokens", json={"name": "gis"}, headers=admin).json()
            access = sign_in(first, "night.guard", created["generated_password"])
            audit_before = first.get("/api/v1/audit", headers=admin).json()["items"]

        # A different admin password now must not create a second admin or reset the first.
        with running_app(settings.model_copy(update={"admin_password": None})) as second:
            assert second.get("/api/v1/robots", headers=access).status_code == 200
            bearer = {"Authorization": f"Bearer {token['token']}"}
            users = second.get("/api/v1/users", headers=bearer).json()
            assert [u["username"] for u in users] == ["admin", "night.guard"]
            audit_after = second.get("/api/v1/audit", headers=bearer).json()["items"]
            assert audit_after[-len(audit_before) :] == audit_before
            tokens = second.get("/api/v1/tokens", headers=bearer).json()
            assert [t["prefix"] for t in tokens] == [token["prefix"]]
            assert sign_in(second, "admin", ADMIN_PASSWORD)


def test_nothing_secret_reaches_the_logs(
    module_broker: MosquittoBroker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with temporary_database("sqlite", tmp_path) as url:
        settings = app_settings(module_broker.port, url, tmp_path)
        with running_app(settings) as client:
            admin = sign_in(client, "admin", ADMIN_PASSWORD)
            created = client.post("/api/v1/users", json={"username": "quiet"}, headers=admin).json()
            token = client.post("/api/v1/tokens", json={"name": "t"}, headers=admin).json()
            client.post(
                "/api/v1/auth/token", data={"username": "quiet", "password": "guess-1234567"}
            )
    secrets = [
        ADMIN_PASSWORD,
        created["generated_password"],
        token["token"],
        admin["Authorization"].split()[1],
        "guess-1234567",
        (tmp_path / "jwt_secret").read_text().strip(),
    ]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert logged  # something was logged, so the check below means something
    for secret in secrets:
        assert secret not in logged

"""Login throttling per username and client, account lockout with backoff, 429 + Retry-After."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from fleet_server.auth.users import get_user
from fleet_server.broker import MosquittoBroker
from fleet_server.db.base import utcnow
from tests.integration.api.cast import (
    PASSWORD,
    Api,
    add_sites_and_cast,
    app_settings,
    running_app,
    services_of,
)
from tests.unit.fleet_server.db.databases import temporary_database

PER_CLIENT = 3
PER_ACCOUNT = 5
BASE_S = 0.4


@pytest.fixture(scope="module")
def strict_api(
    backend: str, module_broker: MosquittoBroker, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Api]:
    """An app with low lockout thresholds and short lockouts."""
    folder = tmp_path_factory.mktemp(f"lockout-{backend}")
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(temporary_database(backend, folder))
        settings = app_settings(
            module_broker.port,
            url,
            folder,
            login_max_failures=PER_CLIENT,
            account_max_failures=PER_ACCOUNT,
            login_lockout_base_s=BASE_S,
            login_lockout_max_s=4 * BASE_S,
        )
        client = stack.enter_context(running_app(settings))
        add_sites_and_cast(services_of(client))
        yield Api(client=client, backend=backend)


def _from(api: Api, address: str) -> TestClient:
    # Another peer address against the same running app (its lifespan belongs to api.client).
    return TestClient(api.client.app, client=(address, 40000))


def _sign_in(client: TestClient, username: str, password: str) -> httpx.Response:
    return client.post("/api/v1/auth/token", data={"username": username, "password": password})


def _assert_throttled(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    retry_after = int(response.headers["retry-after"])
    assert retry_after >= 1
    assert response.json()["retry_after_s"] == retry_after


def test_failures_lock_the_username_for_that_client_only(strict_api: Api) -> None:
    username = strict_api.throwaway()
    attacker = _from(strict_api, "10.0.0.1")
    for _ in range(PER_CLIENT):
        assert _sign_in(attacker, username, "wrong-password!").status_code == 401
    _assert_throttled(_sign_in(attacker, username, PASSWORD))  # even the right password waits
    assert _sign_in(_from(strict_api, "10.0.0.2"), username, PASSWORD).status_code == 200
    other = strict_api.throwaway()
    assert _sign_in(attacker, other, PASSWORD).status_code == 200
    time.sleep(BASE_S + 0.1)
    assert _sign_in(attacker, username, PASSWORD).status_code == 200


def test_unknown_usernames_are_throttled_too(strict_api: Api) -> None:
    client = _from(strict_api, "10.0.1.1")
    for _ in range(PER_CLIENT):
        assert _sign_in(client, "ghost-user", "whatever-password").status_code == 401
    _assert_throttled(_sign_in(client, "ghost-user", "whatever-password"))


def test_failures_from_many_clients_lock_the_account_with_backoff(strict_api: Api) -> None:
    username = strict_api.throwaway()
    for i in range(PER_ACCOUNT):
        response = _sign_in(_from(strict_api, f"10.1.0.{i}"), username, "wrong-password!")
        assert response.status_code == 401
    with strict_api.services.db.session() as session:
        user = get_user(session, username)
        assert user.failed_logins == PER_ACCOUNT
        assert user.locked_until is not None
    _assert_throttled(_sign_in(_from(strict_api, "10.1.1.1"), username, PASSWORD))
    time.sleep(BASE_S + 0.1)
    # One more failure after the lockout doubles it.
    assert _sign_in(_from(strict_api, "10.1.1.2"), username, "wrong-password!").status_code == 401
    with strict_api.services.db.session() as session:
        locked_until = get_user(session, username).locked_until
        assert locked_until is not None
        assert (locked_until - utcnow()).total_seconds() > 1.5 * BASE_S
    _assert_throttled(_sign_in(_from(strict_api, "10.1.1.3"), username, PASSWORD))
    time.sleep(2 * BASE_S + 0.1)
    assert _sign_in(_from(strict_api, "10.1.1.4"), username, PASSWORD).status_code == 200
    with strict_api.services.db.session() as session:
        user = get_user(session, username)
        assert (user.failed_logins, user.locked_until) == (0, None)


def test_password_change_is_throttled_like_sign_in(strict_api: Api) -> None:
    _, headers = strict_api.clone("viewer_north")
    client = _from(strict_api, "10.2.0.1")
    body = {"current_password": "not-my-password", "new_password": "a-brand-new-password"}
    for _ in range(PER_CLIENT):
        response = client.put("/api/v1/users/me/password", json=body, headers=headers)
        assert response.status_code == 401
    right = {**body, "current_password": PASSWORD}
    _assert_throttled(client.put("/api/v1/users/me/password", json=right, headers=headers))


def test_invalid_refresh_tokens_are_throttled_per_client(strict_api: Api) -> None:
    client = _from(strict_api, "10.3.0.1")
    for _ in range(PER_CLIENT):
        response = client.post("/api/v1/auth/refresh", data={"refresh_token": "not-a-jwt"})
        assert response.status_code == 401
    _assert_throttled(client.post("/api/v1/auth/refresh", data={"refresh_token": "not-a-jwt"}))
    fine = _from(strict_api, "10.3.0.2").post(
        "/api/v1/auth/refresh", data={"refresh_token": "not-a-jwt"}
    )
    assert fine.status_code == 401


def test_failed_sign_ins_are_audited_without_the_password(strict_api: Api) -> None:
    username = strict_api.throwaway()
    _sign_in(_from(strict_api, "10.4.0.1"), username, "a-secret-guess-123")
    admin = _sign_in(strict_api.client, "admin", "the-first-admin-password").json()
    entries = strict_api.client.get(
        "/api/v1/audit",
        params={"action": "auth.login_failed", "target": username},
        headers={"Authorization": f"Bearer {admin['access_token']}"},
    ).json()["items"]
    assert len(entries) == 1
    assert entries[0]["detail"]["client"] == "10.4.0.1"
    assert "a-secret-guess-123" not in str(entries)

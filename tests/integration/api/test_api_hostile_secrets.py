"""Secrets are shown once at creation and never again: not in any later answer, not in logs.

The test makes every kind of secret the server hands out or takes in (robot MQTT
passwords at registration and rotation, user passwords given and generated, password
changes, API tokens, access and refresh tokens from sign-in and refresh), with every log
record of every logger captured at DEBUG, failures included. Then it reads every list and
detail endpoint the OpenAPI document has as the admin and scans those answers and the log
records (raw, before any redaction) for each secret and for stored hashes.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fleet_server.broker import MosquittoBroker
from fleet_server.observability.structured_logging import JsonLogFormatter
from tests.integration.api.cast import (
    ADMIN_PASSWORD,
    Api,
    add_sites_and_cast,
    app_settings,
    running_app,
    services_of,
)
from tests.unit.fleet_server.db.databases import temporary_database

HASH_SHAPES = re.compile(r"\$argon2id?\$|\$7\$|\$pbkdf2")


class _Everything(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def logged(
    module_broker: MosquittoBroker, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Api, _Everything]]:
    """A running app whose every log record, from startup on, is kept."""
    handler = _Everything()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    folder = tmp_path_factory.mktemp("secrets")
    try:
        with contextlib.ExitStack() as stack:
            url = stack.enter_context(temporary_database("sqlite", folder))
            settings = app_settings(module_broker.port, url, folder, log_level="DEBUG")
            client = stack.enter_context(running_app(settings))
            add_sites_and_cast(services_of(client))
            yield Api(client=client, backend="sqlite"), handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def _ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def _sign_in(api: Api, username: str, password: str) -> dict[str, Any]:
    return _ok(
        api.client.post("/api/v1/auth/token", data={"username": username, "password": password})
    )


def _make_secrets(api: Api) -> tuple[list[str], dict[str, str]]:
    """Every kind of secret, made through the API; returns them and the admin's headers."""
    secrets = [ADMIN_PASSWORD]
    tokens = _sign_in(api, "admin", ADMIN_PASSWORD)
    secrets += [tokens["access_token"], tokens["refresh_token"]]
    admin = {"Authorization": f"Bearer {tokens['access_token']}"}
    client = api.client

    robot = {"kind": "uv_robot", "capabilities": ["uv_disinfection"], "site_id": "north"}
    for serial in ("SEC-1", "SEC-2"):
        body = {"manufacturer": "secretco", "serial_number": serial, **robot}
        registered = _ok(client.post("/api/v1/robots", json=body, headers=admin), 201)
        secrets.append(registered["mqtt_password"])
    rotated = _ok(client.post("/api/v1/robots/secretco/SEC-1/credentials", headers=admin))
    secrets.append(rotated["mqtt_password"])

    given = "a-given-password-for-sam"
    _ok(
        client.post("/api/v1/users", json={"username": "sam", "password": given}, headers=admin),
        201,
    )
    generated = _ok(client.post("/api/v1/users", json={"username": "kim"}, headers=admin), 201)
    assert generated["generated_password"]
    secrets += [given, generated["generated_password"]]

    sam = _sign_in(api, "sam", given)
    secrets += [sam["access_token"], sam["refresh_token"]]
    refreshed = _ok(
        client.post("/api/v1/auth/refresh", data={"refresh_token": sam["refresh_token"]})
    )
    secrets += [refreshed["access_token"], refreshed["refresh_token"]]
    changed = "sams-brand-new-password"
    response = client.put(
        "/api/v1/users/me/password",
        json={"current_password": given, "new_password": changed},
        headers={"Authorization": f"Bearer {refreshed['access_token']}"},
    )
    assert response.status_code == 204, response.text
    secrets.append(changed)
    # A wrong guess (logged and audited as a failure) is a secret too.
    guess = "sams-wrong-guess-password"
    assert (
        client.post("/api/v1/auth/token", data={"username": "sam", "password": guess}).status_code
        == 401
    )
    secrets.append(guess)

    token = _ok(client.post("/api/v1/tokens", json={"name": "ops feed"}, headers=admin), 201)
    secrets.append(token["token"])
    with_token = {"Authorization": f"Bearer {token['token']}"}
    assert client.get("/api/v1/users/me", headers=with_token).status_code == 200
    return secrets, admin


def _readable_paths(api: Api) -> list[str]:
    """Every GET path of the API, with the ids this test made filled in."""
    values = {
        "manufacturer": "secretco",
        "serial_number": "SEC-1",
        "username": "sam",
        "site_id": "north",
    }
    paths = []
    document = api.client.get("/openapi.json").json()
    for path, methods in document["paths"].items():
        if "get" not in methods or not path.startswith(("/api/", "/metrics")):
            continue
        for name, value in values.items():
            path = path.replace("{" + name + "}", value)
        if "{" not in path:
            paths.append(path)
    return paths


def test_no_secret_is_returned_after_creation_or_logged(logged: tuple[Api, _Everything]) -> None:
    api, log = logged
    secrets, admin = _make_secrets(api)
    answers = {}
    for path in _readable_paths(api):
        response = api.client.get(path, headers=admin)
        answers[path] = response.text
    extra = {
        "all tokens": api.client.get("/api/v1/tokens?all_owners=true", headers=admin).text,
        "audit page 2": api.client.get("/api/v1/audit?limit=500", headers=admin).text,
    }
    answers.update(extra)
    assert "/api/v1/robots/secretco/SEC-1" in answers and "/api/v1/users" in answers
    assert "/api/v1/audit" in answers and "/api/v1/tokens" in answers

    for path, text in answers.items():
        for secret in secrets:
            assert secret not in text, f"{path} returns a secret"
        assert not HASH_SHAPES.search(text), f"{path} returns a stored hash"

    formatter = JsonLogFormatter()
    names = {record.name for record in log.records}
    assert {"fleet_server.auth.users", "httpx"} <= names, names  # the capture sees both sides
    for record in log.records:
        raw = f"{record.getMessage()} {record.__dict__!r}"
        written = formatter.format(record)
        for secret in secrets:
            assert secret not in raw, f"log record from {record.name} holds a secret: {raw[:300]}"
            assert secret not in written
        assert not HASH_SHAPES.search(raw), f"log record from {record.name} holds a hash"

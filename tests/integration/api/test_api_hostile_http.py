"""Hostile HTTP: body limits (413 naming the limit), token-endpoint rate limits (429 with
Retry-After), security headers and CSP on every response, CORS off unless configured."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from fleet_server.app import create_app
from fleet_server.auth.users import get_user
from fleet_server.broker import MosquittoBroker, find_free_port
from fleet_server.errors import install_problem_handlers
from fleet_server.http_input import guard_request_input
from fleet_server.http_security import API_CSP, DOCS_CSP, HSTS, console_csp
from fleet_server.settings import Settings, SettingsError, load_settings
from missions.report import _CSS as REPORT_STYLESHEET
from tests.integration.api.cast import (
    ADMIN_PASSWORD,
    PASSWORD,
    Api,
    add_sites_and_cast,
    app_settings,
    running_app,
    services_of,
)
from tests.support.mqtt import wait_until
from tests.unit.fleet_server.db.databases import temporary_database

BODY_LIMIT = 64 * 1024
SITE_IMPORT_LIMIT = 256 * 1024
PER_CLIENT = 5
PER_USERNAME = 3
FOREIGN = "https://evil.example"


@pytest.fixture(scope="module")
def hostile_api(
    module_broker: MosquittoBroker, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Api]:
    """An app with small body limits and low sign-in rates (SQLite: nothing here is storage)."""
    folder = tmp_path_factory.mktemp("hostile-http")
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(temporary_database("sqlite", folder))
        settings = app_settings(
            module_broker.port,
            url,
            folder,
            http_max_body_bytes=BODY_LIMIT,
            http_max_site_import_bytes=SITE_IMPORT_LIMIT,
            login_rate_per_client=PER_CLIENT,
            login_rate_per_username=PER_USERNAME,
        )
        client = stack.enter_context(running_app(settings))
        add_sites_and_cast(services_of(client))
        api = Api(client=client, backend="sqlite")
        token = client.post(
            "/api/v1/auth/token", data={"username": "admin", "password": ADMIN_PASSWORD}
        )
        api.headers["admin"] = {"Authorization": f"Bearer {token.json()['access_token']}"}
        yield api


def _from(api: Api, address: str) -> TestClient:
    return TestClient(api.client.app, client=(address, 40000))


def _assert_too_large(response: httpx.Response, limit: int) -> None:
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["max_bytes"] == limit
    assert str(limit) in problem["detail"]
    assert problem["type"] == "urn:fleet:problem:payload-too-large"
    assert len(problem["request_id"]) == 32


# body limits -----------------------------------------------------------------------------


def test_a_declared_body_over_the_limit_is_refused_with_a_problem(hostile_api: Api) -> None:
    admin = hostile_api.as_("admin")
    body = b'{"kind": "patrol", "name": "' + b"x" * BODY_LIMIT + b'"}'
    response = hostile_api.client.post(
        "/api/v1/missions", content=body, headers={**admin, "Content-Type": "application/json"}
    )
    _assert_too_large(response, BODY_LIMIT)
    # Refused before authentication or routing: anonymous and unknown paths alike.
    _assert_too_large(hostile_api.client.post("/api/v1/missions", content=body), BODY_LIMIT)
    _assert_too_large(hostile_api.client.put("/api/v1/no-such-route", content=body), BODY_LIMIT)
    # At the limit it reaches the route (which says what is wrong with it instead).
    just = hostile_api.client.post(
        "/api/v1/missions",
        content=b" " * (BODY_LIMIT - 2) + b"{}",
        headers={**admin, "Content-Type": "application/json"},
    )
    assert just.status_code == 422, just.text


def test_a_chunked_body_over_the_limit_is_refused(hostile_api: Api) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(BODY_LIMIT // 1024 + 2):
            yield b" " * 1024

    response = hostile_api.client.post(
        "/api/v1/missions",
        content=chunks(),
        headers={**hostile_api.as_("admin"), "Content-Type": "application/json"},
    )
    assert "content-length" not in response.request.headers
    _assert_too_large(response, BODY_LIMIT)


def test_a_malformed_content_length_is_refused(hostile_api: Api) -> None:
    # httpx would correct the header; the ASGI scope is what a proxy could pass on.
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/missions",
        "raw_path": b"/api/v1/missions",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-length", b"-1"), (b"host", b"testserver")],
        "client": ("10.9.9.9", 1234),
        "server": ("testserver", 80),
        "state": {},
    }
    asyncio.run(hostile_api.client.app(scope, receive, send))  # type: ignore[arg-type]
    assert sent[0]["status"] == 413


def test_site_imports_have_their_own_larger_limit(hostile_api: Api) -> None:
    admin = hostile_api.as_("admin")
    padding = b"#" + b" " * (BODY_LIMIT + 1024) + b"\n"
    map_yaml = padding + b"levels: {}\n"
    within = hostile_api.client.post(
        "/api/v1/sites", files={"map_file": ("big.building.yaml", map_yaml)}, headers=admin
    )
    # Over the default limit but under the import limit: the importer judges the map.
    assert within.status_code == 422, within.text
    assert within.json()["type"] == "urn:fleet:problem:invalid-input"
    huge = b"#" + b" " * SITE_IMPORT_LIMIT + b"\n"
    over = hostile_api.client.post(
        "/api/v1/sites", files={"map_file": ("huge.building.yaml", huge)}, headers=admin
    )
    _assert_too_large(over, SITE_IMPORT_LIMIT)
    sites = hostile_api.client.get("/api/v1/sites", headers=admin).json()
    assert sorted(s["id"] for s in sites) == ["north", "south"]  # nothing was stored


class _ThreadedUvicorn(uvicorn.Server):
    def install_signal_handlers(self) -> None:
        return


def test_a_streamed_body_is_cut_off_at_the_limit_not_read_whole() -> None:
    """Under uvicorn: the 413 arrives while the client is still sending; the route never runs."""
    app = FastAPI()
    install_problem_handlers(app)
    guard_request_input(app, Settings(_env_file=None, http_max_body_bytes=BODY_LIMIT))  # type: ignore[call-arg]
    reached: list[int] = []

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        size = len(await request.body())
        reached.append(size)
        return {"size": size}

    port = find_free_port()
    server = _ThreadedUvicorn(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        assert wait_until(lambda: server.started, 10)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(
                b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                b"Content-Type: application/json\r\n\r\n"
            )
            chunk = b" " * 8192
            sent = 0
            answer = b""
            sock.settimeout(0.05)
            # Offer ten times the limit; the server must answer long before taking it all.
            while sent < 10 * BODY_LIMIT and b"\r\n\r\n" not in answer:
                with contextlib.suppress(OSError):
                    sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    sent += len(chunk)
                with contextlib.suppress(TimeoutError, BlockingIOError):
                    answer += sock.recv(65536)
            sock.settimeout(5)
            with contextlib.suppress(OSError):
                while b"payload-too-large" not in answer and (more := sock.recv(65536)):
                    answer += more
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert b"application/problem+json" in answer and str(BODY_LIMIT).encode() in answer
        assert sent < 10 * BODY_LIMIT
        assert reached == []
    finally:
        server.should_exit = True
        thread.join(10)


# rate limits -----------------------------------------------------------------------------


def _sign_in(client: TestClient, username: str, password: str) -> httpx.Response:
    return client.post("/api/v1/auth/token", data={"username": username, "password": password})


def _assert_rate_limited(response: httpx.Response, at_least_s: int) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    retry_after = int(response.headers["retry-after"])
    assert at_least_s <= retry_after <= 60
    assert response.json()["retry_after_s"] == retry_after


def test_sign_ins_per_username_are_rate_limited_from_any_address(hostile_api: Api) -> None:
    username = hostile_api.throwaway()
    for i in range(PER_USERNAME):
        ok = _sign_in(_from(hostile_api, f"10.20.0.{i}"), username, PASSWORD)
        assert ok.status_code == 200, ok.text  # successes count too: this is volume
    # The next attempt, right password and a fresh address, waits (60 s / 3 per token).
    limited = _sign_in(_from(hostile_api, "10.20.1.1"), username, PASSWORD)
    _assert_rate_limited(limited, 60 // PER_USERNAME - 1)
    assert "username" in limited.json()["detail"]
    # Other accounts are not affected, and the case of the name does not help.
    _assert_rate_limited(_sign_in(_from(hostile_api, "10.20.1.2"), username.upper(), "x"), 1)
    other = hostile_api.throwaway()
    assert _sign_in(_from(hostile_api, "10.20.1.3"), other, PASSWORD).status_code == 200


def test_attempts_per_address_are_rate_limited_across_usernames(hostile_api: Api) -> None:
    attacker = _from(hostile_api, "10.30.0.1")
    for i in range(PER_CLIENT):
        assert _sign_in(attacker, f"nobody-{i}", "guess-guess-guess").status_code == 401
    limited = _sign_in(attacker, hostile_api.throwaway(), PASSWORD)
    _assert_rate_limited(limited, 60 // PER_CLIENT - 1)
    assert "address" in limited.json()["detail"]
    # Refresh is a token endpoint too, on the same budget.
    refresh = attacker.post("/api/v1/auth/refresh", data={"refresh_token": "not-a-jwt"})
    _assert_rate_limited(refresh, 1)
    # Another address is not affected.
    assert _sign_in(_from(hostile_api, "10.30.0.2"), "nobody-x", "guess").status_code == 401


def test_rate_limited_attempts_do_not_reach_the_password_check(hostile_api: Api) -> None:
    username = hostile_api.throwaway()
    for i in range(PER_USERNAME):
        _sign_in(_from(hostile_api, f"10.40.0.{i}"), username, "wrong-password-1")
    before = _failed_logins(hostile_api, username)
    for i in range(5):
        response = _sign_in(_from(hostile_api, f"10.40.1.{i}"), username, "wrong-password-2")
        assert response.status_code == 429
    assert _failed_logins(hostile_api, username) == before == PER_USERNAME


def _failed_logins(api: Api, username: str) -> int:
    with api.services.db.session() as session:
        return get_user(session, username).failed_logins


# security headers ------------------------------------------------------------------------

_COMMON = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
}


def _assert_common_headers(response: httpx.Response) -> None:
    for name, value in _COMMON.items():
        assert response.headers.get(name) == value, (response.request.url, name)
    assert "camera=()" in response.headers["permissions-policy"]
    assert response.headers.get_list("x-content-type-options") == ["nosniff"]


def test_every_response_carries_the_security_headers(hostile_api: Api) -> None:
    client = hostile_api.client
    admin = hostile_api.as_("admin")
    responses = {
        "ok": client.get("/api/v1/robots", headers=admin),
        "health": client.get("/healthz"),
        "401": client.get("/api/v1/robots"),
        "404": client.get("/api/v1/nothing-here"),
        "422": client.post("/api/v1/missions", json={}, headers=admin),
        "413": client.post("/api/v1/missions", content=b"x" * (BODY_LIMIT + 1)),
        "429": _sign_in(_from(hostile_api, "10.50.0.1"), "a", "b"),
        "console": client.get("/"),
        "console route": client.get("/missions/some-id"),
        "docs": client.get("/docs"),
    }
    for name, response in responses.items():
        _assert_common_headers(response)
        assert "strict-transport-security" not in response.headers, name
    for name in ("ok", "health", "401", "404", "422", "413"):
        assert responses[name].headers["content-security-policy"] == API_CSP, name
    assert responses["docs"].headers["content-security-policy"] == DOCS_CSP
    for name in ("console", "console route"):
        csp = responses[name].headers["content-security-policy"]
        assert csp == console_csp(None), name
        assert "script-src 'self';" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
    # Over TLS (as uvicorn reports it) HSTS is sent.
    tls = TestClient(client.app, base_url="https://testserver").get("/healthz")
    assert tls.headers["strict-transport-security"] == HSTS


def test_the_console_policy_allows_the_tile_host_and_the_report_stylesheet() -> None:
    csp = console_csp("https://{s}.tile.example.org/{z}/{x}/{y}.png")
    directives = dict(d.split(" ", 1) for d in csp.split("; "))
    assert directives["img-src"] == "'self' blob: data: https://*.tile.example.org"
    assert directives["script-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert directives["default-src"] == "'self'"
    digest = base64.b64encode(hashlib.sha256(REPORT_STYLESHEET.encode()).digest()).decode()
    assert directives["style-src"] == f"'self' 'sha256-{digest}'"
    assert "tiles.example:8443" in console_csp("http://tiles.example:8443/{z}/{x}/{y}.png")
    assert (
        console_csp("https://a.{s}.example/{z}.png")
        .split("img-src ")[1]
        .startswith("'self' blob: data: https:;")
    )
    assert "javascript" not in console_csp("javascript:alert(1)")


def _bare_app(tmp_path: Path, **overrides: Any) -> TestClient:
    # No lifespan: the headers and CORS answer without the services.
    settings = Settings(_env_file=None, environment="test", data_dir=tmp_path, **overrides)  # type: ignore[call-arg]
    return TestClient(create_app(settings))


def test_hsts_on_every_response_behind_a_tls_proxy(tmp_path: Path) -> None:
    client = _bare_app(tmp_path, http_behind_tls_proxy=True)
    for path in ("/openapi.json", "/api/v1/nothing", "/"):
        assert client.get(path).headers["strict-transport-security"] == HSTS


# CORS ------------------------------------------------------------------------------------


def test_cors_is_off_by_default(hostile_api: Api) -> None:
    client = hostile_api.client
    actual = client.get("/api/v1/robots", headers={**hostile_api.as_("admin"), "Origin": FOREIGN})
    assert actual.status_code == 200
    assert "access-control-allow-origin" not in actual.headers
    preflight = client.options(
        "/api/v1/missions",
        headers={"Origin": FOREIGN, "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-methods" not in preflight.headers


def test_cors_allows_only_the_configured_origins(tmp_path: Path) -> None:
    allowed = "https://ops.city.example"
    client = _bare_app(tmp_path, http_cors_origins=f"{allowed}/, http://localhost:5173")
    ok = client.get("/openapi.json", headers={"Origin": allowed})
    assert ok.headers["access-control-allow-origin"] == allowed
    assert "x-request-id" in ok.headers["access-control-expose-headers"].lower()
    assert "access-control-allow-credentials" not in ok.headers
    foreign = client.get("/openapi.json", headers={"Origin": FOREIGN})
    assert "access-control-allow-origin" not in foreign.headers
    preflight = client.options(
        "/api/v1/missions",
        headers={
            "Origin": allowed,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == allowed
    refused = client.options(
        "/api/v1/missions",
        headers={"Origin": FOREIGN, "Access-Control-Request-Method": "POST"},
    )
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers
    _assert_common_headers(refused)


@pytest.mark.parametrize(
    "value", ["*", "evil.example", "https://ops.example/path", "ftp://ops.example"]
)
def test_cors_origins_must_be_origins(value: str, tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="FLEET_HTTP_CORS_ORIGINS"):
        load_settings(_env_file=None, data_dir=tmp_path, http_cors_origins=value)

"""The console bundle at `/`: SPA routing, caching, the build hint, and console-config."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from fleet_server.auth.roles import Grant, Principal, Role
from fleet_server.console_static import (
    IMMUTABLE,
    REVALIDATE,
    ConsoleConfig,
    mount_console,
)
from fleet_server.deps import get_auth, get_principal, get_session
from fleet_server.errors import install_problem_handlers

INDEX = b"<!doctype html><title>console</title><script src='/assets/app-1a2b3c.js'></script>"


def _app(dist: Path, config: ConsoleConfig | None = None) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/api/v1/ping")
    def ping() -> dict[str, str]:
        return {"pong": "yes"}

    mount_console(app, dist, config or ConsoleConfig(map_tile_url=None))

    @app.get("/late-route")
    def late_route() -> dict[str, str]:
        # Included after the console: must still answer, the fallback only acts on 404s.
        return {"late": "yes"}

    return app


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_bytes(INDEX)
    (tmp_path / "assets" / "app-1a2b3c.js").write_text("console.log('hi')")
    (tmp_path / "favicon.svg").write_text("<svg/>")
    return tmp_path


def test_index_and_client_routes_answer_index_html_revalidated(dist: Path) -> None:
    client = TestClient(_app(dist))
    for path in ("/", "/sites/clinic", "/missions/123/timeline"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.content == INDEX
        assert response.headers["cache-control"] == REVALIDATE
        assert response.headers["content-type"].startswith("text/html")


def test_hashed_assets_are_immutable_other_files_revalidated(dist: Path) -> None:
    client = TestClient(_app(dist))
    asset = client.get("/assets/app-1a2b3c.js")
    assert asset.status_code == 200
    assert asset.text == "console.log('hi')"
    assert asset.headers["cache-control"] == IMMUTABLE
    assert "javascript" in asset.headers["content-type"]
    icon = client.get("/favicon.svg")
    assert icon.headers["cache-control"] == REVALIDATE


def test_etag_revalidation_answers_304(dist: Path) -> None:
    client = TestClient(_app(dist))
    first = client.get("/")
    again = client.get("/", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""


def test_missing_assets_and_api_paths_stay_404(dist: Path) -> None:
    client = TestClient(_app(dist))
    assert client.get("/assets/gone-000.js").status_code == 404
    assert client.get("/robots.txt").status_code == 404
    api = client.get("/api/v1/nothing-here")
    assert api.status_code == 404
    assert api.headers["content-type"] == "application/problem+json"


def test_no_escape_from_the_bundle_directory(dist: Path, tmp_path: Path) -> None:
    (tmp_path.parent / "secret.txt").write_text("secret")
    client = TestClient(_app(dist))
    response = client.get("/../secret.txt")
    assert b"secret" not in response.content
    response = client.get("/%2e%2e/secret.txt")
    assert b"secret" not in response.content


def test_routes_win_over_the_console_whatever_their_order(dist: Path) -> None:
    client = TestClient(_app(dist))
    assert client.get("/api/v1/ping").json() == {"pong": "yes"}
    assert client.get("/late-route").json() == {"late": "yes"}
    assert client.post("/sites/clinic").status_code in (404, 405)


def test_without_a_bundle_the_root_says_how_to_build_it(tmp_path: Path) -> None:
    client = TestClient(_app(tmp_path / "dist"))
    response = client.get("/")
    assert response.status_code == 503
    assert "npm run build" in response.text
    assert response.headers["cache-control"] == "no-store"


def test_console_config_needs_sign_in_and_exposes_the_tile_url(dist: Path) -> None:
    config = ConsoleConfig(map_tile_url="https://tiles.example/{z}/{x}/{y}.png")
    app = _app(dist, config)
    # No services run here: stand in for the session and auth context the check asks for.
    app.dependency_overrides[get_session] = lambda: None
    app.dependency_overrides[get_auth] = lambda: None
    client = TestClient(app)
    assert client.get("/api/v1/console-config").status_code == 401
    app.dependency_overrides[get_principal] = lambda: Principal(
        1, "viewer", frozenset({Grant(Role.VIEWER, "clinic")})
    )
    body = client.get("/api/v1/console-config").json()
    assert body == {
        "map_tile_url": "https://tiles.example/{z}/{x}/{y}.png",
        "map_tile_attribution": None,
    }


def test_console_config_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEET_MAP_TILE_URL", "https://t.example/{z}/{x}/{y}.png")
    assert ConsoleConfig().map_tile_url == "https://t.example/{z}/{x}/{y}.png"

"""The console under its Content-Security-Policy: nothing it needs is blocked, the rest is.

Every page of the console is opened in Chromium with a listener for
`securitypolicyviolation` events in every frame (the report's srcdoc frame included) and
for console errors; one violation or error fails the test. A second server, configured
with a basemap tile host on another origin, shows tiles from that host load while an image
from any other origin and an injected inline script are blocked: the listener sees what it
should, so the first test's silence means something.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fleet_server.app import create_app
from fleet_server.broker import find_free_port
from fleet_server.settings import Settings
from tests.e2e.conftest import (
    ADMIN_PASSWORD,
    ConsoleServer,
    _start_server,
    wait_for,
)
from tests.e2e.test_console_browser import open_site, sign_in

_WATCH_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => {
  const what = `${e.effectiveDirective} blocked ${e.blockedURI || "inline"}`;
  window.__cspViolation(`${what} on ${e.documentURI}`);
});
"""
# 1x1 transparent PNG
_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000005000172a7d3ae0000000049454e44ae426082"
)


@pytest.fixture
def watched(browser: Any) -> Iterator[tuple[Any, list[str], list[str]]]:
    """A page whose CSP violations (any frame) and console errors are collected."""
    context = browser.new_context(locale="en-GB", viewport={"width": 1440, "height": 900})
    violations: list[str] = []
    errors: list[str] = []

    def record(violation: str) -> None:
        violations.append(violation)

    context.expose_function("__cspViolation", record)
    context.add_init_script(_WATCH_VIOLATIONS)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page, violations, errors
    context.close()


def _uv_mission(server: ConsoleServer) -> str:
    return server.create_mission(
        {
            "kind": "disinfection",
            "site": "clinic",
            "method": "uv",
            "target_dose_mj_cm2": 5,
            "targets": [{"waypoint": "L1_sub_waiting_area_2"}],
        }
    )


def test_every_console_page_works_without_a_csp_violation(
    watched: tuple[Any, list[str], list[str]], console_server: ConsoleServer
) -> None:
    page, violations, errors = watched
    uv = _uv_mission(console_server)
    response = page.goto(console_server.base_url + "/")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "'unsafe-inline'" not in csp
    sign_in(page, console_server, "admin", ADMIN_PASSWORD)
    page.wait_for_selector("[data-testid=site-marker-clinic]")
    assert wait_for(lambda: page.inner_text("[data-testid=feed-status]").endswith("live"), 10)
    open_site(page, console_server)  # floor plan (blob: image), canvas, live positions
    for path, ready in (
        ("/robots", "[data-testid=robots-table] tr"),
        ("/missions", "[data-testid=missions-table] tr"),
        (f"/missions/{uv}", "[data-testid=timeline]"),
        ("/alarms", "[data-testid=alarms-unavailable], [data-testid=alarms-table]"),
        ("/schedules", "[data-testid=next-occurrences] li"),
    ):
        page.goto(console_server.base_url + path)
        page.wait_for_selector(ready)
    assert wait_for(lambda: console_server.mission_state(uv) == "completed", 90, 1)
    page.goto(f"{console_server.base_url}/missions/{uv}/report")
    frame = page.wait_for_selector("[data-testid=report-frame]").content_frame()
    frame.wait_for_selector("table")
    # The report's stylesheet applied (allowed by its hash): its table has collapsed borders.
    collapse = frame.evaluate("getComputedStyle(document.querySelector('table')).borderCollapse")
    assert collapse == "collapse"
    page.wait_for_timeout(500)  # reports arrive asynchronously, while Playwright is called
    assert violations == []
    assert errors == []


class _Tiles(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(_PNG)))
        self.end_headers()
        self.wfile.write(_PNG)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def tile_server() -> Iterator[str]:
    """A basemap tile host on an origin of its own."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", find_free_port()), _Tiles)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def tiled_console(
    tile_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """A server (embedded broker, no robots) whose console shows basemap tiles."""
    monkeypatch.setenv("FLEET_MAP_TILE_URL", tile_server + "/{z}/{x}/{y}.png")
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="test",
        data_dir=tmp_path,
        embedded_mqtt_port=find_free_port(),
        admin_password=ADMIN_PASSWORD,
        argon2_profile="fast-insecure",
    )
    port = find_free_port()
    server, thread = _start_server(create_app(settings), port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)


def test_tiles_load_from_the_configured_host_and_nothing_else_does(
    watched: tuple[Any, list[str], list[str]], tiled_console: str, tile_server: str
) -> None:
    page, violations, errors = watched
    console = ConsoleServer(tiled_console, httpx.Client(), None, {}, 0)  # type: ignore[arg-type]
    sign_in(page, console, "admin", ADMIN_PASSWORD)
    page.wait_for_selector("[data-testid=city-map] img.tile")
    assert wait_for(
        lambda: page.evaluate(
            "[...document.querySelectorAll('img.tile')].every(i => i.complete && i.naturalWidth)"
        ),
        10,
    ), "basemap tiles did not load"
    page.wait_for_timeout(500)
    assert violations == [] and errors == []

    elsewhere = f"http://127.0.0.1:{find_free_port()}/x.png"
    page.evaluate(
        """(src) => {
          document.body.appendChild(Object.assign(new Image(), {src}));
          const s = document.createElement("script");
          s.textContent = "window.__inlineRan = true";
          document.body.appendChild(s);
        }""",
        elsewhere,
    )
    for _ in range(50):  # Playwright delivers the reports while it is called
        if len(violations) >= 2:
            break
        page.wait_for_timeout(100)
    assert any(v.startswith("img-src blocked " + elsewhere) for v in violations), violations
    assert any(v.startswith("script-src-elem blocked inline") for v in violations), violations
    assert page.evaluate("window.__inlineRan") is None
    assert not any(tile_server in v for v in violations)

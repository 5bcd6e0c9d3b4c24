"""Console benchmark: frame time of the site view with N robots streaming, in headless Chromium.

A small test server (Starlette under uvicorn, on a free loopback port) serves the built
console bundle exactly as the fleet server does (`fleet_server.console_static`), the
clinic's map, and a synthetic live stream on `WebSocket /api/v1/live` in the stream's
protocol (`fleet_server/live/protocol.py`): after `auth` and `subscribe`, one snapshot,
then deltas carrying every robot's complete entry at 5 Hz (the server's per-robot cap).
Robots drive back and forth along the clinic's lanes on level L1.

Debian's Chromium (Playwright) opens the site view and records, for `--duration` seconds,
the console's own per-frame draw time (`window.__fleetSiteStats`: static layer blit +
robots + interpolation) and the interval between animation frames. The baseline is the
same page in the same process with 0 robots streaming; the result is reported as ratios
to it.

    python bench/console.py --robots 500 --duration 10 --json

prints one line per run on stderr and, as its last stdout line, a JSON object with
robots, fps, frame_interval_p50_ms/p95_ms, draw_mean_ms/p95-free max, and the same for
the baseline plus the ratios. Needs `npm run build` in fleet_server/console and
/usr/bin/chromium.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from fleet_server.broker import find_free_port
from fleet_server.console_static import CONSOLE_DIST_DIR, ConsoleFallback
from missions.sites import import_site
from missions.sites.summary import site_summary

ROOT = Path(__file__).resolve().parents[1]
RMF = ROOT / "tests" / "fixtures" / "maps" / "rmf"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DELTA_HZ = 5.0
LEVEL = "L1"


@dataclass
class Mover:
    """A robot shuttling along one lane."""

    serial: str
    ax: float
    ay: float
    bx: float
    by: float
    phase: float
    speed: float

    def pose(self, t: float) -> dict[str, Any]:
        length = math.hypot(self.bx - self.ax, self.by - self.ay) or 1.0
        s = (self.phase + t * self.speed / length) % 2.0
        f = s if s <= 1.0 else 2.0 - s
        heading = math.atan2(self.by - self.ay, self.bx - self.ax) + (0 if s <= 1.0 else math.pi)
        return {
            "x": round(self.ax + (self.bx - self.ax) * f, 3),
            "y": round(self.ay + (self.by - self.ay) * f, 3),
            "theta": round(heading, 4),
            "map_id": LEVEL,
        }


class SyntheticFleet:
    """The clinic and `count` robots moving on its L1 lanes."""

    def __init__(self, count: int, seed: int = 7) -> None:
        self.site = import_site(RMF / "clinic.building.yaml", kind="hospital")
        level = self.site.level(LEVEL)
        by_id = {wp.id: wp for wp in level.waypoints}
        lanes = [(by_id[lane.start], by_id[lane.end]) for lane in level.lanes]
        rng = random.Random(seed)
        self.movers = []
        for k in range(count):
            a, b = lanes[k % len(lanes)]
            self.movers.append(
                Mover(f"bench-{k:04d}", a.x, a.y, b.x, b.y, rng.random() * 2, rng.uniform(0.5, 1.5))
            )
        self.started = time.monotonic()

    def entries(self) -> list[dict[str, Any]]:
        t = time.monotonic() - self.started
        now = datetime.now(UTC).isoformat()
        return [
            {
                "id": f"bench/{m.serial}",
                "manufacturer": "bench",
                "serial_number": m.serial,
                "site": "clinic",
                "online": True,
                "pose": m.pose(t),
                "battery": 80.0,
                "charging": False,
                "driving": True,
                "operating_mode": "AUTOMATIC",
                "paused": False,
                "order_id": "bench-order",
                "last_node_id": None,
                "errors": [],
                "last_seen": now,
            }
            for m in self.movers
        ]


def make_app(fleet: SyntheticFleet) -> Any:
    """The endpoints the site view reads, answered from the synthetic fleet."""
    site = fleet.site
    summary = site_summary(site)
    plan = (RMF / "clinic.png").read_bytes()

    async def token(_request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "access_token": "bench",
                "token_type": "bearer",
                "expires_in": 3600,
                "refresh_token": "r",
            }
        )

    async def me(_request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "username": "bench",
                "disabled": False,
                "roles": [{"role": "admin", "site_id": None}],
                "created_at": "2026-01-01T00:00:00Z",
                "locked_until": None,
            }
        )

    async def sites(_request: Request) -> JSONResponse:
        return JSONResponse(
            [
                {
                    "id": "clinic",
                    "name": "clinic",
                    "kind": "hospital",
                    "levels": summary["levels"],
                    "lifts": summary["lifts"],
                    "zones": summary["zones"],
                    "bbox_wgs84": list(summary["bbox_wgs84"]),
                    "geo_anchor": [114.0579, 22.5431],
                    "created_at": "2026-01-01T00:00:00Z",
                }
            ]
        )

    async def graph(_request: Request) -> JSONResponse:
        return JSONResponse(
            site.model_dump(mode="json", include={"name", "kind", "levels", "lifts"})
        )

    async def plan_png(_request: Request) -> Response:
        return Response(plan, media_type="image/png")

    async def config(_request: Request) -> JSONResponse:
        return JSONResponse({"map_tile_url": None, "map_tile_attribution": None})

    async def robots(_request: Request) -> JSONResponse:
        return JSONResponse([])

    async def live(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            await websocket.receive_text()  # auth
            await websocket.send_text(json.dumps({"type": "ready", "user": "bench"}))
            await websocket.receive_text()  # subscribe
            snapshot = {"type": "snapshot", "site": "clinic", "robots": fleet.entries()}
            await websocket.send_text(json.dumps({**snapshot, "missions": [], "alarms": []}))
            seq = 0
            while True:
                await asyncio.sleep(1 / DELTA_HZ)
                seq += 1
                frame = {"type": "delta", "seq": seq, "robots": fleet.entries(), "missions": []}
                await websocket.send_text(json.dumps(frame, separators=(",", ":")))
        except (WebSocketDisconnect, RuntimeError):
            return

    app = Starlette(
        routes=[
            Route("/api/v1/auth/token", token, methods=["POST"]),
            Route("/api/v1/users/me", me),
            Route("/api/v1/sites", sites),
            Route("/api/v1/sites/clinic/graph", graph),
            Route("/api/v1/sites/clinic/levels/{level}/plan.png", plan_png),
            Route("/api/v1/console-config", config),
            Route("/api/v1/robots", robots),
            WebSocketRoute("/api/v1/live", live),
        ]
    )
    return ConsoleFallback(app, CONSOLE_DIST_DIR)


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:
        return


def serve(app: Any) -> tuple[_Server, threading.Thread, int]:
    """The app under uvicorn in a thread on a free loopback port."""
    port = find_free_port()
    server = _Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("bench server did not start")
        time.sleep(0.05)
    return server, thread, port


MEASURE_JS = """
async (seconds) => {
  const stats = window.__fleetSiteStats;
  const start = {frames: stats.frames, draw: stats.drawMsTotal};
  stats.drawMsMax = 0;
  const intervals = [];
  let last = performance.now();
  const until = last + seconds * 1000;
  await new Promise((resolve) => {
    const tick = (now) => {
      intervals.push(now - last);
      last = now;
      if (now < until) requestAnimationFrame(tick); else resolve();
    };
    requestAnimationFrame(tick);
  });
  return {
    frames: stats.frames - start.frames,
    drawMsTotal: stats.drawMsTotal - start.draw,
    drawMsMax: stats.drawMsMax,
    robotsDrawn: stats.robotsDrawn,
    intervals,
  };
}
"""


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def measure(
    browser: Any, robots: int, duration_s: float, warmup_s: float, shot: Path | None = None
) -> dict[str, Any]:
    """Frame statistics of the site view with `robots` streaming."""
    fleet = SyntheticFleet(robots)
    server, thread, port = serve(make_app(fleet))
    try:
        context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="en")
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{port}/")
        page.fill("input[name=username]", "bench")
        page.fill("input[name=password]", "bench")
        page.click("button[type=submit]")
        page.wait_for_selector("[data-testid=who]")
        page.goto(f"http://127.0.0.1:{port}/sites/clinic")
        page.wait_for_selector("[data-testid=site-canvas]")
        page.wait_for_function(
            "n => window.__fleetSiteStats && window.__fleetSiteStats.robotsDrawn >= n",
            arg=robots,
            timeout=30_000,
        )
        time.sleep(warmup_s)
        raw = page.evaluate(MEASURE_JS, duration_s)
        if shot is not None:
            shot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shot))
        context.close()
    finally:
        server.should_exit = True
        thread.join(10)
    intervals = raw["intervals"][1:] or [0.0]
    frames = max(raw["frames"], 1)
    return {
        "robots": robots,
        "robots_drawn": raw["robotsDrawn"],
        "fps": round(len(intervals) / (sum(intervals) / 1000), 1),
        "frame_interval_p50_ms": round(percentile(intervals, 0.5), 2),
        "frame_interval_p95_ms": round(percentile(intervals, 0.95), 2),
        "draw_mean_ms": round(raw["drawMsTotal"] / frames, 3),
        "draw_max_ms": round(raw["drawMsMax"], 2),
    }


def main() -> int:
    """Run the baseline and the loaded view; print the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--robots", type=int, default=500)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured per run")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--json", action="store_true", help="last stdout line as JSON")
    parser.add_argument("--screenshot", type=Path, help="save the loaded site view as PNG here")
    args = parser.parse_args()
    if not (CONSOLE_DIST_DIR / "index.html").is_file():
        print(f"build the console first: no {CONSOLE_DIST_DIR}/index.html", file=sys.stderr)
        return 2
    if args.robots < 1:
        print("--robots must be at least 1", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        baseline = measure(browser, 0, args.duration, args.warmup)
        print(f"baseline: {baseline}", file=sys.stderr)
        loaded = measure(browser, args.robots, args.duration, args.warmup, args.screenshot)
        print(f"loaded:   {loaded}", file=sys.stderr)
        browser.close()
    result = {
        **loaded,
        "baseline": baseline,
        "fps_ratio_to_baseline": round(loaded["fps"] / baseline["fps"], 3),
        "draw_mean_ms_over_baseline": round(loaded["draw_mean_ms"] - baseline["draw_mean_ms"], 3),
    }
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

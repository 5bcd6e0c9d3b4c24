"""`fleet sim run`: a scenario against a real fleet server, ending in a KPI report.

The runner starts a server with an embedded broker on free ports and a temporary SQLite
data dir (or talks to one given by URL and token), stores the scenario's site and
registers its robots over the REST API, runs the world and the robots' real agents at the
time scale (`sim.runner.build_run`), submits the scenario's missions through
`POST /api/v1/missions` when their simulated time comes, and after the simulated duration
waits a bounded real time for missions still running. The report joins the server's view
(missions, events, disinfection reports, alarms) with the world's robot-side KPIs.

Timing noise: the server stamps missions with real time, so wait and completion times are
real intervals multiplied by the time scale, and they move with CPU load; the server's own
timers (reassignment grace, order resends) also run on real time. Counts and the fault
plan follow the seed; robot-side KPIs depend on when orders reach the robots, so they vary
a little between runs with one seed (the determinism test names its tolerance).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
import secrets
import socket
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import httpx
import uvicorn
import yaml

from fleet_server.app import create_app
from fleet_server.broker import find_free_port
from fleet_server.services import FleetServices
from fleet_server.settings import Settings
from fleet_server.sites.store import slugify
from sim.clock import SimClock
from sim.fleet import SimFleetThread
from sim.runner import RunOptions, SimRun, build_run
from sim.scenario import Scenario, ScenarioError, load_scenario, scenario_path
from sim.sitemaps import MAPS_DIR

log = logging.getLogger(__name__)

TERMINAL = ("completed", "failed", "cancelled")
TRAFFIC_REMOTE_NOTE = "traffic counters are read in process: not available here"
ADMIN = "admin"


class ScenarioRunError(RuntimeError):
    """The run could not start or talk to the server; the message says what failed."""


@dataclass(frozen=True)
class ScenarioRunOptions:
    """How `run_scenario` runs a scenario."""

    robots: int | None = None
    time_scale: float = 10.0
    duration_s: float | None = None
    """Simulated seconds to run (default: the scenario's duration)."""
    seed: int | None = None
    start_at: str | None = None
    """HH:MM: start the scenario's day at this time instead (same date and time zone)."""
    server: str | None = None
    token: str | None = None
    mqtt: str | None = None
    """The broker the server listens to, as robots reach it (with `server`)."""
    drain_s: float = 60.0
    """Real seconds to wait after the duration for missions still running."""
    faults: bool = True
    progress: TextIO | None = None


# --- the scenario ---------------------------------------------------------------------------


def prepare_scenario(name: str, start_at: str | None, workdir: Path) -> Scenario:
    """Load a scenario; with `start_at`, a copy whose day starts at that time."""
    if start_at is None:
        return load_scenario(name)
    path = scenario_path(name)
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    first = load_scenario(path)
    try:
        hour, minute = (int(p) for p in start_at.split(":"))
        start = first.file.start.replace(hour=hour, minute=minute, second=0, microsecond=0)
    except ValueError as exc:
        raise ScenarioError(f"start_at: must be a time of day HH:MM, got {start_at!r}") from exc
    raw["start"] = start.isoformat()
    map_ref = raw["site"]["map"]
    if (path.parent / map_ref).is_file():
        # The copy lives elsewhere: point it at the map by absolute path.
        raw["site"]["map"] = str((path.parent / map_ref).resolve())
    copy = workdir / path.name
    copy.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return load_scenario(copy)


def map_files(scenario: Scenario) -> tuple[Path, list[Path]]:
    """The scenario's map file and the images it names (to upload with it)."""
    ref = scenario.file.site.map
    candidate = (scenario.source.parent / ref).resolve()
    bundled = MAPS_DIR / (ref if ref.endswith(".yaml") else f"{ref}.building.yaml")
    path = candidate if candidate.is_file() else bundled
    text = path.read_text(encoding="utf-8")
    images = [
        p
        for p in sorted(path.parent.iterdir())
        if p.suffix.lower() in (".png", ".pgm", ".jpg", ".jpeg") and p.name in text
    ]
    return path, images


# --- the server -----------------------------------------------------------------------------


@dataclass
class Server:
    """Where the API is and how to restart its broker (in-process servers only)."""

    url: str
    token: str
    mqtt_url: str
    interface: str = "uagv"
    services: FleetServices | None = None

    def restart_broker(self, downtime_real_s: float) -> None:
        """Stop the embedded broker, wait, start it again (runs in a worker thread)."""
        broker = self.services.broker if self.services is not None else None
        if broker is None:
            log.warning("broker_restart fault: no embedded broker to restart; skipped")
            return
        broker.stop()
        time.sleep(downtime_real_s)
        broker.start()


@contextlib.asynccontextmanager
async def local_server(data_dir: Path) -> AsyncIterator[Server]:
    """A server with an embedded broker on free ports and SQLite in `data_dir`."""
    password = secrets.token_urlsafe(18)
    # Bind the HTTP socket now: a port only looked up as free could be handed to one of the
    # server's own outgoing connections while its lifespan starts, before uvicorn binds.
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    http_port = listener.getsockname()[1]
    settings = Settings(
        environment="development",
        data_dir=data_dir,
        database_url="",
        mqtt_url="embedded",
        embedded_mqtt_port=find_free_port(),
        http_host="127.0.0.1",
        http_port=http_port,
        admin_password=password,
        argon2_profile="fast-insecure",
        log_level="WARNING",
    )
    app = create_app(settings)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=settings.http_port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    serve = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        while not server.started:
            if serve.done():
                await serve
                raise ScenarioRunError("the fleet server stopped while starting")
            await asyncio.sleep(0.05)
        url = f"http://127.0.0.1:{settings.http_port}"
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            answer = await client.post(
                "/api/v1/auth/token", data={"username": ADMIN, "password": password}
            )
        if answer.status_code != 200:
            raise ScenarioRunError(f"sign-in at the local server failed: {answer.text}")
        endpoint = settings.mqtt_endpoint()
        yield Server(
            url=url,
            token=str(answer.json()["access_token"]),
            mqtt_url=f"mqtt://{endpoint.host}:{endpoint.port}",
            interface=settings.vda_interface,
            services=app.state.services,
        )
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await serve
        listener.close()


# --- talking to the API ---------------------------------------------------------------------


BUSY_STATUS = (429, 503)
"""Answers that say the server did not take the request and when to try again."""
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
BUSY_ATTEMPTS = 4
BUSY_WAIT_S = 0.5
"""Real seconds to wait before trying again when the server names no time."""
BUSY_WAIT_MAX_S = 5.0


def retry_after_s(answer: httpx.Response) -> float:
    """The answer's Retry-After in seconds (delay form), bounded; `BUSY_WAIT_S` without one."""
    try:
        seconds = float(answer.headers.get("Retry-After", ""))
    except ValueError:
        return BUSY_WAIT_S
    return min(max(seconds, 0.0), BUSY_WAIT_MAX_S) if math.isfinite(seconds) else BUSY_WAIT_S


class Api:
    """The few REST calls the runner makes, with errors that name the call."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def call(self, method: str, path: str, ok: tuple[int, ...], **kw: Any) -> Any:
        """One request; raises `ScenarioRunError` unless the status is in `ok`.

        A request the server did not take (429 or 503 with its Retry-After, or no
        connection made) is tried again a few times; one that may have been taken (a read
        time-out) is not, since creating a mission twice would skew the run.
        """
        for attempt in range(1, BUSY_ATTEMPTS + 1):
            try:
                answer = await self.client.request(method, path, **kw)
            except NOT_SENT as exc:
                if attempt < BUSY_ATTEMPTS:
                    await asyncio.sleep(BUSY_WAIT_S)
                    continue
                raise ScenarioRunError(f"{method} {path}: {type(exc).__name__} {exc}") from exc
            except httpx.HTTPError as exc:
                raise ScenarioRunError(f"{method} {path}: {type(exc).__name__} {exc}") from exc
            if answer.status_code in BUSY_STATUS and attempt < BUSY_ATTEMPTS:
                await asyncio.sleep(retry_after_s(answer))
                continue
            if answer.status_code not in ok:
                raise ScenarioRunError(f"{method} {path}: {answer.status_code} {answer.text[:300]}")
            return answer.json() if answer.content else None
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def pages(self, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Every item of a cursor-paged list."""
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            query = {**params, "limit": 200, **({"cursor": cursor} if cursor else {})}
            page = await self.call("GET", path, (200,), params=query)
            items.extend(page["items"])
            cursor = page.get("next_cursor")
            if not cursor:
                return items


async def provision(api: Api, scenario: Scenario, run: SimRun) -> str:
    """Store the site (unless stored) and register the run's robots; returns the site id."""
    site_id = slugify(scenario.file.site.name)
    found = await api.client.get(f"/api/v1/sites/{site_id}")
    if found.status_code == 404:
        path, images = map_files(scenario)
        files: list[tuple[str, tuple[str, bytes]]] = [("map_file", (path.name, path.read_bytes()))]
        files += [("images", (p.name, p.read_bytes())) for p in images]
        data = {"name": scenario.file.site.name, "kind": scenario.file.site.kind.value}
        await api.call("POST", "/api/v1/sites", (201,), files=files, data=data)
    elif found.status_code != 200:
        raise ScenarioRunError(f"GET /api/v1/sites/{site_id}: {found.status_code} {found.text}")
    for robot in run.robots:
        cfg = robot.config
        body = {
            "manufacturer": cfg.manufacturer,
            "serial_number": cfg.serial_number,
            "kind": cfg.robot.kind,
            "capabilities": list(cfg.robot.capabilities),
            "site_id": site_id,
        }
        # Each robot connects with its own MQTT account (issue 11): the password comes with
        # the registration, or from new credentials when it was registered before.
        credentials = await api.call("POST", "/api/v1/robots", (201, 409), json=body)
        if "mqtt_password" not in credentials:  # 409: registered already
            one = f"/api/v1/robots/{cfg.manufacturer}/{cfg.serial_number}/credentials"
            credentials = await api.call("POST", one, (200,))
        run.fleet.use_credentials(
            cfg.serial_number, credentials["mqtt_username"], credentials["mqtt_password"]
        )
    return site_id


# --- the run --------------------------------------------------------------------------------


@dataclass
class Submitted:
    """A mission the runner created."""

    entry: str
    kind: str
    at_s: float
    id: str | None
    error: str | None = None


@dataclass
class Progress:
    """One line on stderr: rewritten in place on a terminal, every 10 % otherwise."""

    out: TextIO | None
    duration_s: float
    _last_decile: int = -1
    _tty: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        self._tty = bool(self.out is not None and self.out.isatty())

    def show(self, t: float, now: datetime, submitted: list[Submitted]) -> None:
        """Report where the run is."""
        if self.out is None:
            return
        share = min(1.0, t / self.duration_s)
        line = (
            f"sim {now:%H:%M:%S} {share:4.0%} ({t:.0f}/{self.duration_s:.0f} s) "
            f"missions {len(submitted)} created"
        )
        if self._tty:
            bar = "#" * int(share * 20)
            self.out.write(f"\r[{bar:<20}] {line}")
        elif int(share * 10) > self._last_decile:
            self._last_decile = int(share * 10)
            self.out.write(line + "\n")
        self.out.flush()

    def end(self) -> None:
        """Finish the line."""
        if self.out is not None and self._tty:
            self.out.write("\n")
            self.out.flush()


async def run_scenario(name: str, options: ScenarioRunOptions) -> dict[str, Any]:
    """Run a scenario end to end and return its KPI report."""
    with tempfile.TemporaryDirectory(prefix="fleet-sim-") as tmp:
        workdir = Path(tmp)
        scenario = prepare_scenario(name, options.start_at, workdir)
        if options.server is None:
            async with local_server(workdir / "data") as server:
                return await _run_on(server, scenario, options)
        if not options.token or not options.mqtt:
            raise ScenarioRunError("--token and --mqtt: both needed with --server")
        server = Server(url=options.server.rstrip("/"), token=options.token, mqtt_url=options.mqtt)
        return await _run_on(server, scenario, options)


async def _run_on(
    server: Server, scenario: Scenario, options: ScenarioRunOptions
) -> dict[str, Any]:
    duration = options.duration_s or scenario.file.duration_s
    if not math.isfinite(duration) or duration <= 0:
        raise ScenarioRunError(f"duration: must be a positive number of seconds, got {duration}")
    headers = {"Authorization": f"Bearer {server.token}"}
    async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=30) as client:
        api = Api(client)
        run = build_run(
            scenario,
            RunOptions(
                broker_url=server.mqtt_url,
                interface=server.interface,
                robots=options.robots,
                seed=options.seed,
                time_scale=options.time_scale,
                faults=options.faults,
            ),
            clock=SimClock(options.time_scale, start=scenario.file.start),
            broker_restart=server.restart_broker if server.services is not None else None,
        )
        site_id = await provision(api, scenario, run)
        robot_kpis: dict[str, Any] = {}

        def snapshot_at_end() -> None:
            # Runs on the fleet's thread after each frame: freeze robot KPIs at the duration.
            if not robot_kpis and run.world.t >= duration:
                robot_kpis.update(run.kpis.summary())

        run.fleet.observers.append(snapshot_at_end)
        started = time.monotonic()
        since = datetime.now().astimezone()
        thread = SimFleetThread(run.fleet).start()
        try:
            await _await_online(api, run, site_id)
            submitted = await _drive(api, run, duration, options)
            drained = await _drain(api, submitted, options.drain_s)
            # Read the server's view before the robots stop: stopping takes them offline.
            rows = await _mission_rows(api, submitted, options.time_scale)
            alarms = await _alarms(api, site_id, since)
            traffic = _traffic(server)
        finally:
            await asyncio.to_thread(thread.stop)
        if not robot_kpis:
            robot_kpis.update(run.kpis.summary())
        real_s = time.monotonic() - started
        report = _report(run, site_id, rows, alarms, robot_kpis, duration, real_s, drained)
        report["traffic"] = traffic
        report["expect"] = check_expectations(scenario, report)
        return report


async def _await_online(api: Api, run: SimRun, site_id: str, timeout_s: float = 30) -> None:
    serials = {r.config.serial_number for r in run.robots}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        robots = await api.call("GET", "/api/v1/robots", (200,), params={"site_id": site_id})
        online = {r["serial_number"] for r in robots if r["online"] and r["pose"]}
        if serials <= online:
            return
        await asyncio.sleep(0.2)
    raise ScenarioRunError(f"robots not online after {timeout_s} s: {sorted(serials - online)}")


async def _drive(
    api: Api, run: SimRun, duration: float, options: ScenarioRunOptions
) -> list[Submitted]:
    """Submit each mission when its simulated time comes, until the duration is over."""
    queue = [m for m in run.scenario.missions if m.at_s < duration]
    submitted: list[Submitted] = []
    progress = Progress(options.progress, duration)
    while True:
        t = run.world.t
        while queue and queue[0].at_s <= t:
            mission = queue.pop(0)
            kind = str(mission.body["kind"])
            try:
                made = await api.call("POST", "/api/v1/missions", (201,), json=mission.body)
                submitted.append(Submitted(mission.entry, kind, mission.at_s, str(made["id"])))
            except ScenarioRunError as exc:
                log.warning("mission %s not created: %s", mission.entry, exc)
                submitted.append(Submitted(mission.entry, kind, mission.at_s, None, str(exc)))
        progress.show(t, run.scenario.file.start + timedelta(seconds=t), submitted)
        if t >= duration:
            break
        await asyncio.sleep(0.05)
    progress.end()
    return submitted


async def _drain(api: Api, submitted: list[Submitted], drain_s: float) -> bool:
    """Wait up to `drain_s` real seconds until every created mission has finished."""
    deadline = time.monotonic() + drain_s
    open_ids = {s.id for s in submitted if s.id is not None}
    while open_ids:
        for mission_id in sorted(open_ids):
            body = await api.call("GET", f"/api/v1/missions/{mission_id}", (200,))
            if body["state"] in TERMINAL:
                open_ids.discard(mission_id)
        if not open_ids or time.monotonic() >= deadline:
            break
        await asyncio.sleep(0.5)
    return not open_ids


# --- the report -----------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (linear interpolation), None without values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return round(ordered[low] + (ordered[high] - ordered[low]) * (pos - low), 3)


def _stamp(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


async def _mission_rows(
    api: Api, submitted: list[Submitted], time_scale: float
) -> list[dict[str, Any]]:
    rows = []
    for s in submitted:
        row: dict[str, Any] = {"entry": s.entry, "kind": s.kind, "at_s": s.at_s, "id": s.id}
        if s.id is None:
            rows.append({**row, "state": "rejected", "error": s.error})
            continue
        mission = await api.call("GET", f"/api/v1/missions/{s.id}", (200,))
        events = await api.call("GET", f"/api/v1/missions/{s.id}/events", (200,))
        created = _stamp(mission["created_at"])
        active = next((_stamp(e["at"]) for e in events if e["to_state"] == "active"), None)
        finished = _stamp(mission["finished_at"])
        report = None
        if mission["has_report"]:
            report = await api.call("GET", f"/api/v1/missions/{s.id}/report", (200,))
        row.update(
            state=mission["state"],
            robot=mission["robot"],
            # Server stamps are real time: scale them to simulated seconds.
            wait_s=_sim_interval(created, active, time_scale),
            completion_s=_sim_interval(created, finished, time_scale),
            planned_points=len(mission["spec"].get("targets", [])),
            report=_coverage(report),
        )
        rows.append(row)
    return rows


def _sim_interval(a: datetime | None, b: datetime | None, scale: float) -> float | None:
    if a is None or b is None:
        return None
    return round((b - a).total_seconds() * scale, 3)


def _coverage(report: Any) -> dict[str, Any] | None:
    if not isinstance(report, dict):
        return None
    points = report.get("points", [])
    return {
        "points": len(points),
        "points_passed": sum(1 for p in points if p.get("passed")),
        "passed": bool(report.get("passed")),
    }


def _mission_kpis(rows: list[dict[str, Any]]) -> dict[str, Any]:
    by_kind: dict[str, dict[str, Any]] = {}
    for kind in sorted({r["kind"] for r in rows}):
        mine = [r for r in rows if r["kind"] == kind]
        waits = [r["wait_s"] for r in mine if r.get("wait_s") is not None]
        done = [r["completion_s"] for r in mine if r.get("completion_s") is not None]
        by_kind[kind] = {
            "created": sum(1 for r in mine if r["id"] is not None),
            "rejected": sum(1 for r in mine if r["id"] is None),
            "completed": sum(1 for r in mine if r["state"] == "completed"),
            "failed": sum(1 for r in mine if r["state"] == "failed"),
            "cancelled": sum(1 for r in mine if r["state"] == "cancelled"),
            "unfinished": sum(1 for r in mine if r["id"] and r["state"] not in TERMINAL),
            "wait_s": {"p50": percentile(waits, 50), "p95": percentile(waits, 95)},
            "completion_s": {"p50": percentile(done, 50), "p95": percentile(done, 95)},
        }
    totals = {
        key: sum(k[key] for k in by_kind.values())
        for key in ("created", "rejected", "completed", "failed", "cancelled", "unfinished")
    }
    return {"totals": totals, "by_kind": by_kind}


def _disinfection(rows: list[dict[str, Any]]) -> dict[str, Any]:
    mine = [r for r in rows if r["kind"] == "disinfection" and r["id"] is not None]
    planned = passed = 0
    for r in mine:
        cov = r.get("report")
        # A mission without a report covered none of its targets.
        planned += cov["points"] if cov else r.get("planned_points", 0)
        passed += cov["points_passed"] if cov else 0
    return {
        "missions": len(mine),
        "points": planned,
        "points_passed": passed,
        "coverage": round(passed / planned, 4) if planned else None,
    }


async def _alarms(api: Api, site_id: str, since: datetime) -> dict[str, Any]:
    try:
        items = await api.pages("/api/v1/alarms", {"site_id": site_id})
    except ScenarioRunError as exc:
        return {"count": None, "note": f"alarms not available: {exc}"}
    mine = [a for a in items if datetime.fromisoformat(a["raised_at"]) >= since]
    codes: dict[str, int] = {}
    for a in mine:
        codes[a["code"]] = codes.get(a["code"], 0) + 1
    return {"count": len(mine), "by_code": dict(sorted(codes.items()))}


def check_expectations(scenario: Scenario, report: dict[str, Any]) -> dict[str, Any]:
    """Each `expect` target of the scenario with the run's value and whether it was met."""
    totals = report["missions"]["totals"]
    created = totals["created"] + totals["rejected"]
    actual: dict[str, float | int | None] = {
        "completion_ratio_min": totals["completed"] / created if created else None,
        "failed_max": totals["failed"],
        "reservation_conflicts_max": report["traffic"]["reservation_conflicts"],
        "deadlocks_max": report["traffic"]["deadlocks"],
        "disinfection_coverage_min": report["disinfection"]["coverage"],
        "alarms_min": report["alarms"]["count"],
        "utilisation_min": report["robots"]["fleet"]["utilisation"],
    }
    out: dict[str, Any] = {}
    for key, target in scenario.file.expect.model_dump().items():
        if target is None:
            continue
        value = actual[key]
        met = (
            None
            if value is None
            else (value <= target if key.endswith("_max") else value >= target)
        )
        out[key] = {"target": target, "actual": value, "met": met}
    out["all_met"] = all(v["met"] is not False for v in out.values())
    return out


def _traffic(server: Server) -> dict[str, Any]:
    """Traffic control's counters: conflicts, deadlocks (``deadlocks``: left unresolved)."""
    link = getattr(server.services.missions, "traffic", None) if server.services else None
    if link is None:
        return {"reservation_conflicts": None, "deadlocks": None, "note": TRAFFIC_REMOTE_NOTE}
    counters = dataclasses.asdict(link.counters)
    return {
        "reservation_conflicts": counters["reservation_conflicts"],
        "deadlocks": counters["deadlocks_unresolved"],
        **counters,
    }


def _report(
    run: SimRun,
    site_id: str,
    rows: list[dict[str, Any]],
    alarms: dict[str, Any],
    robot_kpis: dict[str, Any],
    duration: float,
    real_s: float,
    drained: bool,
) -> dict[str, Any]:
    return {
        "scenario": run.scenario.name,
        "site_id": site_id,
        "seed": run.seed,
        "start": run.scenario.file.start.isoformat(),
        "sim_duration_s": duration,
        "time_scale": run.options.time_scale,
        "robots_count": len(run.robots),
        "faults_planned": [f.model_dump(mode="json") for f in run.faults if f.at_s < duration],
        "missions": _mission_kpis(rows),
        "mission_list": rows,
        "robots": robot_kpis,
        "disinfection": _disinfection(rows),
        "alarms": alarms,
        "traffic": {"reservation_conflicts": None, "deadlocks": None},
        "drained": drained,
        "wall_clock": {
            "real_s": round(real_s, 3),
            "physics_overruns": run.fleet.overruns,
            "note": "timing fields: wall_clock, wait_s, completion_s (real time x time scale)",
        },
    }


def run_blocking(name: str, options: ScenarioRunOptions) -> dict[str, Any]:
    """`run_scenario` on a fresh event loop (for the CLI)."""
    return asyncio.run(run_scenario(name, options))

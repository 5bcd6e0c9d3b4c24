"""What the fault tests run: Mosquitto, the server as a child process (`fleet serve` on a
SQLite file, so it can be killed), simulated robots running the real agent on a scaled
clock, and a recorder of every VDA 5050 message on the broker."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt

from fleet_server.broker import MosquittoBroker, find_free_port
from missions.sites import import_site
from robot_agent.config import AgentConfig, RobotDescription
from sim.clock import SimClock
from sim.fleet import SimFleet, SimulatedRobot
from sim.kinematic import KinematicRobot
from tests.integration.faults.ledger import Ledger
from tests.support.mqtt import Captured, Recorder, wait_until

ROOT = Path(__file__).resolve().parents[3]
RMF = ROOT / "tests" / "fixtures" / "maps" / "rmf"
ADMIN_PASSWORD = "fault-tests-admin-password"
MANUFACTURER = "fleetsim"
TIME_SCALE = 6.0
"""Robots drive and dwell this many times faster than real time."""
ROBOT_KEEPALIVE_S = 2
"""MQTT keepalive of the robots (the broker's last will fires at 1.5 × this)."""
REASSIGN_AFTER_S = 3.0
"""Grace period of the server before a lost robot's mission goes to another robot."""

RecordProperty = Callable[[str, object], None]
"""pytest's `record_property` fixture: a measured number for the results table."""


class ServerProcess:
    """`fleet serve` as a child process with its own data directory and SQLite file."""

    def __init__(self, workdir: Path, mqtt_port: int, **env: str) -> None:
        self.workdir = workdir
        self.http_port = find_free_port()
        self.env = {
            **os.environ,
            "FLEET_ENVIRONMENT": "test",
            "FLEET_DATA_DIR": str(workdir / "var"),
            "FLEET_DATABASE_URL": f"sqlite:///{workdir / 'fleet.db'}",
            "FLEET_MQTT_URL": f"mqtt://127.0.0.1:{mqtt_port}",
            "FLEET_HTTP_PORT": str(self.http_port),
            "FLEET_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "FLEET_ARGON2_PROFILE": "fast-insecure",
            "FLEET_ROBOT_KEEPALIVE_S": str(ROBOT_KEEPALIVE_S),
            "FLEET_MISSION_REASSIGN_AFTER_S": str(REASSIGN_AFTER_S),
            "FLEET_LOG_LEVEL": "INFO",
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.http_port}", timeout=10)
        self._headers: dict[str, str] = {}

    def start(self, timeout_s: float = 90.0) -> float:
        """Start the server and sign in; returns the seconds until it answered."""
        self.starts += 1
        log = (self.workdir / f"server-{self.starts}.log").open("wb")
        began = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "fleet_cli.main", "serve"],
            env=self.env,
            cwd=self.workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        assert wait_until(self._signed_in, timeout_s, interval_s=0.2), self.log_tail()
        return time.monotonic() - began

    def _signed_in(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"server exited: {self.log_tail()}")
        try:
            response = self.http.post(
                "/api/v1/auth/token", data={"username": "admin", "password": ADMIN_PASSWORD}
            )
        except httpx.HTTPError:
            return False
        if response.status_code != 200:
            return False
        self._headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
        return True

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, nothing is flushed or said goodbye."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        """Stop cleanly (or kill if it hangs)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.http.close()

    def log_tail(self, lines: int = 40) -> str:
        text = ""
        for n in range(1, self.starts + 1):
            path = self.workdir / f"server-{n}.log"
            if path.exists():
                kept = [
                    line
                    for line in path.read_text(errors="replace").splitlines()
                    if "uvicorn.access" not in line
                ]
                text += f"--- server run {n} ---\n" + "\n".join(kept) + "\n"
        return "\n".join(text.splitlines()[-lines:])

    # -- the API, as admin ---------------------------------------------------------------

    def get(self, path: str) -> Any:
        response = self.http.get(path, headers=self._headers)
        assert response.status_code == 200, f"GET {path}: {response.status_code} {response.text}"
        return response.json()

    def post(self, path: str, **kwargs: Any) -> Any:
        response = self.http.post(path, headers=self._headers, **kwargs)
        assert response.status_code in (200, 201), f"POST {path}: {response.text}"
        return response.json()

    def mission(self, mission_id: str) -> dict[str, Any]:
        body: dict[str, Any] = self.get(f"/api/v1/missions/{mission_id}")
        return body

    def states(self, mission_ids: list[str]) -> dict[str, str]:
        return {m: str(self.mission(m)["state"]) for m in mission_ids}

    def events(self, mission_id: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = self.get(f"/api/v1/missions/{mission_id}/events")
        return events

    def alarms(self) -> list[dict[str, Any]]:
        alarms: list[dict[str, Any]] = self.get("/api/v1/alarms")
        return alarms

    def await_states(self, mission_ids: list[str], wanted: set[str], timeout_s: float) -> None:
        done = wait_until(
            lambda: all(s in wanted for s in self.states(mission_ids).values()),
            timeout_s,
            interval_s=0.3,
        )
        if not done:
            trail = {m: [(e["to_state"], e["cause"]) for e in self.events(m)] for m in mission_ids}
            raise AssertionError(
                f"missions not {wanted}: {self.states(mission_ids)}; events {trail}; "
                f"server log:\n{self.log_tail()}"
            )

    def create_clinic(self, robots: dict[str, list[str]]) -> None:
        """Upload the clinic site and register the robots (serial → capabilities)."""
        files = [
            ("map_file", ("clinic.building.yaml", (RMF / "clinic.building.yaml").read_bytes())),
            ("images", ("clinic.png", (RMF / "clinic.png").read_bytes())),
        ]
        self.post("/api/v1/sites", files=files, data={"kind": "hospital"})
        for serial, capabilities in robots.items():
            self.post(
                "/api/v1/robots",
                json={
                    "manufacturer": MANUFACTURER,
                    "serial_number": serial,
                    "kind": "service_robot",
                    "capabilities": capabilities,
                    "site_id": "clinic",
                },
            )

    def robots_online(self, serials: list[str]) -> bool:
        robots = self.get("/api/v1/robots")
        online = {r["serial_number"] for r in robots if r["online"] and r["pose"]}
        return set(serials) <= online

    def patrol(self, robot: str, checkpoints: list[str], dwell_s: float = 2.0) -> str:
        body = {
            "kind": "patrol",
            "site": "clinic",
            "dwell_s": dwell_s,
            "preferred_robot": robot,
            "checkpoints": checkpoints,
        }
        return str(self.post("/api/v1/missions", json=body)["id"])


class SimRobots:
    """Simulated robots on their own event loop in a thread, each with a cuttable link."""

    def __init__(
        self,
        broker_port: int,
        robots: dict[str, tuple[str, list[str]]],
        *,
        time_scale: float = TIME_SCALE,
        reconnect_max_s: float = 30.0,
    ) -> None:
        site = import_site(RMF / "clinic.building.yaml", kind="hospital")
        waypoints = {wp.name: wp for wp in site.all_waypoints() if wp.name}
        self.clock = SimClock(time_scale)
        simulated = []
        for serial, (start, capabilities) in robots.items():
            wp = waypoints[start]
            body = KinematicRobot(x=wp.x, y=wp.y, map_id=wp.level, max_speed_m_s=1.5)
            config = AgentConfig(
                manufacturer=MANUFACTURER,
                serial_number=serial,
                broker_url=f"mqtt://127.0.0.1:{broker_port}",
                keepalive_s=ROBOT_KEEPALIVE_S,
                state_interval_s=2.0 * time_scale,  # every 2 s of real time
                reconnect_min_s=0.5,
                reconnect_max_s=reconnect_max_s,
                robot=RobotDescription(capabilities=capabilities, max_speed_m_s=1.5),
            )
            simulated.append(SimulatedRobot(config=config, body=body))
        self.fleet = SimFleet(simulated, clock=self.clock, proxied=list(robots))
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name="fault-sim", daemon=True)

    def _main(self) -> None:
        async def run() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            self._ready.set()
            await self.fleet.run(self._stop)

        asyncio.run(run())

    def start(self) -> SimRobots:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def call(self, fn: Callable[..., object], *args: object) -> None:
        """Run fn(*args) on the fleet's loop and wait for it."""
        assert self._loop is not None
        done: concurrent.futures.Future[None] = concurrent.futures.Future()

        def run() -> None:
            try:
                fn(*args)
                done.set_result(None)
            except Exception as exc:  # handed to the caller
                done.set_exception(exc)

        self._loop.call_soon_threadsafe(run)
        done.result(10)

    def agent(self, serial: str) -> Any:
        index = [r.config.serial_number for r in self.fleet.robots].index(serial)
        return self.fleet.agents[index]

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread.is_alive():
            self._thread.join(15)


class TimedRecorder(Recorder):
    """A recorder that also notes when each message arrived (monotonic seconds)."""

    def __init__(self, port: int, topic_filter: str = "#") -> None:
        self.arrived: list[float] = []
        super().__init__(port, topic_filter)

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.arrived.append(time.monotonic())
            self.messages.append(Captured(msg.topic, bytes(msg.payload), msg.retain, msg.qos))

    def timed(self) -> list[tuple[float, str, bytes]]:
        with self._lock:
            return [
                (t, m.topic, m.payload) for t, m in zip(self.arrived, self.messages, strict=True)
            ]


@contextmanager
def broker_and_recorder() -> Iterator[tuple[MosquittoBroker, TimedRecorder]]:
    broker = MosquittoBroker(find_free_port())
    broker.start()
    recorder = TimedRecorder(broker.port, "uagv/v2/#")
    try:
        yield broker, recorder
    finally:
        recorder.close()
        broker.stop()


@dataclass
class Rig:
    """Mosquitto with its recorder, the server and the simulated robots of one test."""

    broker: MosquittoBroker
    recorder: TimedRecorder
    server: ServerProcess
    robots: SimRobots

    def ledger(self) -> Ledger:
        """What the broker saw so far."""
        return Ledger.read(self.recorder.timed())


@contextmanager
def running_fleet(
    workdir: Path,
    fleet: dict[str, tuple[str, list[str]]],
    *,
    online_s: float = 20.0,
    reconnect_max_s: float = 30.0,
    **env: str,
) -> Iterator[Rig]:
    """The server (``env``: settings over the defaults) with the clinic and the robots of
    ``fleet`` (serial -> start waypoint, capabilities), those robots running and online
    within ``online_s``; all stopped after."""
    with broker_and_recorder() as (broker, recorder):
        server = ServerProcess(workdir, broker.port, **env)
        robots = SimRobots(broker.port, fleet, reconnect_max_s=reconnect_max_s)
        try:
            server.start()
            server.create_clinic({serial: caps for serial, (_, caps) in fleet.items()})
            robots.start()
            assert wait_until(lambda: server.robots_online(list(fleet)), online_s)
            yield Rig(broker, recorder, server, robots)
        finally:
            robots.stop()
            server.stop()

"""The live stream over a real server: uvicorn on a socket, a real Mosquitto, robots that
publish VDA 5050 over paho, and WebSocket clients from the `websockets` library.

The server's listening socket and the slow client's socket get small kernel buffers, so a
client that stops reading pushes back on the server within kilobytes instead of the
megabytes Linux would otherwise buffer, and the server's own bounds are what is measured.
"""

from __future__ import annotations

import contextlib
import gc
import json
import socket
import threading
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
import uvicorn
from paho.mqtt.enums import CallbackAPIVersion
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from fleet_server.app import create_app
from fleet_server.auth.roles import Grant, Role
from fleet_server.auth.users import get_user
from fleet_server.broker import MosquittoBroker, find_free_port
from fleet_server.db.models import Alarm, Mission
from fleet_server.live.client import LiveClient
from fleet_server.live.entries import robot_entry
from fleet_server.live.protocol import ALL_SITES
from fleet_server.missions.runtime import MissionTransition
from fleet_server.missions.state_machine import start_lifecycle
from fleet_server.services import FleetServices
from tests.integration.api.cast import (
    ADMIN_PASSWORD,
    PASSWORD,
    add_sites_and_cast,
    add_user,
    app_settings,
)
from tests.support import vda_messages as vda
from tests.support.mqtt import wait_until
from tests.support.registry import admit_robots

MANUFACTURER = "acme"
STALL_TIMEOUT_S = 14.0
"""Long enough for the slow-client test to see a significant backlog offered on a busy
machine before the server drops the client."""
OUTBOX_FRAMES = 4
SMALL_SOCKET_BUFFER = 8 * 1024
LATENCY_BUDGET_S = 0.5


# -- the server ----------------------------------------------------------------------------------


class ServerThread:
    """uvicorn serving the app on a socket we made (small send buffer), in a thread."""

    def __init__(self, app: Any) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted connections inherit it (Linux): the kernel cannot hide a slow reader.
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SMALL_SOCKET_BUFFER)
        self.sock.bind(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        config = uvicorn.Config(app, log_config=None, lifespan="on", ws="auto")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def start(self) -> None:
        self.thread.start()
        if not wait_until(lambda: self.server.started, 30):
            raise RuntimeError("uvicorn did not start")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        self.sock.close()


class RobotPublisher:
    """Robots speaking VDA 5050 through one paho client."""

    def __init__(self, port: int) -> None:
        self._client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)
        self._client.connect("127.0.0.1", port)
        self._client.loop_start()
        self._header_ids = vda.HeaderIds()

    def _publish(self, serial: str, kind: str, message: dict[str, Any], qos: int) -> None:
        topic = f"uagv/v2/{MANUFACTURER}/{serial}/{kind}"
        self._client.publish(topic, vda.payload(message), qos=qos)

    def online(self, serial: str) -> None:
        header_id = self._header_ids.next_for(f"{serial}/connection")
        body = vda.connection(MANUFACTURER, serial, "ONLINE", header_id=header_id)
        self._publish(serial, "connection", body, qos=1)

    def pose(self, serial: str, x: float, y: float = 0.0) -> None:
        header_id = self._header_ids.next_for(f"{serial}/visualization")
        position = vda.agv_position(x, y)
        body = vda.visualization(MANUFACTURER, serial, position, header_id=header_id)
        self._publish(serial, "visualization", body, qos=0)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


@dataclass
class LiveServer:
    http: httpx.Client
    port: int
    services: FleetServices
    robots: RobotPublisher
    tokens: dict[str, str] = field(default_factory=dict)

    def token(self, username: str, password: str = PASSWORD) -> str:
        response = self.http.post(
            "/api/v1/auth/token", data={"username": username, "password": password}
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    def stream(self, token: str | None = None, **options: Any) -> Stream:
        return Stream(self.port, token, **options)

    def live_pose_x(self, serial: str) -> float | None:
        robot = self.services.live.get(MANUFACTURER, serial)
        return None if robot is None or robot.pose is None else robot.pose.x

    def add_mission(self, site_id: str, *, earliest_start: str | None = None) -> uuid.UUID:
        """A pending mission straight into the database (north and south have no maps, so the
        runtime cancels it at its next step unless `earliest_start` lies in the future)."""
        spec: dict[str, Any] = {"kind": "patrol"}
        if earliest_start is not None:
            spec["earliest_start"] = earliest_start
        with self.services.db.session() as session:
            mission = Mission(site_id=site_id, kind="patrol", priority="normal", spec=spec)
            start_lifecycle(mission, "created by test", "test", session)
            session.commit()
            return mission.id


ROBOT_SITES = {"n1": "north", "n2": "north", "s1": "south"}
"""Registered robots; `u1` reports without being registered (and is ignored, issue 11)."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    folder: Path = tmp_path_factory.mktemp("live")
    broker = MosquittoBroker(find_free_port())
    broker.start()
    settings = app_settings(
        broker.port,
        f"sqlite:///{folder / 'fleet.db'}",
        folder,
        live_stall_timeout_s=STALL_TIMEOUT_S,
        live_outbox_frames=OUTBOX_FRAMES,
        live_auth_timeout_s=1.0,
        live_reauth_interval_s=1.0,
    )
    app = create_app(settings)
    uvicorn_thread = ServerThread(app)
    uvicorn_thread.start()
    robots = RobotPublisher(broker.port)
    try:
        services: FleetServices = app.state.services
        add_sites_and_cast(services)
        for site in sorted(set(ROBOT_SITES.values())):
            serials = [serial for serial, at in ROBOT_SITES.items() if at == site]
            admit_robots(services, MANUFACTURER, serials, site_id=site)
        with services.db.session() as session:
            session.add(
                Alarm(
                    site_id="north",
                    source="system",
                    severity="warning",
                    code="test.open",
                    message="an open alarm at north",
                )
            )
            session.commit()
        services.hub.refresh_directory_soon()
        assert wait_until(lambda: services.hub.site_of((MANUFACTURER, "n1")) == "north", 15)
        for serial in (*ROBOT_SITES, "u1"):
            robots.online(serial)
            robots.pose(serial, 1.0)
        assert wait_until(
            lambda: all(server_x == 1.0 for server_x in _poses(services, ROBOT_SITES)), 10
        )
        with httpx.Client(base_url=f"http://127.0.0.1:{uvicorn_thread.port}") as http:
            live_server = LiveServer(http, uvicorn_thread.port, services, robots)
            live_server.tokens["admin"] = live_server.token("admin", ADMIN_PASSWORD)
            for username in ("viewer_north", "viewer_south", "dispatcher_north", "no_roles"):
                live_server.tokens[username] = live_server.token(username)
            yield live_server
    finally:
        robots.close()
        uvicorn_thread.stop()
        broker.stop()


def _poses(services: FleetServices, serials: dict[str, str]) -> list[float | None]:
    poses = []
    for serial in serials:
        robot = services.live.get(MANUFACTURER, serial)
        poses.append(None if robot is None or robot.pose is None else robot.pose.x)
    return poses


# -- the client ----------------------------------------------------------------------------------


@dataclass
class Received:
    frame: dict[str, Any]
    at: float


class Stream:
    """One live-stream client; `frames` keeps everything received, with receive times."""

    def __init__(
        self,
        port: int,
        token: str | None,
        *,
        rcvbuf: int | None = None,
        max_queue: int = 16,
    ) -> None:
        url = f"ws://127.0.0.1:{port}/api/v1/live"
        if token is not None:
            url += f"?token={token}"
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.connect(("127.0.0.1", port))
        self.ws: ClientConnection = connect(
            # No client-side keepalive: a client that stops reading must be dropped by the
            # server's stall timeout, not by its own unanswered pings.
            url,
            sock=sock,
            compression=None,
            max_queue=max_queue,
            open_timeout=10,
            ping_interval=None,
        )
        self.frames: list[Received] = []

    def send(self, message: dict[str, Any]) -> None:
        self.ws.send(json.dumps(message))

    def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        text = self.ws.recv(timeout=timeout)
        frame: dict[str, Any] = json.loads(text)
        self.frames.append(Received(frame, time.monotonic()))
        return frame

    def until(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 5.0) -> Received:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError("no matching frame in time")
            try:
                frame = self.recv(remaining)
            except TimeoutError as exc:
                raise AssertionError("no matching frame in time") from exc
            if predicate(frame):
                return self.frames[-1]

    def collect(self, seconds: float) -> list[Received]:
        """Everything received within `seconds`."""
        start = len(self.frames)
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            with contextlib.suppress(TimeoutError):
                self.recv(remaining)
        return self.frames[start:]

    def closed_with(self, timeout: float = 5.0) -> tuple[int, str]:
        """Read until the server closes; its close code and reason."""
        closing = self.close_frame(timeout)
        assert closing is not None, "closed without a close frame"
        return closing

    def close_frame(self, timeout: float = 5.0) -> tuple[int, str] | None:
        """Read until the connection ends; the server's close code and reason, if sent."""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                with contextlib.suppress(TimeoutError):
                    self.recv(max(0.01, deadline - time.monotonic()))
        except ConnectionClosed as closed:
            return None if closed.rcvd is None else (closed.rcvd.code, closed.rcvd.reason)
        raise AssertionError("the server did not close the connection")

    def subscribe(self, *sites: str) -> dict[str, Any]:
        """Subscribe and return the (first) snapshot."""
        self.send({"type": "subscribe", "sites": list(sites)})
        return self.until(lambda f: f["type"] == "snapshot").frame

    def close(self) -> None:
        self.ws.close()


@contextlib.contextmanager
def streaming(server: LiveServer, username: str, *sites: str) -> Iterator[Stream]:
    stream = server.stream(server.tokens[username])
    try:
        assert stream.recv()["type"] == "ready"
        if sites:
            stream.subscribe(*sites)
        yield stream
    finally:
        stream.close()


def robot_entries(received: list[Received], serial: str) -> list[tuple[dict[str, Any], float]]:
    wanted = f"{MANUFACTURER}/{serial}"
    return [
        (robot, r.at)
        for r in received
        if r.frame["type"] == "delta"
        for robot in r.frame["robots"]
        if robot["id"] == wanted
    ]


def mission_entry(frame: dict[str, Any], mission_id: uuid.UUID) -> dict[str, Any] | None:
    if frame["type"] != "delta":
        return None
    return next((m for m in frame["missions"] if m["id"] == str(mission_id)), None)


# -- the tests -------------------------------------------------------------------------------------


def test_snapshot_then_pose_and_mission_changes_within_half_a_second(server: LiveServer) -> None:
    waiting = server.add_mission("north", earliest_start="2999-01-01T00:00:00+00:00")
    committed: dict[uuid.UUID, tuple[str, float]] = {}

    def note(moved: MissionTransition) -> None:
        committed[moved.mission_id] = (moved.to_state.value, time.monotonic())

    remove_hook = server.services.missions.add_transition_hook(note)
    try:
        with streaming(server, "viewer_north") as stream:
            snapshot = stream.subscribe("north")
            assert snapshot["site"] == "north"
            robots = {r["id"]: r for r in snapshot["robots"]}
            assert set(robots) == {"acme/n1", "acme/n2"}
            assert robots["acme/n1"]["online"] is True
            assert robots["acme/n1"]["site"] == "north"
            assert robots["acme/n1"]["pose"]["x"] == server.live_pose_x("n1")
            assert [m["id"] for m in snapshot["missions"]] == [str(waiting)]
            assert snapshot["missions"][0]["state"] == "pending"
            assert [a["code"] for a in snapshot["alarms"]] == ["test.open"]

            # A robot moves.
            published = time.monotonic()
            server.robots.pose("n1", 7.25, 3.5)
            moved = stream.until(
                lambda f: any(
                    r["id"] == "acme/n1" and r["pose"]["x"] == 7.25 for r in f.get("robots", ())
                )
            )
            assert moved.frame["type"] == "delta"
            assert moved.at - published < LATENCY_BUDGET_S

            # The runtime moves a mission (in its worker thread): this one cannot be
            # planned on a site without a map, so it is cancelled at the next step.
            doomed = server.add_mission("north")
            server.services.missions.poke()
            got = stream.until(
                lambda f: (m := mission_entry(f, doomed)) is not None and m["state"] == "cancelled"
            )
            state, at = committed[doomed]
            assert state == "cancelled"
            assert got.at - at < LATENCY_BUDGET_S

            # A dispatcher cancels through the API.
            headers = {"Authorization": f"Bearer {server.tokens['dispatcher_north']}"}
            response = server.http.post(f"/api/v1/missions/{waiting}/cancel", headers=headers)
            answered = time.monotonic()
            assert response.status_code == 200, response.text
            got = stream.until(
                lambda f: (m := mission_entry(f, waiting)) is not None and m["state"] == "cancelled"
            )
            assert got.at - answered < LATENCY_BUDGET_S
            entry = mission_entry(got.frame, waiting)
            assert entry is not None
            assert entry["site"] == "north"
            assert "dispatcher_north" in entry["cause"]
            seqs = [r.frame["seq"] for r in stream.frames if r.frame["type"] == "delta"]
            assert seqs == list(range(1, len(seqs) + 1))
    finally:
        remove_hook()


def test_robot_updates_are_capped_at_5_hz_and_the_latest_wins(server: LiveServer) -> None:
    with streaming(server, "viewer_north", "north") as stream:
        seconds, hz = 3.0, 50
        start = time.monotonic()
        x = 0.0
        for i in range(int(seconds * hz)):
            x = 100.0 + i
            server.robots.pose("n2", x)
            time.sleep(max(0.0, start + (i + 1) / hz - time.monotonic()))
        received = stream.collect(0.6)
    entries = robot_entries(stream.frames, "n2")
    # 5 Hz over 3 s is 15 updates (16 when the window catches both ends).
    assert 8 <= len(entries) <= int(seconds * 5) + 1, len(entries)
    assert entries[-1][0]["pose"]["x"] == x, "the last state must win"
    assert received or entries


def test_a_site_stream_carries_only_that_sites_robots(server: LiveServer) -> None:
    with (
        streaming(server, "viewer_north", "north") as north,
        streaming(server, "admin") as everything,
    ):
        snapshot = everything.subscribe(ALL_SITES)
        assert snapshot["site"] == ALL_SITES
        ids = {r["id"]: r["site"] for r in snapshot["robots"]}
        # u1 is registered nowhere: its messages never reach the live state (issue 11).
        assert ids == {"acme/n1": "north", "acme/n2": "north", "acme/s1": "south"}
        for serial in ("n1", "s1", "u1"):
            server.robots.pose(serial, 42.0)
        north_frames = north.collect(0.8)
        all_frames = everything.collect(0.3)
        assert robot_entries(north_frames, "n1")
        assert not robot_entries(north_frames, "s1")
        assert not robot_entries(north_frames, "u1")
        for serial in ("n1", "s1"):
            assert robot_entries(everything.frames, serial), serial
        assert not robot_entries(everything.frames, "u1")
        assert all_frames or everything.frames

        north.send({"type": "unsubscribe", "sites": ["north"]})
        time.sleep(0.3)
        server.robots.pose("n1", 43.0)
        assert not robot_entries(north.collect(0.6), "n1")


@dataclass(frozen=True)
class AlarmChanged:
    """The shape the alarms service announces changes in."""

    alarm: Alarm


def test_alarms_and_schedules_reach_the_sites_subscribers(server: LiveServer) -> None:
    with (
        streaming(server, "viewer_north", "north") as north,
        streaming(server, "viewer_south", "south") as south,
    ):
        # Raised: stored by whoever raises it; the hub's catch-up read finds it.
        with server.services.db.session() as session:
            alarm = Alarm(
                site_id="north",
                manufacturer=MANUFACTURER,
                serial_number="n1",
                source="robot",
                severity="critical",
                code="robot.stuck",
                message="n1 cannot move",
            )
            session.add(alarm)
            session.commit()
            alarm_id = alarm.id

        def has_alarm(frame: dict[str, Any], **fields: Any) -> bool:
            return frame["type"] == "delta" and any(
                a["id"] == alarm_id and all(a[k] == v for k, v in fields.items())
                for a in frame["alarms"]
            )

        raised = north.until(lambda f: has_alarm(f, code="robot.stuck"), timeout=3)
        entry = next(a for a in raised.frame["alarms"] if a["id"] == alarm_id)
        assert (entry["robot"], entry["severity"], entry["acknowledged_at"]) == (
            "acme/n1",
            "critical",
            None,
        )
        # Acknowledged: announced by the alarms service's listener (from any thread).
        with server.services.db.session() as session:
            stored = session.get(Alarm, alarm_id)
            assert stored is not None
            stored.acknowledged_by = "dispatcher_north"
            stored.acknowledged_at = datetime.now(UTC)
            session.commit()
            server.services.hub.on_alarm_event(AlarmChanged(stored))
        north.until(lambda f: has_alarm(f, acknowledged_by="dispatcher_north"), timeout=1)

        server.services.hub.publish_schedule("north", {"id": 7, "name": "night patrol"})
        got = north.until(lambda f: f["type"] == "delta" and bool(f["schedules"]), timeout=1)
        assert got.frame["schedules"] == [{"id": 7, "name": "night patrol"}]
        south_frames = south.collect(0.5)
        assert not any(
            f.frame["type"] == "delta" and (f.frame["alarms"] or f.frame["schedules"])
            for f in south_frames
        )


def test_a_client_with_too_many_changes_waiting_gets_a_fresh_snapshot(server: LiveServer) -> None:
    with streaming(server, "viewer_north", "north") as stream:
        (client,) = [
            c for c in server.services.hub.clients if c.principal.username == "viewer_north"
        ]
        client.max_pending = 3
        before = client.stats.resnapshots
        for schedule_id in range(10):  # all within one flush interval
            server.services.hub.publish_schedule("north", {"id": schedule_id})
        again = stream.until(lambda f: f["type"] == "snapshot", timeout=3)
        assert again.frame["site"] == "north"
        assert {r["id"] for r in again.frame["robots"]} == {"acme/n1", "acme/n2"}
        assert client.stats.resnapshots > before
        stream.collect(0.3)
        seqs = [r.frame["seq"] for r in stream.frames if r.frame["type"] == "delta"]
        assert seqs == list(range(1, len(seqs) + 1)), "a resnapshot loses no delta numbers"
        delivered = [
            sch["id"]
            for r in stream.frames
            if r.frame["type"] == "delta"
            for sch in r.frame["schedules"]
        ]
        assert len(delivered) <= 3, "what piled up past the cap is replaced by the snapshot"


def test_bad_credentials_and_scope_close_with_4401_and_4403(server: LiveServer) -> None:
    bad = server.stream("not-a-token")
    assert bad.closed_with()[0] == 4401

    not_auth_first = server.stream()
    not_auth_first.send({"type": "subscribe", "sites": ["north"]})
    assert not_auth_first.closed_with()[0] == 4401

    silent = server.stream()
    code, reason = silent.closed_with(timeout=5)
    assert code == 4401
    assert "auth" in reason

    no_roles = server.stream()
    no_roles.send({"type": "auth", "token": server.tokens["no_roles"]})
    assert no_roles.closed_with()[0] == 4403

    south = server.stream()
    south.send({"type": "auth", "token": server.tokens["viewer_south"]})
    assert south.recv()["type"] == "ready"
    south.send({"type": "subscribe", "sites": ["north"]})
    code, reason = south.closed_with()
    assert (code, reason) == (4403, "may not view site 'north'")

    one_site = server.stream(server.tokens["viewer_north"])
    assert one_site.recv()["type"] == "ready"
    one_site.send({"type": "subscribe", "sites": [ALL_SITES]})
    assert one_site.closed_with()[0] == 4403


def test_bad_messages_get_errors_naming_the_field(server: LiveServer) -> None:
    with streaming(server, "admin") as stream:
        stream.ws.send("{not json")
        assert stream.recv()["field"] == "message"
        stream.send({"type": "subscribe", "sites": ["north", 7]})
        assert stream.recv() == {
            "type": "error",
            "field": "sites[1]",
            "message": "expected a site id of 1 to 64 characters",
        }
        stream.send({"type": "subscribe", "sites": ["north", "atlantis"]})
        error = stream.recv()
        assert (error["type"], error["field"]) == ("error", "sites[1]")
        assert stream.recv()["type"] == "snapshot"


def test_a_session_that_ends_closes_the_stream(server: LiveServer) -> None:
    username = add_user(server.services, [Grant(Role.VIEWER, "north")])
    stream = server.stream(server.token(username))
    assert stream.recv()["type"] == "ready"
    stream.subscribe("north")
    with server.services.db.session() as session:
        get_user(session, username).disabled = True
        session.commit()
    code, reason = stream.closed_with(timeout=5)
    assert code == 4401
    assert "session ended" in reason


STACK_DEPTH = 6
SIGNIFICANT_BYTES = 200_000
# Memory allocated anywhere below the live stream's code or the server's WebSocket and
# transport layers; the ingest's own backlog (when the machine is busy) is not the subject.
STREAM_CODE = [
    tracemalloc.Filter(True, "*/fleet_server/live/*", all_frames=True),
    tracemalloc.Filter(True, "*/uvicorn/*", all_frames=True),
    tracemalloc.Filter(True, "*/starlette/*", all_frames=True),
    tracemalloc.Filter(True, "*/asyncio/*", all_frames=True),
]


def _slow_client(server: LiveServer) -> LiveClient:
    clients = [c for c in server.services.hub.clients if ALL_SITES in c.sites]
    assert len(clients) == 1
    return clients[0]


def test_a_client_that_stops_reading_costs_bounded_memory_then_is_dropped(
    server: LiveServer,
) -> None:
    fleet = [f"load-{i:03d}" for i in range(100)]
    admit_robots(server.services, MANUFACTURER, fleet, site_id="north")
    stop = threading.Event()

    published: list[float] = []
    failures: list[BaseException] = []

    def publish() -> None:
        x = 0.0
        try:
            while not stop.is_set():
                x += 0.5
                for serial in fleet:
                    server.robots.pose(serial, x)
                published.append(x)
                stop.wait(0.1)
        except BaseException as exc:  # reported by the assertion below
            failures.append(exc)
            raise

    publisher = threading.Thread(target=publish, daemon=True)
    publisher.start()
    hub = server.services.hub
    too_slow_before = hub.stats.disconnects["too_slow"]
    try:
        assert wait_until(lambda: all(server.live_pose_x(s) for s in fleet), 10)
        stream = server.stream(server.tokens["admin"], rcvbuf=SMALL_SOCKET_BUFFER, max_queue=1)
        assert stream.recv()["type"] == "ready"
        stream.subscribe(ALL_SITES)
        client = _slow_client(server)
        robot = server.services.live.get(MANUFACTURER, fleet[0])
        assert robot is not None
        entry_bytes = len(json.dumps(robot_entry(robot, None)))
        # From here on the client reads nothing. Let the buffers on the way fill up.
        assert wait_until(lambda: client.stats.deferred_flushes > 0, 5)
        tracemalloc.start(STACK_DEPTH)
        try:
            time.sleep(0.5)
            gc.collect()  # paho's topic matcher leaves cyclic garbage: count live memory only
            base = tracemalloc.take_snapshot().filter_traces(STREAM_CODE)
            offered_before = client.stats.offered
            seen_before = server.live_pose_x(fleet[0])
            outbox_sizes = []
            pending_sizes = []
            # Until what an unbounded queue would hold is large enough to see (a busy
            # machine delivers fewer updates per second), within the stall timeout.
            deadline = time.monotonic() + STALL_TIMEOUT_S - 3.0
            while time.monotonic() < deadline and (
                (client.stats.offered - offered_before) * entry_bytes < 2 * SIGNIFICANT_BYTES
            ):
                time.sleep(0.1)
                outbox_sizes.append(client.outbox.qsize())
                pending_sizes.append(client.pending_count())
            gc.collect()
            final = tracemalloc.take_snapshot().filter_traces(STREAM_CODE)
            offered = client.stats.offered - offered_before
        finally:
            tracemalloc.stop()
        grown = sum(stat.size_diff for stat in final.compare_to(base, "filename"))
        unbounded = offered * entry_bytes
        assert unbounded > SIGNIFICANT_BYTES, (
            "the load is too light to show anything: "
            f"{offered} updates offered; published up to x={published[-1:]}, "
            f"publisher failed with {failures}; the server saw robot 0 at x={seen_before} "
            f"then x={server.live_pose_x(fleet[0])}; client close request "
            f"{client.close_request}, stats {client.stats}; hub {hub.stats}"
        )
        assert max(outbox_sizes) <= OUTBOX_FRAMES
        assert max(pending_sizes) <= len(fleet) + len(ROBOT_SITES) + 1
        print(f"live memory grew {grown} B while {unbounded} B of updates were offered")
        # What stays is one pending entry per robot (about 1.3 KB for each of the 100
        # registered robots here), not what was offered.
        assert grown < unbounded / 3, (grown, unbounded)

        # Still not reading: after STALL_TIMEOUT_S the server gives up on it.
        assert wait_until(
            lambda: hub.stats.disconnects["too_slow"] == too_slow_before + 1,
            STALL_TIMEOUT_S + 5,
        )
        # The server counted the drop above. Its close frame queues behind what filled the
        # client's buffer and is lost if the server aborts the connection first; when it
        # does arrive it must say why.
        closing = stream.close_frame(timeout=10)
        if closing is not None:
            assert closing == (4408, closing[1]) and "too slow" in closing[1]
    finally:
        stop.set()
        publisher.join(5)

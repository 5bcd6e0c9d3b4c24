"""Ingest benchmark: N simulated robots → a real Mosquitto → the server's ingest, measured.

Processes, all started here:

* Mosquitto on a free port (`fleet_server.broker.MosquittoBroker`, TCP_NODELAY on);
* the server side: `MqttLink` + `Ingest` + `LiveFleet` (+ the `OrderPublisher`'s state
  listener) wired exactly as `fleet_server.services` wires them, no HTTP;
* a bare paho subscriber that only counts messages: the baseline (`raw_rate`);
* a few publisher processes, each driving its share of the robots, one MQTT connection
  per robot, with paho's socket loop run by hand so one process carries hundreds of robots.

Every robot publishes a realistic state (an order in progress: node, edge and action
states, battery, position, velocity, safety) at 1 Hz and a visualization at 2 Hz, built
with the `missions.vda5050` models and encoded as the agent does. headerIds count up per
robot and topic; the header timestamp is the send time (ms resolution, truncated, so
latencies read up to 1 ms high). The server records, for every state and visualization
it ingests, now - header timestamp at the moment the live state was updated.

    python bench/ingest.py --robots 2000 --duration 30 --json

prints progress on stderr and, as its last stdout line, one JSON object with robots,
offered_rate, delivered_rate, loss, p50_ms, p99_ms, server_cpu_pct, server_rss_mb,
raw_rate, ratio_to_raw (and further detail keys).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import heapq
import json
import math
import multiprocessing as mp
import os
import random
import selectors
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection as Pipe
from typing import Any

import paho.mqtt.client as mqtt
import psutil
from paho.mqtt.enums import CallbackAPIVersion

from fleet_server.broker import MosquittoBroker, find_free_port
from fleet_server.fleet.ingest import Ingest, tune_gc_for_ingest
from fleet_server.fleet.live_state import LiveFleet, RobotEvent, RobotLive
from fleet_server.fleet.orders import OrderPublisher
from fleet_server.mqtt_client import MqttLink
from fleet_server.settings import MqttEndpoint
from missions.vda5050 import (
    ActionState,
    ActionStatus,
    AgvPosition,
    BatteryState,
    Connection,
    ConnectionState,
    EdgeState,
    EStop,
    InfoLevel,
    Information,
    Map,
    MapStatus,
    NodePosition,
    NodeState,
    OperatingMode,
    SafetyState,
    State,
    TopicKind,
    Velocity,
    Visualization,
    decode_state,
    decode_visualization,
    encode,
    topic_for,
    utc_timestamp,
)

MANUFACTURER = "benchco"
INTERFACE = "uagv"
STATE_PERIOD_S = 1.0
VISUALIZATION_PERIOD_S = 0.5
HOST = "127.0.0.1"


def serial_of(robot: int) -> str:
    """The serial number of simulated robot `robot`."""
    return f"bench-{robot:05d}"


# payloads -------------------------------------------------------------------------------


def _pose(robot: int, t: float) -> tuple[float, float, float]:
    # Each robot drives its own circle on a shared floor.
    phase = (robot * 0.61803) % 1.0
    angle = 2 * math.pi * (phase + t / 120.0)
    cx, cy = (robot % 50) * 4.0, (robot // 50) * 4.0
    theta = math.atan2(math.cos(angle), -math.sin(angle))
    return cx + 1.5 * math.cos(angle), cy + 1.5 * math.sin(angle), theta


def state_template(robot: int) -> State:
    """A patrol robot half-way through an order: what a real state carries."""
    order_id = f"patrol-{robot}-1"
    nodes = [
        NodeState(
            node_id=f"cp-{k}",
            sequence_id=2 * k,
            released=k < 4,
            node_position=NodePosition(x=float(k), y=float(robot % 7), map_id="hospital-L1"),
        )
        for k in range(2, 6)
    ]
    edges = [
        EdgeState(edge_id=f"e-{k}-{k + 1}", sequence_id=2 * k + 1, released=k < 3)
        for k in range(2, 5)
    ]
    actions = [
        ActionState(action_id=f"{order_id}-check-{k}", action_type="patrolCheck", action_status=s)
        for k, s in enumerate(
            [
                ActionStatus.FINISHED,
                ActionStatus.RUNNING,
                ActionStatus.WAITING,
                ActionStatus.WAITING,
            ]
        )
    ]
    return State(
        header_id=0,
        timestamp=datetime.now(UTC),
        version="2.1.0",
        manufacturer=MANUFACTURER,
        serial_number=serial_of(robot),
        maps=[Map(map_id="hospital-L1", map_version="3", map_status=MapStatus.ENABLED)],
        order_id=order_id,
        order_update_id=1,
        last_node_id="cp-1",
        last_node_sequence_id=2,
        driving=True,
        paused=False,
        new_base_request=False,
        distance_since_last_node=1.25,
        operating_mode=OperatingMode.AUTOMATIC,
        node_states=nodes,
        edge_states=edges,
        agv_position=AgvPosition(
            x=0.0, y=0.0, theta=0.0, map_id="hospital-L1", position_initialized=True
        ),
        velocity=Velocity(vx=0.6, vy=0.0, omega=0.05),
        loads=[],
        action_states=actions,
        battery_state=BatteryState(
            battery_charge=80.0, battery_voltage=25.2, battery_health=97.0, charging=False
        ),
        errors=[],
        information=[
            Information(
                info_type="patrolCheckpoint",
                info_description="checkpoint cp-1 clear",
                info_level=InfoLevel.INFO,
            )
        ],
        safety_state=SafetyState(e_stop=EStop.NONE, field_violation=False),
    )


_SENTINEL_TIME = datetime(2001, 2, 3, 4, 5, 6, 789000, UTC)
# (value the template is encoded with, as it appears in the JSON, its placeholder)
_SENTINELS = (
    (3999999999, b"3999999999", b"%(header_id)d"),
    (_SENTINEL_TIME, b'"2001-02-03T04:05:06.789Z"', b'"%(timestamp)s"'),
    (11111.125, b"11111.125", b"%(x).4f"),
    (22222.125, b"22222.125", b"%(y).4f"),
    (0.4375, b"0.4375", b"%(theta).5f"),
    (55.125, b"55.125", b"%(charge).3f"),
)


class PayloadTemplate:
    """A message encoded once with the models; per message only moving values are filled in.

    Encoding a whole state through pydantic for each of 6,000 messages a second would make
    the publishers, not the server, the bottleneck on two cores.
    """

    def __init__(self, message: State | Visualization) -> None:
        raw = encode(message).replace(b"%", b"%%")
        for _value, token, placeholder in _SENTINELS:
            if raw.count(token) > 1:
                raise ValueError(f"sentinel {token!r} occurs more than once in the template")
            raw = raw.replace(token, placeholder)
        self._format = raw

    def render(self, header_id: int, now: float, robot: int) -> bytes:
        """The message of `robot` at wall time `now` with this headerId."""
        x, y, theta = _pose(robot, now)
        return self._format % {
            b"header_id": header_id,
            b"timestamp": utc_timestamp(datetime.fromtimestamp(now, UTC)).encode(),
            b"x": x,
            b"y": y,
            b"theta": theta,
            b"charge": 80.0 - (now % 3600) / 180.0,
        }


def _sentinel_position() -> AgvPosition:
    return AgvPosition(
        x=11111.125,
        y=22222.125,
        theta=0.4375,
        map_id="hospital-L1",
        position_initialized=True,
        localization_score=0.93,
    )


def state_stream(robot: int) -> PayloadTemplate:
    """The state messages of `robot`."""
    template = state_template(robot)
    battery = template.battery_state.model_copy(update={"battery_charge": 55.125})
    return PayloadTemplate(
        template.model_copy(
            update={
                "header_id": 3999999999,
                "timestamp": _SENTINEL_TIME,
                "agv_position": _sentinel_position(),
                "battery_state": battery,
            }
        )
    )


def visualization_stream(robot: int) -> PayloadTemplate:
    """The visualization messages of `robot`."""
    return PayloadTemplate(
        Visualization(
            header_id=3999999999,
            timestamp=_SENTINEL_TIME,
            version="2.1.0",
            manufacturer=MANUFACTURER,
            serial_number=serial_of(robot),
            agv_position=_sentinel_position(),
            velocity=Velocity(vx=0.6, vy=0.0, omega=0.05),
        )
    )


# publisher processes --------------------------------------------------------------------


class _Robot:
    def __init__(self, index: int, port: int) -> None:
        self.index = index
        serial = serial_of(index)
        self.state_topic = topic_for(INTERFACE, MANUFACTURER, serial, TopicKind.STATE)
        self.viz_topic = topic_for(INTERFACE, MANUFACTURER, serial, TopicKind.VISUALIZATION)
        self.states = state_stream(index)
        self.visualizations = visualization_stream(index)
        # The templates must still make valid messages once filled in.
        now = time.time()
        assert decode_state(self.states.render(7, now, index)).header_id == 7
        assert decode_visualization(self.visualizations.render(7, now, index)).header_id == 7
        self.state_ids = 0
        self.viz_ids = 0
        self.connected = False
        self._state_prefix = _publish_prefix(self.state_topic)
        self._viz_prefix = _publish_prefix(self.viz_topic)
        self.unsent = bytearray()
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"bench-{serial}"
        )
        self.client.on_connect = self._on_connect
        self.client.connect(HOST, port, keepalive=60)

    def _on_connect(self, client: mqtt.Client, *_args: object) -> None:
        self.connected = True
        online = Connection(
            header_id=0,
            timestamp=datetime.now(UTC),
            version="2.1.0",
            manufacturer=MANUFACTURER,
            serial_number=serial_of(self.index),
            connection_state=ConnectionState.ONLINE,
        )
        topic = topic_for(INTERFACE, MANUFACTURER, serial_of(self.index), TopicKind.CONNECTION)
        client.publish(topic, encode(online), qos=1)

    def publish_qos0(self, state: bool, payload: bytes) -> bool:
        """Write one QoS 0 PUBLISH packet (MQTT 3.1.1 §3.3) straight to the robot's socket.

        The bytes are what paho would send; writing them ourselves keeps paho's per-message
        bookkeeping (several objects and locks per publish, for a message QoS 0 never
        tracks) out of the publisher's CPU budget, which shares two cores with the server.
        paho still owns the connection: CONNECT, subscriptions, keepalive pings. Returns
        whether part of the packet waits in `unsent` for the socket.
        """
        topic = self._state_prefix if state else self._viz_prefix
        packet = b"\x30" + _varint(len(topic) + len(payload)) + topic + payload
        if self.client.want_write():
            self.client.loop_write()  # never interleave with a packet paho has half sent
        if self.unsent or self.client.want_write():
            self.unsent += packet
            return True
        sock = self.client.socket()
        try:
            sent = sock.send(packet)
        except BlockingIOError:
            sent = 0
        if sent < len(packet):
            self.unsent += packet[sent:]
        return bool(self.unsent)

    def flush(self) -> None:
        """Send what the socket did not take before."""
        if self.unsent and not self.client.want_write():
            try:
                sent = self.client.socket().send(self.unsent)
            except BlockingIOError:
                return
            del self.unsent[:sent]


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _publish_prefix(topic: str) -> bytes:
    encoded = topic.encode()
    return len(encoded).to_bytes(2, "big") + encoded


def _pump(selector: selectors.BaseSelector, backlogged: set[_Robot], timeout: float) -> None:
    """Read what the broker sent; retry writes for robots whose socket was full."""
    for key, _events in selector.select(timeout):
        robot: _Robot = key.data
        robot.client.loop_read()
    for robot in list(backlogged):
        robot.flush()
        if robot.client.want_write():
            robot.client.loop_write()
        if not robot.unsent and not robot.client.want_write():
            backlogged.discard(robot)


def run_publisher(pipe: Pipe, port: int, first: int, count: int, seed: int) -> None:
    """One publisher process: robots first..first+count-1, driven by one hand-run loop."""
    rng = random.Random(seed)
    robots = [_Robot(i, port) for i in range(first, first + count)]
    selector = selectors.DefaultSelector()
    for robot in robots:
        selector.register(robot.client.socket(), selectors.EVENT_READ, robot)
    deadline = time.monotonic() + 30
    while not all(r.connected for r in robots):
        if time.monotonic() > deadline:
            raise RuntimeError(f"publisher {first}: robots did not connect within 30 s")
        _pump(selector, set(), 0.05)
    pipe.send(("ready", count))
    _command, t0, duration = pipe.recv()
    end = t0 + duration
    # (due, robot, kind): state every second, visualization twice a second, random phases.
    due: list[tuple[float, int, int]] = []
    for k in range(len(robots)):
        due.append((t0 + rng.random() * STATE_PERIOD_S, k, 0))
        due.append((t0 + rng.random() * VISUALIZATION_PERIOD_S, k, 1))
    heapq.heapify(due)
    lags: list[float] = []
    backlogged: set[_Robot] = set()
    last_misc = time.monotonic()
    while due:
        now = time.time()
        while due and due[0][0] <= now:
            when, k, kind = heapq.heappop(due)
            robot = robots[k]
            lags.append(now - when)
            if kind == 0:
                payload = robot.states.render(robot.state_ids, now, robot.index)
                robot.state_ids += 1
                if robot.publish_qos0(True, payload):
                    backlogged.add(robot)
                step = STATE_PERIOD_S
            else:
                payload = robot.visualizations.render(robot.viz_ids, now, robot.index)
                robot.viz_ids += 1
                if robot.publish_qos0(False, payload):
                    backlogged.add(robot)
                step = VISUALIZATION_PERIOD_S
            if when + step < end:
                heapq.heappush(due, (when + step, k, kind))
            now = time.time()
        wait = max(0.0, min((due[0][0] if due else now) - time.time(), 0.02))
        _pump(selector, backlogged, wait)
        if time.monotonic() - last_misc > 1.0:
            last_misc = time.monotonic()
            for robot in robots:
                robot.client.loop_misc()
    for _ in range(500):  # flush what the sockets did not take at once
        if not backlogged:
            break
        _pump(selector, backlogged, 0.01)
    lags.sort()
    pipe.send(
        (
            "done",
            sum(r.state_ids for r in robots),
            sum(r.viz_ids for r in robots),
            lags[int(0.99 * (len(lags) - 1))] if lags else 0.0,
            lags[-1] if lags else 0.0,
        )
    )
    pipe.recv()
    for robot in robots:
        robot.client.disconnect()


# the server side ------------------------------------------------------------------------


class _Measure:
    """Latency and counts of ingested state and visualization messages."""

    def __init__(self) -> None:
        self.latencies_ms: list[float] = []
        self.states = 0
        self.visualizations = 0
        # Pauses of the cyclic GC by generation: a full collection stops the ingest.
        self.gc_pauses_ms: tuple[list[float], list[float], list[float]] = ([], [], [])
        self._gc_started = 0.0
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            pause_ms = (time.perf_counter() - self._gc_started) * 1000.0
            self.gc_pauses_ms[info["generation"]].append(pause_ms)

    def on_event(self, event: str, robot: RobotLive) -> None:
        if event == RobotEvent.STATE and robot.state is not None:
            sent_at = robot.state.timestamp
            self.states += 1
        elif event == RobotEvent.POSE and robot.pose_timestamp is not None:
            sent_at = robot.pose_timestamp
            self.visualizations += 1
        else:
            return
        self.latencies_ms.append((time.time() - sent_at.timestamp()) * 1000.0)


async def _serve(pipe: Pipe, port: int) -> None:
    loop = asyncio.get_running_loop()
    # Wired as fleet_server.services.run_services wires it.
    live = LiveFleet(offline_after_s=15.0)
    link = MqttLink(MqttEndpoint(host=HOST, port=port), client_id="bench-server", loop=loop)
    ingest = Ingest(live, INTERFACE)
    ingest.subscribe(link)
    tune_gc_for_ingest()
    orders = OrderPublisher(link, live, INTERFACE)
    resend = asyncio.create_task(orders.run())
    measure = _Measure()
    live.add_listener(measure.on_event)
    if not await link.start():
        raise RuntimeError(f"bench server could not reach the broker on port {port}")
    pipe.send(("ready", os.getpid()))
    while True:
        command = await asyncio.to_thread(pipe.recv)
        if command == "stats":
            pipe.send((measure.states, measure.visualizations, link.counters.received))
        elif command == "mark":  # the measured window starts: forget startup's collections
            for pauses in measure.gc_pauses_ms:
                pauses.clear()
            pipe.send("marked")
        elif command == "result":
            lat = sorted(measure.latencies_ms)
            pipe.send(
                {
                    "states": measure.states,
                    "visualizations": measure.visualizations,
                    "received": link.counters.received,
                    "rejected": ingest.rejected_total,
                    "handler_errors": sum(link.counters.handler_errors.values()),
                    "p50_ms": _quantile(lat, 0.50),
                    "p99_ms": _quantile(lat, 0.99),
                    "max_ms": lat[-1] if lat else math.nan,
                    "gc": [
                        (len(p), round(sum(p), 1), round(max(p, default=0.0), 1))
                        for p in measure.gc_pauses_ms
                    ],
                    "robots_live": len(live),
                }
            )
        else:
            break
    resend.cancel()
    orders.close()
    await link.stop()


def run_server(pipe: Pipe, port: int) -> None:
    """The server-side process."""
    asyncio.run(_serve(pipe, port))


def run_raw_subscriber(pipe: Pipe, port: int) -> None:
    """The baseline: a bare paho subscriber that counts what the broker delivers."""
    counter = [0]
    subscribed = [False]

    def on_message(_c: mqtt.Client, _u: object, _m: mqtt.MQTTMessage) -> None:
        counter[0] += 1

    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="bench-raw")
    client.on_connect = lambda c, *_: c.subscribe(
        [(f"{INTERFACE}/v2/+/+/state", 0), (f"{INTERFACE}/v2/+/+/visualization", 0)]
    )
    client.on_subscribe = lambda *_: subscribed.__setitem__(0, True)
    client.on_message = on_message
    client.connect(HOST, port, keepalive=60)
    client.loop_start()
    while not subscribed[0]:
        time.sleep(0.01)
    pipe.send(("ready", os.getpid()))
    while True:
        command = pipe.recv()
        if command == "stats":
            pipe.send(counter[0])
        else:
            break
    client.disconnect()
    client.loop_stop()


# the orchestration ----------------------------------------------------------------------


def _quantile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return math.nan
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


@dataclass
class _Child:
    process: mp.process.BaseProcess
    pipe: Pipe

    def ask(self, command: object) -> Any:
        self.pipe.send(command)
        return self.pipe.recv()


def _spawn(ctx: Any, target: Callable[..., None], *args: object) -> _Child:
    parent, child = ctx.Pipe()
    process = ctx.Process(target=target, args=(child, *args), daemon=True)
    process.start()
    return _Child(process, parent)


def _cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        times = process.cpu_times()
        total += times.user + times.system
    return total


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run(robots: int, duration: float, publishers: int, seed: int) -> dict[str, Any]:
    """Run one benchmark and return its results."""
    ctx = mp.get_context("spawn")
    broker = MosquittoBroker(find_free_port(), extra_config="max_connections -1\n")
    broker.start()
    children: list[_Child] = []
    try:
        server = _spawn(ctx, run_server, broker.port)
        raw = _spawn(ctx, run_raw_subscriber, broker.port)
        children += [server, raw]
        server_pid = server.pipe.recv()[1]
        raw_pid = raw.pipe.recv()[1]
        share = math.ceil(robots / publishers)
        pubs = [
            _spawn(ctx, run_publisher, broker.port, first, min(share, robots - first), seed + first)
            for first in range(0, robots, share)
        ]
        children += pubs
        for pub in pubs:
            pub.pipe.recv()
        _log(
            f"{robots} robots connected over {len(pubs)} publisher processes; "
            f"server pid {server_pid}, raw subscriber pid {raw_pid}, broker pid {broker.pid}"
        )
        time.sleep(1.0)  # let the ONLINE connection messages settle

        server_proc, raw_proc = psutil.Process(server_pid), psutil.Process(raw_pid)
        broker_proc = psutil.Process(broker.pid)
        pub_procs = [psutil.Process(p.process.pid) for p in pubs]
        t0 = time.time() + 0.5
        for pub in pubs:
            pub.pipe.send(("go", t0, duration))
        time.sleep(max(0.0, t0 - time.time()))
        server.ask("mark")
        cpu_start = {
            "server": _cpu_seconds([server_proc]),
            "raw": _cpu_seconds([raw_proc]),
            "broker": _cpu_seconds([broker_proc]),
            "publishers": _cpu_seconds(pub_procs),
        }
        machine_start = psutil.cpu_times()
        time.sleep(max(0.0, t0 + duration - time.time()))
        window = time.time() - t0
        cpu = {
            "server": _cpu_seconds([server_proc]),
            "raw": _cpu_seconds([raw_proc]),
            "broker": _cpu_seconds([broker_proc]),
            "publishers": _cpu_seconds(pub_procs),
        }
        machine_end = psutil.cpu_times()
        done = [pub.pipe.recv() for pub in pubs]
        sent_states = sum(d[1] for d in done)
        sent_viz = sum(d[2] for d in done)
        sent = sent_states + sent_viz
        lag_p99 = max(d[3] for d in done)
        lag_max = max(d[4] for d in done)

        # Drain: wait until both sides saw everything or nothing moves for 2 s.
        last, still_since = (-1, -1), time.monotonic()
        while time.monotonic() - still_since < 2.0:
            states, viz, _received = server.ask("stats")
            counted = (states + viz, raw.ask("stats"))
            if counted[0] >= sent and counted[1] >= sent:
                break
            if counted != last:
                last, still_since = counted, time.monotonic()
            time.sleep(0.2)
        result = server.ask("result")
        raw_count = raw.ask("stats")
        rss_mb = server_proc.memory_info().rss / 2**20

        busy = _busy_fraction(machine_start, machine_end)
        cores = psutil.cpu_count() or 1
        ours = sum(cpu.values()) - sum(cpu_start.values())
        foreign = max(0.0, busy - ours / window / cores)
        ingested = result["states"] + result["visualizations"]
        delivered_rate = ingested / duration
        raw_rate = raw_count / duration
        return {
            "robots": robots,
            "offered_rate": round(sent / duration, 1),
            "delivered_rate": round(delivered_rate, 1),
            "loss": round(max(0, sent - ingested) / sent, 6) if sent else math.nan,
            "p50_ms": round(result["p50_ms"], 2),
            "p99_ms": round(result["p99_ms"], 2),
            "server_cpu_pct": round(100 * (cpu["server"] - cpu_start["server"]) / window, 1),
            "server_rss_mb": round(rss_mb, 1),
            "raw_rate": round(raw_rate, 1),
            "ratio_to_raw": round(delivered_rate / raw_rate, 4) if raw_rate else math.nan,
            # detail
            "duration_s": duration,
            "sent": sent,
            "sent_states": sent_states,
            "sent_visualizations": sent_viz,
            "ingested": ingested,
            "raw_received": raw_count,
            "max_ms": round(result["max_ms"], 2),
            # per GC generation: collections, total ms, longest ms (server, from t0 on)
            "server_gc": result["gc"],
            "rejected": result["rejected"],
            "handler_errors": result["handler_errors"],
            "raw_cpu_pct": round(100 * (cpu["raw"] - cpu_start["raw"]) / window, 1),
            "broker_cpu_pct": round(100 * (cpu["broker"] - cpu_start["broker"]) / window, 1),
            "publishers_cpu_pct": round(
                100 * (cpu["publishers"] - cpu_start["publishers"]) / window, 1
            ),
            "machine_busy_pct": round(100 * busy, 1),
            # CPU used during the window by processes that are not part of the benchmark.
            "foreign_busy_pct": round(100 * foreign, 1),
            "cores": psutil.cpu_count(),
            "publisher_processes": len(pubs),
            "publisher_lag_p99_ms": round(1000 * lag_p99, 2),
            "publisher_lag_max_ms": round(1000 * lag_max, 2),
        }
    finally:
        for child in children:
            with contextlib.suppress(BrokenPipeError, OSError):
                child.pipe.send("quit")
        for child in children:
            child.process.join(10)
            if child.process.is_alive():
                child.process.terminate()
        broker.stop()


def _busy_fraction(start: Any, end: Any) -> float:
    idle = (end.idle + getattr(end, "iowait", 0.0)) - (start.idle + getattr(start, "iowait", 0.0))
    total = sum(end) - sum(start)
    return 1.0 - idle / total if total > 0 else math.nan


def main(argv: list[str] | None = None) -> int:
    """Command line: run the benchmark and print its results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--robots", type=int, default=200, help="simulated robots (default 200)")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load (20)")
    parser.add_argument("--publishers", type=int, default=3, help="publisher processes (default 3)")
    parser.add_argument("--seed", type=int, default=5050)
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    args = parser.parse_args(argv)
    if args.robots < 1:
        parser.error("--robots must be at least 1")
    if args.duration <= 0:
        parser.error("--duration must be positive")
    if args.publishers < 1:
        parser.error("--publishers must be at least 1")
    result = run(args.robots, args.duration, min(args.publishers, args.robots), args.seed)
    if args.json:
        for key, value in result.items():
            _log(f"{key:>22}: {value}")
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>22}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

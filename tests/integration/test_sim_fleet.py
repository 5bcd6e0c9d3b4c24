"""Scenario robots with real agents over a real Mosquitto, on a fast simulation clock.

A plain MQTT client plays master control. Checks: a UV-C order on the clinic map runs at
20x real time and its result carries simulated timestamps; a network cut and an agent
crash show as a broken connection (last will) and the robots come back; a broker restart
through the fault hook; every message on the wire matches the VDA 5050 schemas.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from fleet_server.broker import MosquittoBroker, find_free_port
from missions.sites import resolve_waypoint
from missions.vda5050 import encode
from sim.faults import FaultSpec
from sim.fleet import SimFleet, SimFleetThread
from sim.runner import RunOptions, SimRun, build_run
from sim.scenario import load_scenario
from tests.support.mqtt import Recorder, wait_until
from tests.support.orders import N, action, order
from tests.support.vda_schemas import schema_errors

SCALE = 20.0


@pytest.fixture
def broker() -> Iterator[MosquittoBroker]:
    b = MosquittoBroker(find_free_port())
    b.start()
    yield b
    b.stop()


def connection_states(master: Recorder, serial: str) -> list[str]:
    topic = f"uagv/v2/fleetsim/{serial}/connection"
    return [json.loads(m.payload)["connectionState"] for m in master.snapshot() if m.topic == topic]


def last_state(master: Recorder, serial: str) -> dict[str, Any]:
    topic = f"uagv/v2/fleetsim/{serial}/state"
    states = [json.loads(m.payload) for m in master.snapshot() if m.topic == topic]
    return states[-1] if states else {}


def hospital_run(port: int, **options: Any) -> SimRun:
    scenario = load_scenario("hospital_day")
    opts = RunOptions(
        broker_url=f"mqtt://127.0.0.1:{port}",
        robots=3,
        time_scale=SCALE,
        state_interval_s=2.0,
        keepalive_s=2,
        reconnect_max_s=1.0,
        faults=False,
    )
    return build_run(scenario, opts, **options)


def check_schemas(master: Recorder) -> None:
    for message in master.snapshot():
        kind = message.topic.rsplit("/", 1)[-1]
        errors = schema_errors(kind, json.loads(message.payload))
        assert errors == [], f"{kind} message breaks the schema: {errors}"


def test_uv_order_on_the_clinic_at_twenty_times_real_time(broker: MosquittoBroker) -> None:
    run = hospital_run(broker.port)
    master = Recorder(broker.port, "uagv/#")
    sim = SimFleetThread(run.fleet).start()
    try:
        serial = "hospital-uvc-01"
        assert wait_until(lambda: bool(last_state(master, serial)), 10)
        body = run.world.robot(serial)
        ward = resolve_waypoint(run.scenario.site, "L1_left_nurse_center")
        uv = action("uvDisinfect", "uv1", dwellS=40.0, targetDoseMjCm2=100.0, distanceM=1.0)
        o = order(
            "o1",
            [N("start", body.x, body.y), N(ward.id, ward.x, ward.y, actions=[uv])],
            serial=serial,
        )
        started = time.monotonic()
        master.publish(f"uagv/v2/fleetsim/{serial}/order", encode(o), qos=1)

        def done() -> bool:
            states = last_state(master, serial).get("actionStates", [])
            return any(a["actionId"] == "uv1" and a["actionStatus"] == "FINISHED" for a in states)

        assert wait_until(done, 15)
        real = time.monotonic() - started
        sim_seconds = run.world.t
        result = next(
            a for a in last_state(master, serial)["actionStates"] if a["actionId"] == "uv1"
        )
        described = json.loads(result["resultDescription"])
        # 06:00 at UTC+8 on 3 March is 22:00 UTC on 2 March: the agent's clock is simulated.
        assert described["startedAt"].startswith("2025-03-02T22:")
        assert described["dwellS"] >= 40.0
        assert real < 40.0 / SCALE * 3 + 20.0 / 0.8 / SCALE * 3 + 3.0
        assert sim_seconds > real * SCALE * 0.5
        assert run.kpis.per_robot()[0]["distance_m"] > 5.0
    finally:
        sim.stop()
        master.close()
    check_schemas(master)


def test_network_cut_crash_and_broker_restart_and_back(broker: MosquittoBroker) -> None:
    def restart_broker(downtime_s: float) -> None:
        broker.stop()
        time.sleep(downtime_s)
        broker.start()

    run = hospital_run(broker.port)
    faults = [
        FaultSpec(kind="network_cut", at_s=40, duration_s=40, robot="hospital-uvc-01"),
        FaultSpec(kind="agent_crash", at_s=40, duration_s=40, robot="hospital-guide-01"),
        FaultSpec(kind="broker_restart", at_s=160, duration_s=20),
    ]
    fleet = SimFleet(
        run.robots,
        world=run.world,
        clock=run.clock,
        faults=faults,
        broker_restart=restart_broker,
        agent_tick_s=1.0,
    )
    master = Recorder(broker.port, "uagv/#")
    stop = threading.Event()

    def main() -> None:
        async def go() -> None:
            done = asyncio.Event()
            loop = asyncio.get_running_loop()
            threading.Thread(
                target=lambda: (stop.wait(), loop.call_soon_threadsafe(done.set)), daemon=True
            ).start()
            await fleet.run(done)

        asyncio.run(go())

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    cut, crashed, fine = "hospital-uvc-01", "hospital-guide-01", "hospital-patrol-01"
    try:
        assert wait_until(lambda: connection_states(master, fine)[-1:] == ["ONLINE"], 10)
        for serial in (cut, crashed):
            assert wait_until(
                lambda s=serial: "CONNECTIONBROKEN" in connection_states(master, s), 10
            )
        assert fleet.proxies and all(p.cuts == 1 for p in fleet.proxies.values())
        for serial in (cut, crashed):
            assert wait_until(lambda s=serial: connection_states(master, s)[-1:] == ["ONLINE"], 10)
        assert "CONNECTIONBROKEN" not in connection_states(master, fine)
        master.close()  # the broker restarts at 160 s simulated, 8 s real
        assert wait_until(lambda: run.world.t > 190, 15)
        master = Recorder(broker.port, "uagv/#")
        assert wait_until(lambda: all(last_state(master, s) for s in (cut, crashed, fine)), 10)
        events = [(e.kind, e.phase) for e in fleet.injector.events] if fleet.injector else []
        assert ("broker_restart", "start") in events and ("agent_crash", "end") in events
    finally:
        stop.set()
        thread.join(15)
        master.close()
    assert not thread.is_alive()

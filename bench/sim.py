"""Benchmark: simulator physics step rate and real-time factor, with and without agents.

Physics only (`--robots N`): N robots roam the clinic map (two floors, lifts) at random
along its lanes while the hospital_day waiting-room crowds walk (10:00, the busy hour),
stepped at dt = 0.1 s. The baseline, run in the same process, steps the same number of
single-robot `KinematicRobot` bodies in a Python loop (the pre-vectorised simulator).

With agents (`--agents N`): N robots roam as above and each runs the real onboard agent
over its own MQTT connection to a real Mosquitto on a free port, all in one asyncio
process. The simulation clock runs free (as fast as the process can go, fixed dt steps)
and every agent ticks once per simulated second on top of its own 10 Hz loop, so the
real-time factor is what the process sustains with all agents talking to the broker.

    .venv/bin/python bench/sim.py                       # 100 and 1,000 robots
    .venv/bin/python bench/sim.py --robots 1000 --json
    .venv/bin/python bench/sim.py --agents 200 --seconds 30 --json

The last output line is one JSON object: {"robots", "steps_per_s", "real_time_factor"}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import platform
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fleet_server.broker import MosquittoBroker, find_free_port  # noqa: E402
from robot_agent.config import AgentConfig  # noqa: E402
from sim.clock import ManualClock  # noqa: E402
from sim.fleet import SimFleet, SimulatedRobot  # noqa: E402
from sim.kinematic import Goal, KinematicRobot  # noqa: E402
from sim.models import load_models  # noqa: E402
from sim.scenario import load_scenario  # noqa: E402
from sim.world import World  # noqa: E402

DT = 0.1
START = datetime(2025, 3, 3, 10, 0, tzinfo=timezone(timedelta(hours=8)))


def roaming_world(n: int, seed: int, people: bool) -> World:
    """The clinic with n patrol robots roaming its lanes and, optionally, its crowds."""
    scenario = load_scenario("hospital_day")
    world = World(scenario.site, start=START, seed=seed)
    if people:
        world.add_people([f.flow() for f in scenario.file.people.flows])
    model = load_models()["patrol"]
    world.add_robots(n, names=[f"bench-{i:04d}" for i in range(n)], model=model)
    world.wander_on_graph(np.arange(n), world.rng.choice(world.roamable_nodes(), size=n))
    return world


def physics_rate(n: int, steps: int, seed: int, people: bool) -> dict[str, float]:
    """Vectorised world: steps per second after a warm-up."""
    world = roaming_world(n, seed, people)
    for _ in range(50):
        world.step(DT)
    started = time.perf_counter()
    for _ in range(steps):
        world.step(DT)
    elapsed = time.perf_counter() - started
    rate = steps / elapsed
    moved = float(np.mean(world.r.odometer_m))
    return {"steps_per_s": rate, "real_time_factor": rate * DT, "mean_distance_m": moved}


def loop_baseline_rate(n: int, steps: int, seed: int) -> float:
    """Per-robot Python loop over KinematicRobot bodies doing the same roaming."""
    world = roaming_world(n, seed, people=False)
    graph = world.wander_graph()
    rng = np.random.default_rng(seed)
    names = world.levels
    bodies = []
    nodes = rng.choice(world.roamable_nodes(), size=n)
    for node in nodes:
        body = KinematicRobot(
            x=float(graph.node_x[node]),
            y=float(graph.node_y[node]),
            map_id=names[graph.node_level[node]],
            max_speed_m_s=1.2,
            accel_m_s2=0.8,
        )
        bodies.append((body, int(node)))

    def next_goal(node: int) -> tuple[Goal, int]:
        start, end = graph.indptr[node], graph.indptr[node + 1]
        nxt = int(graph.indices[start + int(rng.integers(end - start))]) if end > start else node
        level = names[graph.node_level[nxt]]
        return Goal(float(graph.node_x[nxt]), float(graph.node_y[nxt]), level, math.inf, 0.1), nxt

    targets = []
    for body, node in bodies:
        goal, nxt = next_goal(node)
        body.set_goal(goal)
        targets.append(nxt)
    started = time.perf_counter()
    for _ in range(steps):
        for k, (body, _) in enumerate(bodies):
            body.step(DT)
            if body.goal_reached:
                goal, targets[k] = next_goal(targets[k])
                body.set_goal(goal)
    return steps / (time.perf_counter() - started)


def agents_rate(n: int, seconds: float, seed: int, tick_s: float | None) -> dict[str, float]:
    """n real agents over Mosquitto, free-running clock, for `seconds` of real time."""
    broker = MosquittoBroker(find_free_port())
    broker.start()
    received = [0]
    counter = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)
    counter.on_connect = lambda c, *_: c.subscribe("uagv/#", 0)

    def count(_c: mqtt.Client, _u: object, _m: mqtt.MQTTMessage) -> None:
        received[0] += 1

    counter.on_message = count
    counter.connect("127.0.0.1", broker.port)
    counter.loop_start()
    try:
        world = roaming_world(n, seed, people=True)
        clock = ManualClock(start=START)
        robots = [
            SimulatedRobot(
                config=AgentConfig(
                    manufacturer="fleetsim",
                    serial_number=name,
                    broker_url=f"mqtt://127.0.0.1:{broker.port}",
                    keepalive_s=30,
                ),
                body=world.robot(i),
            )
            for i, name in enumerate(world.names)
        ]
        fleet = SimFleet(robots, world=world, clock=clock, agent_tick_s=tick_s)
        result: dict[str, float] = {}

        async def run() -> None:
            stop = asyncio.Event()
            task = asyncio.create_task(fleet.run(stop))
            # Let every agent connect before timing.
            deadline = time.monotonic() + 60
            while sum(a.link.connected for a in fleet.agents if _running(a)) < n:
                if time.monotonic() > deadline:
                    raise RuntimeError("agents did not all connect within 60 s")
                await asyncio.sleep(0.1)
            sim0, steps0, msgs0 = world.t, fleet.steps, received[0]
            started = time.monotonic()
            await asyncio.sleep(seconds)
            elapsed = time.monotonic() - started
            result["real_time_factor"] = (world.t - sim0) / elapsed
            result["steps_per_s"] = (fleet.steps - steps0) / elapsed
            result["messages_per_s"] = (received[0] - msgs0) / elapsed
            stop.set()
            await task

        asyncio.run(run())
        return result
    finally:
        counter.disconnect()
        counter.loop_stop()
        broker.stop()


def _running(agent: Any) -> bool:
    try:
        agent.link  # noqa: B018 - raises until the agent has started
    except RuntimeError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--robots", type=int, action="append", help="robots (repeatable)")
    parser.add_argument("--agents", type=int, help="run N real agents over Mosquitto instead")
    parser.add_argument("--steps", type=int, default=2000, help="physics steps to time")
    parser.add_argument("--seconds", type=float, default=20.0, help="real seconds (agents)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--agent-tick-s",
        type=float,
        default=1.0,
        help="extra agent tick every this many simulated seconds (0: only their 10 Hz loop)",
    )
    parser.add_argument("--no-people", action="store_true", help="robots only, no crowds")
    parser.add_argument("--json", action="store_true", help="end with a JSON line")
    args = parser.parse_args()
    # 200 agents each log their disconnect at the end; keep the output to the numbers.
    logging.basicConfig(level=logging.ERROR)
    print(f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}")
    print(f"cpus: {os.cpu_count()}, dt = {DT} s")
    last: dict[str, Any] = {}
    if args.agents:
        tick = args.agent_tick_s or None
        rate = agents_rate(args.agents, args.seconds, args.seed, tick)
        print(
            f"{args.agents} agents over Mosquitto (extra agent tick every {tick} sim s): "
            f"{rate['steps_per_s']:.0f} steps/s, "
            f"real-time factor {rate['real_time_factor']:.1f}x, "
            f"{rate['messages_per_s']:.0f} MQTT messages/s"
        )
        last = {"robots": args.agents, **rate}
    else:
        for n in args.robots or [100, 1000]:
            physics = physics_rate(n, args.steps, args.seed, people=not args.no_people)
            baseline = loop_baseline_rate(n, max(20, args.steps // 20), args.seed)
            print(
                f"{n:>6} robots: {physics['steps_per_s']:>8.0f} steps/s, real-time factor "
                f"{physics['real_time_factor']:>7.1f}x; per-robot loop baseline "
                f"{baseline:>7.1f} steps/s ({physics['steps_per_s'] / baseline:.1f}x the loop)"
            )
            last = {"robots": n, **physics, "loop_baseline_steps_per_s": baseline}
    if args.json:
        print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in last.items()}))
        print(
            json.dumps(
                {
                    "robots": last["robots"],
                    "steps_per_s": round(last["steps_per_s"], 1),
                    "real_time_factor": round(last["real_time_factor"], 2),
                }
            )
        )


if __name__ == "__main__":
    main()

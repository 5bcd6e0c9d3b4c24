"""Many simulated robots in one process, each running the real onboard agent.

Every robot has its own agent, MQTT connection and identity; the physics of all of them
is stepped from one task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from dataclasses import dataclass

from robot_agent.agent import Agent
from robot_agent.config import AgentConfig
from sim.adapter import SimAdapter
from sim.kinematic import KinematicRobot

log = logging.getLogger(__name__)

PHYSICS_DT_S = 0.1


@dataclass
class SimulatedRobot:
    """A simulated body and the agent that drives it."""

    config: AgentConfig
    body: KinematicRobot

    def make_agent(self) -> Agent:
        """The real onboard agent over this robot's sim adapter."""
        return Agent(self.config, SimAdapter(self.body))


class SimFleet:
    """Steps every robot's physics and runs every robot's agent until stopped."""

    def __init__(self, robots: list[SimulatedRobot]) -> None:
        self.robots = robots
        self.agents = [robot.make_agent() for robot in robots]

    async def _physics(self, stop: asyncio.Event) -> None:
        last = time.monotonic()
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), PHYSICS_DT_S)
            now = time.monotonic()
            dt, last = now - last, now
            for robot in self.robots:
                robot.body.step(dt)

    async def run(self, stop: asyncio.Event) -> None:
        """Run physics and agents until `stop` is set; agents disconnect cleanly."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self._physics(stop))
            for agent in self.agents:
                group.create_task(agent.run(stop))


class SimFleetThread:
    """Runs a `SimFleet` on its own event loop in a background thread (demo and tests)."""

    def __init__(self, fleet: SimFleet) -> None:
        self.fleet = fleet
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name="sim-fleet", daemon=True)

    def _main(self) -> None:
        async def run() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            # The flag is set from another thread; hand it to this loop safely.
            threading.Thread(
                target=lambda: (self._stop.wait(), loop.call_soon_threadsafe(stop.set)),
                name="sim-stop-watch",
                daemon=True,
            ).start()
            await self.fleet.run(stop)

        asyncio.run(run())

    def start(self) -> SimFleetThread:
        """Start the thread; returns self."""
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop every agent (they say OFFLINE) and join the thread."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

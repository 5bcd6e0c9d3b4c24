"""Many simulated robots in one process, each running the real onboard agent.

Every robot has its own agent, MQTT connection and identity; the physics of all of them
is stepped from one task, on the simulation clock. With a `World`, physics advances in
fixed steps of `physics_dt_s` simulated seconds, as many as the clock has moved on (so a
time scale of 60 runs 600 steps per real second); without one, each `KinematicRobot` body
is stepped by the clock's elapsed time. With a `ManualClock` the fleet runs free: as fast
as the process can step physics and serve the agents.

The fleet also carries out process and network faults (`sim.faults.FaultHooks`): robots
that may lose their network or crash talk to the broker through a `LinkProxy` each.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from robot_agent.agent import Agent
from robot_agent.config import AgentConfig
from sim.adapter import SimAdapter, SimSurroundings
from sim.clock import ManualClock, SimClock
from sim.faults import FaultInjector, FaultSpec
from sim.kinematic import KinematicRobot
from sim.netlink import LinkProxy
from sim.world import RobotView, World

log = logging.getLogger(__name__)

PHYSICS_DT_S = 0.1
FRAME_REAL_S = 0.02
"""Shortest real interval between two rounds of the physics loop."""
MAX_STEPS_PER_FRAME = 2000
FREE_RUN_STEPS = 10
"""With a `ManualClock` the fleet runs free: this many physics steps per round, no sleep."""


@dataclass
class SimulatedRobot:
    """A simulated body and the agent that drives it."""

    config: AgentConfig
    body: KinematicRobot | RobotView
    surroundings: SimSurroundings = field(default_factory=SimSurroundings)
    adapter: SimAdapter = field(init=False)

    def __post_init__(self) -> None:
        self.adapter = SimAdapter(self.body, self.surroundings)

    def make_agent(self, clock: SimClock | ManualClock | None = None) -> Agent:
        """The real onboard agent over this robot's sim adapter, on the simulation clock."""
        if clock is None:
            return Agent(self.config, self.adapter)
        agent = Agent(self.config, self.adapter, monotonic=clock.monotonic)
        # Action results carry wall-clock timestamps; they must be simulated time too.
        agent.executor.ctx.wallclock = clock.wallclock
        return agent


def _agent_running(agent: Agent) -> bool:
    try:
        agent.link  # noqa: B018 - raises until the agent's run() has opened its link
    except RuntimeError:
        return False
    return True


class SimFleet:
    """Steps the physics and runs every robot's agent until stopped."""

    def __init__(
        self,
        robots: list[SimulatedRobot],
        *,
        world: World | None = None,
        clock: SimClock | ManualClock | None = None,
        physics_dt_s: float = PHYSICS_DT_S,
        agent_tick_s: float | None = None,
        faults: Iterable[FaultSpec] = (),
        broker_restart: Callable[[float], None] | None = None,
        proxied: Iterable[str] = (),
    ) -> None:
        self.robots = robots
        self.world = world
        self.clock = clock or SimClock(1.0)
        self.physics_dt_s = physics_dt_s
        self.agent_tick_s = agent_tick_s
        """Extra agent ticks every this many simulated seconds (fast time scales)."""
        self.broker_restart = broker_restart
        self._by_serial = {r.config.serial_number: k for k, r in enumerate(robots)}
        plan = list(faults)
        self.injector: FaultInjector | None = None
        if plan:
            if world is None:
                raise ValueError("faults: need a World")
            self.injector = FaultInjector(plan, world, self)
        needs_link = {f.robot for f in plan if f.kind in ("agent_crash", "network_cut")}
        self._proxied = {str(name) for name in (*proxied, *needs_link) if name}
        unknown = self._proxied - set(self._by_serial)
        if unknown:
            raise ValueError(f"proxied: no simulated robot with serial {sorted(unknown)}")
        self.proxies: dict[int, LinkProxy] = {}
        self.agents = [robot.make_agent(self.clock) for robot in robots]
        self.crashed: set[int] = set()
        self.observers: list[Callable[[], None]] = []
        """Called after every physics frame (KPI sampling, progress display)."""
        self.steps = 0
        self.overruns = 0
        """Frames where physics could not keep up with the clock and took longer steps."""
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._stops: dict[int, asyncio.Event] = {}
        self._leftovers: set[asyncio.Task[None]] = set()

    # --- the run --------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Run physics and agents until `stop` is set; agents disconnect cleanly."""
        await self._open_proxies()
        try:
            for k in range(len(self.robots)):
                self._start_agent(k)
            await self._physics(stop)
        finally:
            for event in self._stops.values():
                event.set()
            tasks = [*self._tasks.values(), *self._leftovers]
            results = await asyncio.gather(*tasks, return_exceptions=True)
            for result in results:
                if isinstance(result, Exception):
                    log.error("agent ended with an error", exc_info=result)
            for proxy in self.proxies.values():
                await proxy.stop()

    def use_credentials(self, serial_number: str, username: str, password: str) -> None:
        """Give one robot's agent its MQTT account (before `run`)."""
        k = self._by_serial[serial_number]
        robot = self.robots[k]
        robot.config = robot.config.model_copy(update={"username": username, "password": password})
        self.agents[k] = robot.make_agent(self.clock)

    async def _open_proxies(self) -> None:
        for name in sorted(self._proxied):
            k = self._by_serial[name]
            robot = self.robots[k]
            url = urlsplit(robot.config.broker_url)
            proxy = LinkProxy(url.hostname or "127.0.0.1", url.port or 1883)
            port = await proxy.start()
            self.proxies[k] = proxy
            robot.config = robot.config.model_copy(
                update={"broker_url": f"mqtt://127.0.0.1:{port}"}
            )
            self.agents[k] = robot.make_agent(self.clock)

    def _start_agent(self, k: int) -> None:
        stop = asyncio.Event()
        self._stops[k] = stop
        self._tasks[k] = asyncio.create_task(
            self.agents[k].run(stop), name=f"agent-{self.robots[k].config.serial_number}"
        )

    async def _physics(self, stop: asyncio.Event) -> None:
        clock = self.clock
        sim_origin = clock.monotonic() - (self.world.t if self.world else 0.0)
        last = clock.monotonic()
        next_agent_tick = 0.0
        while not stop.is_set():
            free_running = isinstance(clock, ManualClock)
            if isinstance(clock, ManualClock):
                clock.advance(self.physics_dt_s * FREE_RUN_STEPS)
            now = clock.monotonic()
            if self.world is not None:
                self._advance_world(now - sim_origin)
                if self.injector is not None:
                    self.injector.tick()
                self._mark_working()
                for observe in self.observers:
                    observe()
            else:
                dt, last = now - last, now
                for robot in self.robots:
                    if isinstance(robot.body, KinematicRobot):
                        robot.body.step(dt)
            if self.agent_tick_s is not None and now >= next_agent_tick:
                next_agent_tick = now + self.agent_tick_s
                self._tick_agents()
            if free_running:
                await asyncio.sleep(0)  # let agents and MQTT callbacks in, then carry on
                continue
            frame = max(FRAME_REAL_S, clock.real_seconds(self.physics_dt_s))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), frame)

    def _advance_world(self, target: float) -> None:
        world = self.world
        if world is None:
            return
        dt = self.physics_dt_s
        steps = math.floor((target - world.t) / dt + 1e-9)
        if steps > MAX_STEPS_PER_FRAME:
            # The CPU cannot keep up: catch up with longer steps rather than fall behind.
            self.overruns += 1
            dt = (target - world.t) / MAX_STEPS_PER_FRAME
            steps = MAX_STEPS_PER_FRAME
        for _ in range(max(0, steps)):
            world.step(dt)
        self.steps += max(0, steps)

    def _mark_working(self) -> None:
        world = self.world
        if world is None:
            return
        for k, robot in enumerate(self.robots):
            if isinstance(robot.body, RobotView):
                world.r.working[robot.body.i] = (
                    k not in self.crashed and self.agents[k].executor.busy
                )

    def _tick_agents(self) -> None:
        for k, agent in enumerate(self.agents):
            if k not in self.crashed and _agent_running(agent):
                agent.tick()

    # --- process and network faults (sim.faults.FaultHooks) -------------------------------

    def _index(self, serial: str) -> int:
        try:
            return self._by_serial[serial]
        except KeyError:
            raise KeyError(f"no simulated robot with serial {serial!r}") from None

    def crash_agent(self, robot: str) -> None:
        """Kill the agent without a goodbye: its link dies first, then the task."""
        k = self._index(robot)
        if k in self.crashed:
            return
        proxy = self.proxies.get(k)
        if proxy is not None:
            proxy.cut()
        self.crashed.add(k)
        task = self._tasks.pop(k, None)
        if task is not None:
            task.cancel()
            self._leftovers.add(task)
            task.add_done_callback(self._leftovers.discard)
        # The platform stops when the process that commands it is gone.
        adapter = self.robots[k].adapter
        adapter.cancel_navigation()
        adapter.all_devices_off()
        adapter.set_paused(False)

    def restart_agent(self, robot: str) -> None:
        """A fresh agent process (empty order book) over the same robot."""
        k = self._index(robot)
        if k not in self.crashed:
            return
        self.crashed.discard(k)
        proxy = self.proxies.get(k)
        if proxy is not None:
            proxy.restore()
        self.agents[k] = self.robots[k].make_agent(self.clock)
        self._start_agent(k)

    def cut_network(self, robot: str) -> None:
        """Drop the robot's broker connection and refuse new ones."""
        proxy = self.proxies.get(self._index(robot))
        if proxy is None:
            raise KeyError(f"robot {robot!r} has no cuttable link (add it to `proxied`)")
        proxy.cut()

    def restore_network(self, robot: str) -> None:
        """Let the robot reconnect."""
        k = self._index(robot)
        proxy = self.proxies.get(k)
        if proxy is not None and k not in self.crashed:
            proxy.restore()

    def restart_broker(self, downtime_s: float) -> None:
        """Run the broker-restart callback in a worker thread (real downtime scaled)."""
        callback = self.broker_restart
        if callback is None:
            log.warning("broker_restart fault without a broker_restart callback: skipped")
            return
        real = self.clock.real_seconds(downtime_s)
        task = asyncio.get_running_loop().create_task(asyncio.to_thread(callback, real))
        self._leftovers.add(task)
        task.add_done_callback(self._leftovers.discard)


class FleetGroup:
    """Several fleets (one world each, e.g. one per site) run together in one event loop."""

    def __init__(self, fleets: list[SimFleet]) -> None:
        self.fleets = fleets

    @property
    def agents(self) -> list[Agent]:
        """Every fleet's agents."""
        return [agent for fleet in self.fleets for agent in fleet.agents]

    async def run(self, stop: asyncio.Event) -> None:
        """Run every fleet until `stop` is set."""
        async with asyncio.TaskGroup() as group:
            for fleet in self.fleets:
                group.create_task(fleet.run(stop))


class SimFleetThread:
    """Runs a `SimFleet` (or a `FleetGroup`) on its own event loop in a background thread."""

    def __init__(self, fleet: SimFleet | FleetGroup) -> None:
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

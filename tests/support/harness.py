"""A simulated robot with the real agent logic and a manual clock, for tests without MQTT."""

from __future__ import annotations

from missions.vda5050 import ActionStatus, State
from robot_agent.agent import Agent
from robot_agent.config import AgentConfig, RobotDescription
from robot_agent.executor import OrderExecutor
from sim.adapter import SimAdapter, SimSurroundings
from sim.kinematic import KinematicRobot


class Clock:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class Harness:
    """Body + sim adapter + agent; `run` steps physics and the executor together."""

    def __init__(
        self, serial: str = "r1", capabilities: list[str] | None = None, **body: float
    ) -> None:
        self.clock = Clock()
        self.body = KinematicRobot(
            max_speed_m_s=body.pop("max_speed_m_s", 1.0),
            accel_m_s2=body.pop("accel_m_s2", 2.0),
            lift_ride_s=body.pop("lift_ride_s", 3.0),
            **body,
        )
        self.world = SimSurroundings()
        self.adapter = SimAdapter(self.body, self.world)
        config = AgentConfig(
            manufacturer="fleetsim",
            serial_number=serial,
            robot=RobotDescription(capabilities=capabilities or ["patrol"]),  # type: ignore[arg-type]
        )
        self.agent = Agent(config, self.adapter, monotonic=self.clock)
        self.ex: OrderExecutor = self.agent.executor

    def run(self, seconds: float, dt: float = 0.1) -> None:
        """Advance physics and the executor by `seconds`."""
        for _ in range(round(seconds / dt)):
            self.clock.t += dt
            self.body.step(dt)
            self.ex.tick()

    def state(self) -> State:
        """The state message the agent would send now."""
        return self.agent.build_state()

    def status(self, action_id: str) -> ActionStatus:
        """Internal status of an action."""
        return self.ex.runs[action_id].status

    def error_types(self) -> list[str]:
        """errorType of every error the agent reports."""
        return [e.error_type for e in self.ex.errors.all()]

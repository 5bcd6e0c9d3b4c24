"""The simulator's platform adapter: a simulated robot seen through the agent's interface."""

from __future__ import annotations

from robot_agent.adapter import BatteryReading, Pose, Velocity
from sim.kinematic import KinematicRobot


class SimAdapter:
    """Implements `robot_agent.adapter.PlatformAdapter` over a `KinematicRobot`."""

    def __init__(self, robot: KinematicRobot) -> None:
        self.robot = robot

    def read_pose(self) -> Pose:
        """Current pose from the simulation."""
        x, y, theta = self.robot.pose()
        return Pose(x=x, y=y, theta=theta, map_id=self.robot.route.map_id)

    def read_velocity(self) -> Velocity:
        """Forward speed while moving."""
        return Velocity(vx=self.robot.speed_m_s if self.is_driving() else 0.0)

    def read_battery(self) -> BatteryReading:
        """Simulated battery."""
        return BatteryReading(charge_pct=self.robot.battery_pct)

    def is_driving(self) -> bool:
        """True while the robot moves."""
        return self.robot.moving and self.robot.battery_pct > 0

"""Helpers shared by the tests of the ROS 2 workspace."""

from __future__ import annotations

import importlib.util
from pathlib import Path

WORKSPACE_SRC = Path(__file__).resolve().parents[2] / "ros2_ws" / "src"
AGENT_PACKAGE = WORKSPACE_SRC / "fleet_robot_agent"
GAZEBO_PACKAGE = WORKSPACE_SRC / "fleet_gazebo"

RCLPY_MISSING = importlib.util.find_spec("rclpy") is None
"""True where ROS 2 is not installed (or not sourced): rclpy tests are skipped."""


class ManualClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += seconds

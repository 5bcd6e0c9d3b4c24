"""The plain modules stay plain: importing them never pulls in rclpy or a ROS package."""

from __future__ import annotations

import json
import subprocess
import sys

from ros2_support import AGENT_PACKAGE, GAZEBO_PACKAGE

PLAIN_MODULES = [
    "fleet_robot_agent.adapter",
    "fleet_robot_agent.commands",
    "fleet_robot_agent.conversions",
    "fleet_robot_agent.names",
    "fleet_robot_agent.navigation",
    "fleet_robot_agent.node",
    "fleet_robot_agent.params",
    "fleet_robot_agent.readings",
    "fleet_robot_agent.runtime",
    "fleet_robot_agent.service_calls",
    "fleet_gazebo.plan",
]
ROS_PACKAGES = ["rclpy", "launch", "launch_ros", "nav2_msgs", "std_msgs", "tf2_ros"]


def test_plain_modules_import_without_ros() -> None:
    # A fresh interpreter: on a ROS machine this process may already hold rclpy.
    script = (
        "import importlib, json, sys\n"
        f"sys.path[:0] = [{str(AGENT_PACKAGE)!r}, {str(GAZEBO_PACKAGE)!r}]\n"
        f"for name in {PLAIN_MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(json.dumps([m for m in {ROS_PACKAGES!r} if m in sys.modules]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []

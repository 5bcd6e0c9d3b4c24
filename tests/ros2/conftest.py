"""Make the ROS 2 workspace's Python packages importable from the repository root.

colcon installs fleet_robot_agent and fleet_gazebo on a ROS machine; here their
source directories go on sys.path so the ROS-free modules are tested without ROS.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_SRC = Path(__file__).resolve().parents[2] / "ros2_ws" / "src"

for package_dir in (_SRC / "fleet_robot_agent", _SRC / "fleet_gazebo"):
    if str(package_dir) not in sys.path:
        sys.path.insert(0, str(package_dir))


from ros2_support import ManualClock  # noqa: E402 - after the path is set


@pytest.fixture
def clock() -> ManualClock:
    """A manual monotonic clock starting at 1000 s."""
    return ManualClock()

"""ament_python build of fleet_robot_agent (colcon build)."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "fleet_robot_agent"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/config", glob("config/*.yaml")),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
    ],
    # robot_agent and missions come from this repository, installed with pip into the
    # Python environment colcon runs in (docs/ros2.md), not from here.
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="Fleet maintainers",
    maintainer_email="fleet@example.org",
    description="The fleet's onboard agent as a ROS 2 node over Nav2",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            f"fleet_robot_agent = {PACKAGE}.node:main",
            f"check_params = {PACKAGE}.node:check_params",
        ],
    },
)

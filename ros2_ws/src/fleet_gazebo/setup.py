"""ament_python build of fleet_gazebo: the helper module plus launch/, models/, config/."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "fleet_gazebo"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml")),
        (f"share/{PACKAGE}/models/fleet_diff_drive", glob("models/fleet_diff_drive/*")),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="Fleet maintainers",
    maintainer_email="fleet@example.org",
    description="Gazebo demo of the fleet: N robots with Nav2 and the fleet agent",
    license="Apache-2.0",
)

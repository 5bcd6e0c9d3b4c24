"""What fleet_gazebo.launch.py starts, worked out in plain Python (tested without ROS).

Input is the `robots.yaml` written by ``fleet sim export-gazebo``::

    world: world.sdf          # relative to robots.yaml
    level: L1                 # the VDA 5050 mapId the robots start on
    robots:
      - {name: robot1, namespace: robot1, x: 1.0, y: 2.0, z: 0.0, yaw: 0.0}

Output is one `RobotPlan` per robot: the ``ros_gz_sim create`` arguments, the
``ros_gz_bridge`` topic list, the static lidar transform, the agent's parameter
overrides and the robot's Nav2 parameters. Topic names follow models/fleet_diff_drive.
"""

from __future__ import annotations

import copy
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from fleet_robot_agent.names import RosNameError, join_name, normalize_namespace

MODEL_NAME = "fleet_diff_drive"
BASE_FRAME = "base_link"
ODOM_FRAME = "odom"
LIDAR_LINK = "lidar_link"
LIDAR_SENSOR = "lidar"
LIDAR_OFFSET = (0.0, 0.0, 0.30)
"""lidar_link in base_link (x, y, z), as placed in model.sdf."""
BATTERY_NAME = "main"
ROBOT_RADIUS = 0.38
"""Circumscribed radius of the model's 0.60 × 0.44 m chassis, for Nav2's costmaps."""

# Gazebo systems the demo needs from the world: spawning goes through UserCommands'
# /world/<name>/create service, the lidar through Sensors.
REQUIRED_WORLD_SYSTEMS = {
    "gz::sim::systems::Physics": "gz-sim-physics-system",
    "gz::sim::systems::UserCommands": "gz-sim-user-commands-system",
    "gz::sim::systems::SceneBroadcaster": "gz-sim-scene-broadcaster-system",
    "gz::sim::systems::Sensors": "gz-sim-sensors-system",
}

# Gazebo model name and VDA 5050 serialNumber at once: the intersection of what both
# allow (VDA 5050 §6.5 also allows ':', which Gazebo topic names do not take well).
_ROBOT_NAME = re.compile(r"[A-Za-z0-9_.-]+")


class FleetFileError(ValueError):
    """robots.yaml or its world cannot be used; the message names the file and field."""


@dataclass(frozen=True, slots=True)
class RobotSpec:
    """One robot of robots.yaml."""

    name: str
    namespace: str
    x: float
    y: float
    z: float
    yaw: float


@dataclass(frozen=True, slots=True)
class FleetSpec:
    """robots.yaml, validated, with the world resolved."""

    world: Path
    world_name: str
    level: str
    robots: tuple[RobotSpec, ...]


def _number(raw: Mapping[str, Any], key: str, where: str, default: float | None) -> float:
    value = raw.get(key, default)
    if value is None:
        raise FleetFileError(f"{where}.{key}: is required")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise FleetFileError(f"{where}.{key}: must be a finite number, got {value!r}")
    return float(value)


def _robot(raw: object, where: str) -> RobotSpec:
    if not isinstance(raw, dict):
        raise FleetFileError(f"{where}: must be a mapping with name, namespace, x, y, z, yaw")
    name = raw.get("name")
    if not isinstance(name, str) or not _ROBOT_NAME.fullmatch(name):
        raise FleetFileError(
            f"{where}.name: {name!r} must use only letters, digits, '_', '-', '.' "
            "(it is the Gazebo model name and the VDA 5050 serialNumber)"
        )
    namespace = raw.get("namespace")
    if not isinstance(namespace, str):
        raise FleetFileError(f"{where}.namespace: must be a string such as {name!r}")
    try:
        namespace = normalize_namespace(namespace)
    except RosNameError as exc:
        raise FleetFileError(f"{where}.namespace: {exc}") from exc
    if namespace == "/":
        raise FleetFileError(f"{where}.namespace: each robot needs its own, not the root '/'")
    return RobotSpec(
        name=name,
        namespace=namespace,
        x=_number(raw, "x", where, None),
        y=_number(raw, "y", where, None),
        z=_number(raw, "z", where, 0.0),
        yaw=_number(raw, "yaw", where, 0.0),
    )


def load_fleet(path: Path) -> FleetSpec:
    """Read and validate robots.yaml; the world file must exist and name its world."""
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise FleetFileError(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise FleetFileError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise FleetFileError(f"{path}: top level must be a mapping with world, level, robots")
    world_field, level, robots_raw = raw.get("world"), raw.get("level"), raw.get("robots")
    if not isinstance(world_field, str) or not world_field:
        raise FleetFileError(f"{path}: world: must be the path of the world SDF")
    if not isinstance(level, str) or not level:
        raise FleetFileError(f"{path}: level: must be the VDA 5050 mapId of the level")
    if not isinstance(robots_raw, list):
        # An empty list is fine: the exporter's --robots 0 gives a world to look at.
        raise FleetFileError(f"{path}: robots: must be a list (possibly empty)")
    try:
        robots = [_robot(item, f"robots[{i}]") for i, item in enumerate(robots_raw)]
    except FleetFileError as exc:
        raise FleetFileError(f"{path}: {exc}") from exc
    for key in ("name", "namespace"):
        seen: dict[str, int] = {}
        for i, robot in enumerate(robots):
            value = getattr(robot, key)
            if value in seen:
                raise FleetFileError(
                    f"{path}: robots[{i}].{key}: {value!r} is already used by robots[{seen[value]}]"
                )
            seen[value] = i
    world = (path.parent / world_field).resolve()
    return FleetSpec(world=world, world_name=world_name(world), level=level, robots=tuple(robots))


def _parse_world(world: Path) -> ET.Element:
    try:
        root = ET.parse(world).getroot()  # noqa: S314 - the user's own world file
    except OSError as exc:
        raise FleetFileError(f"{world}: cannot read: {exc.strerror}") from exc
    except ET.ParseError as exc:
        raise FleetFileError(f"{world}: not valid XML: {exc}") from exc
    element = root.find("world")
    if root.tag != "sdf" or element is None:
        raise FleetFileError(f"{world}: expected <sdf><world name=...>")
    return element


def world_name(world: Path) -> str:
    """The name attribute of the SDF's <world> (Gazebo topics and services use it)."""
    name = _parse_world(world).get("name", "")
    if not name:
        raise FleetFileError(f"{world}: <world> has no name attribute")
    return name


def missing_world_systems(world: Path) -> list[str]:
    """Required system plugins a world does not load (empty when it loads none at all).

    A world without any <plugin> gets Gazebo's default server systems; one that lists
    plugins gets only those, so it must list the ones the demo relies on.
    """
    plugins = _parse_world(world).findall("plugin")
    if not plugins:
        return []
    names = {p.get("name", "") for p in plugins}
    files = {p.get("filename", "") for p in plugins}
    return sorted(
        f"{name} ({filename})"
        for name, filename in REQUIRED_WORLD_SYSTEMS.items()
        if name not in names and filename not in files and f"lib{filename}.so" not in files
    )


# --- per robot ---------------------------------------------------------------------


def spawn_arguments(robot: RobotSpec, world: str, model_sdf: Path) -> list[str]:
    """Arguments of ``ros2 run ros_gz_sim create`` (flags -world -file -name -x -y -z -Y)."""
    # "-flag=value" keeps negative coordinates from reading as flags.
    return [
        f"-world={world}",
        f"-file={model_sdf}",
        f"-name={robot.name}",
        f"-x={robot.x}",
        f"-y={robot.y}",
        f"-z={robot.z}",
        f"-Y={robot.yaw}",
    ]


def _bridge(ros: str, gz: str, ros_type: str, gz_type: str, direction: str) -> dict[str, Any]:
    # ros_gz_bridge parameter_bridge config_file entry (BridgeConfig fields).
    return {
        "ros_topic_name": ros,
        "gz_topic_name": gz,
        "ros_type_name": ros_type,
        "gz_type_name": gz_type,
        "direction": direction,
    }


def clock_bridge() -> list[dict[str, Any]]:
    """The one /clock bridge every use_sim_time node needs."""
    return [_bridge("/clock", "/clock", "rosgraph_msgs/msg/Clock", "gz.msgs.Clock", "GZ_TO_ROS")]


def robot_bridge(
    robot: RobotSpec, world: str, cmd_vel_stamped: bool = False
) -> list[dict[str, Any]]:
    """Topics between the robot's Gazebo model and its ROS namespace."""
    ns, model = robot.namespace, f"/model/{robot.name}"
    scoped = f"/world/{world}/model/{robot.name}"
    twist = "geometry_msgs/msg/TwistStamped" if cmd_vel_stamped else "geometry_msgs/msg/Twist"
    return [
        _bridge(join_name(ns, "cmd_vel"), f"{model}/cmd_vel", twist, "gz.msgs.Twist", "ROS_TO_GZ"),
        _bridge(
            join_name(ns, "odom"), f"{model}/odometry", "nav_msgs/msg/Odometry",
            "gz.msgs.Odometry", "GZ_TO_ROS",
        ),
        _bridge(
            join_name(ns, "tf"), f"{model}/tf", "tf2_msgs/msg/TFMessage", "gz.msgs.Pose_V",
            "GZ_TO_ROS",
        ),
        _bridge(
            join_name(ns, "scan"),
            f"{scoped}/link/{LIDAR_LINK}/sensor/{LIDAR_SENSOR}/scan",
            "sensor_msgs/msg/LaserScan", "gz.msgs.LaserScan", "GZ_TO_ROS",
        ),
        _bridge(
            join_name(ns, "joint_states"), f"{scoped}/joint_state",
            "sensor_msgs/msg/JointState", "gz.msgs.Model", "GZ_TO_ROS",
        ),
        _bridge(
            join_name(ns, "battery_state"), f"{model}/battery/{BATTERY_NAME}/state",
            "sensor_msgs/msg/BatteryState", "gz.msgs.BatteryState", "GZ_TO_ROS",
        ),
    ]  # fmt: skip


def lidar_transform_arguments() -> list[str]:
    """``tf2_ros static_transform_publisher`` arguments for base_link → lidar_link."""
    x, y, z = LIDAR_OFFSET
    return [
        "--x", str(x), "--y", str(y), "--z", str(z),
        "--frame-id", BASE_FRAME, "--child-frame-id", LIDAR_LINK,
    ]  # fmt: skip


def agent_overrides(
    robot: RobotSpec, level: str, manufacturer: str, broker_url: str
) -> dict[str, Any]:
    """fleet_robot_agent parameters that differ per robot (after its params file)."""
    return {
        "agent.manufacturer": manufacturer,
        "agent.serial_number": robot.name,
        "agent.broker_url": broker_url,
        "map_id": level,
        "base_frame": BASE_FRAME,
        "use_sim_time": True,
    }


_REPLACED_KEYS: dict[str, object] = {
    "robot_base_frame": BASE_FRAME,
    "base_frame_id": BASE_FRAME,
    "robot_radius": ROBOT_RADIUS,
}


def _relocate(tree: Any) -> Any:
    # Absolute topics ("/scan") would be shared by every robot; relative ones resolve
    # in each robot's namespace. Base frames and the robot's size become the model's.
    if isinstance(tree, dict):
        out = {}
        for key, value in tree.items():
            if key in _REPLACED_KEYS and not isinstance(value, dict | list):
                out[key] = _REPLACED_KEYS[key]
            elif str(key).endswith("topic") and isinstance(value, str) and value.startswith("/"):
                out[key] = value.lstrip("/")
            else:
                out[key] = _relocate(value)
        return out
    if isinstance(tree, list):
        return [_relocate(item) for item in tree]
    return tree


def _parameter_blocks(tree: object) -> list[dict[str, Any]]:
    # A node's entry is {ros__parameters: ...}, or nests node names first
    # (local_costmap: {local_costmap: {ros__parameters: ...}}).
    if not isinstance(tree, dict):
        return []
    block = tree.get("ros__parameters")
    if isinstance(block, dict):
        return [block]
    return [found for value in tree.values() for found in _parameter_blocks(value)]


def nav2_params_for_robot(base: Mapping[str, Any], robot: RobotSpec) -> dict[str, Any]:
    """A robot's Nav2 parameters from a shared nav2_params.yaml tree.

    Every node gets use_sim_time; topics become relative, base frames base_link and
    robot_radius the model's (see `_relocate`); AMCL starts at the robot's spawn pose
    (set_initial_pose, initial_pose.x/y/z/yaw), so no one has to click "2D Pose
    Estimate" per robot.
    """
    params: dict[str, Any] = _relocate(copy.deepcopy(dict(base)))
    for node, body in params.items():
        blocks = _parameter_blocks(body)
        if not blocks:
            raise FleetFileError(f"nav2 params: {node}: needs a 'ros__parameters' mapping")
        for block in blocks:
            block["use_sim_time"] = True
    for amcl in _parameter_blocks(params.get("amcl")):
        amcl.update(
            {
                "set_initial_pose": True,
                "initial_pose": {"x": robot.x, "y": robot.y, "z": robot.z, "yaw": robot.yaw},
                "odom_frame_id": ODOM_FRAME,
            }
        )
    return params


@dataclass(frozen=True, slots=True)
class RobotPlan:
    """Everything launched for one robot."""

    robot: RobotSpec
    spawn_arguments: list[str]
    bridge: list[dict[str, Any]]
    lidar_transform_arguments: list[str]
    agent_overrides: dict[str, Any]
    nav2_params: dict[str, Any]

    @property
    def nav2_namespace(self) -> str:
        """The namespace as nav2_bringup's `namespace` argument takes it (no leading '/')."""
        return self.robot.namespace.lstrip("/")


def plan_fleet(
    fleet: FleetSpec,
    model_sdf: Path,
    nav2_base: Mapping[str, Any],
    *,
    manufacturer: str = "fleet_sim",
    broker_url: str = "mqtt://127.0.0.1:1883",
    cmd_vel_stamped: bool = False,
) -> list[RobotPlan]:
    """One plan per robot, in robots.yaml order."""
    return [
        RobotPlan(
            robot=robot,
            spawn_arguments=spawn_arguments(robot, fleet.world_name, model_sdf),
            bridge=robot_bridge(robot, fleet.world_name, cmd_vel_stamped),
            lidar_transform_arguments=lidar_transform_arguments(),
            agent_overrides=agent_overrides(robot, fleet.level, manufacturer, broker_url),
            nav2_params=nav2_params_for_robot(nav2_base, robot),
        )
        for robot in fleet.robots
    ]


def write_yaml(data: object, path: Path) -> Path:
    """Write a generated bridge or params file; returns its path."""
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path

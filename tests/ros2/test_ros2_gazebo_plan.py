"""fleet_gazebo.plan: robots.yaml, spawn and bridge arguments, Nav2 params, the model file."""

from __future__ import annotations

import math
import py_compile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml
from fleet_gazebo.plan import (
    BASE_FRAME,
    BATTERY_NAME,
    LIDAR_LINK,
    LIDAR_OFFSET,
    LIDAR_SENSOR,
    MODEL_NAME,
    ODOM_FRAME,
    ROBOT_RADIUS,
    FleetFileError,
    RobotSpec,
    agent_overrides,
    clock_bridge,
    lidar_transform_arguments,
    load_fleet,
    missing_world_systems,
    nav2_params_for_robot,
    plan_fleet,
    robot_bridge,
    spawn_arguments,
    world_name,
    write_yaml,
)
from fleet_robot_agent.params import load_params_file, parse_node_parameters
from ros2_support import AGENT_PACKAGE, GAZEBO_PACKAGE

MODEL_SDF = GAZEBO_PACKAGE / "models" / MODEL_NAME / "model.sdf"
SIM_AGENT = GAZEBO_PACKAGE / "config" / "sim_agent.yaml"
MAPS = Path(__file__).resolve().parents[1] / "fixtures" / "maps" / "rmf"

WORLD = """<?xml version="1.0"?>
<sdf version="1.9">
  <world name="clinic_L1">
    {plugins}
    <model name="wall"><static>true</static></model>
  </world>
</sdf>
"""

ALL_SYSTEMS = """
    <plugin filename="gz-sim-physics-system" name="gz::sim::systems::Physics"/>
    <plugin filename="gz-sim-user-commands-system" name="gz::sim::systems::UserCommands"/>
    <plugin filename="gz-sim-scene-broadcaster-system"
            name="gz::sim::systems::SceneBroadcaster"/>
    <plugin filename="gz-sim-sensors-system" name="gz::sim::systems::Sensors">
      <render_engine>ogre2</render_engine>
    </plugin>
"""

ROBOTS = {
    "world": "world.sdf",
    "level": "L1",
    "robots": [
        {"name": "robot1", "namespace": "robot1", "x": 1.0, "y": 2.0, "z": 0.0, "yaw": 0.0},
        {"name": "uv-2", "namespace": "/fleet/uv_2", "x": -3.5, "y": 0, "yaw": 1.5708},
    ],
}

# A cut-down nav2_params.yaml in the shape nav2_bringup ships (node: ros__parameters).
NAV2_BASE: dict[str, Any] = {
    "amcl": {
        "ros__parameters": {
            "base_frame_id": "base_footprint",
            "scan_topic": "scan",
            "global_frame_id": "map",
        }
    },
    "bt_navigator": {"ros__parameters": {"robot_base_frame": "base_link", "odom_topic": "/odom"}},
    "local_costmap": {
        "local_costmap": {
            "ros__parameters": {
                "robot_base_frame": "base_footprint",
                "robot_radius": 0.22,
                "voxel_layer": {
                    "observation_sources": "scan",
                    "scan": {"topic": "/scan", "data_type": "LaserScan"},
                },
            }
        }
    },
    "controller_server": {"ros__parameters": {"controller_frequency": 20.0}},
}


def write_site(tmp_path: Path, robots: dict[str, Any] | None = None, plugins: str = "") -> Path:
    (tmp_path / "world.sdf").write_text(WORLD.format(plugins=plugins))
    path = tmp_path / "robots.yaml"
    path.write_text(yaml.safe_dump(robots if robots is not None else ROBOTS))
    return path


# --- robots.yaml ---------------------------------------------------------------------


def test_robots_file_is_read_with_world_and_namespaces(tmp_path: Path) -> None:
    fleet = load_fleet(write_site(tmp_path))
    assert fleet.world == (tmp_path / "world.sdf").resolve()
    assert fleet.world_name == "clinic_L1" and fleet.level == "L1"
    assert fleet.robots == (
        RobotSpec("robot1", "/robot1", 1.0, 2.0, 0.0, 0.0),
        RobotSpec("uv-2", "/fleet/uv_2", -3.5, 0.0, 0.0, 1.5708),
    )


def robots_with(**changes: Any) -> dict[str, Any]:
    first = {**ROBOTS["robots"][0], **changes}
    return {**ROBOTS, "robots": [first, ROBOTS["robots"][1]]}


@pytest.mark.parametrize(
    ("robots", "error"),
    [
        ({"level": "L1", "robots": []}, "world: must be"),
        ({"world": "world.sdf", "robots": [{}]}, "level: must be"),
        ({"world": "world.sdf", "level": "L1", "robots": {}}, "robots: must be a list"),
        ({"world": "world.sdf", "level": "L1"}, "robots: must be a list"),
        (
            {"world": "world.sdf", "level": "L1", "robots": ["r1"]},
            r"robots\[0\]: must be a mapping",
        ),
        (robots_with(name="robot 1"), r"robots\[0\]\.name: 'robot 1' must use only"),
        (robots_with(name="a:b"), r"robots\[0\]\.name"),
        (robots_with(namespace=7), r"robots\[0\]\.namespace: must be a string"),
        (robots_with(namespace="robot-1"), r"robots\[0\]\.namespace: namespace 'robot-1'"),
        (robots_with(namespace="/"), r"robots\[0\]\.namespace: each robot needs its own"),
        (robots_with(x="1"), r"robots\[0\]\.x: must be a finite number"),
        (robots_with(y=math.nan), r"robots\[0\]\.y: must be a finite number"),
        (robots_with(yaw=True), r"robots\[0\]\.yaw: must be a finite number"),
        (
            {**ROBOTS, "robots": [{"name": "r", "namespace": "r", "x": 0}]},
            r"robots\[0\]\.y: is required",
        ),
        (robots_with(name="uv-2"), r"robots\[1\]\.name: 'uv-2' is already used by robots\[0\]"),
        (
            robots_with(namespace="/fleet/uv_2/"),
            r"robots\[1\]\.namespace: '/fleet/uv_2' is already",
        ),
    ],
)
def test_bad_robots_files_name_the_field(
    tmp_path: Path, robots: dict[str, Any], error: str
) -> None:
    path = write_site(tmp_path, robots)
    with pytest.raises(FleetFileError, match=error) as caught:
        load_fleet(path)
    assert str(path) in str(caught.value)


def test_a_world_without_robots_is_allowed(tmp_path: Path) -> None:
    fleet = load_fleet(write_site(tmp_path, {"world": "world.sdf", "level": "L1", "robots": []}))
    assert fleet.robots == ()
    assert plan_fleet(fleet, MODEL_SDF, NAV2_BASE) == []


def test_what_fleet_sim_export_gazebo_writes_is_launchable(tmp_path: Path) -> None:
    from sim.gazebo import export_gazebo
    from sim.sitemaps import load_site

    site = load_site(MAPS / "clinic.building.yaml")
    world, robots = export_gazebo(site, "L1", tmp_path, 3)
    fleet = load_fleet(robots)
    assert fleet.world == world.resolve() and fleet.level == "L1"
    assert len(fleet.robots) == 3 and missing_world_systems(world) == []
    plans = plan_fleet(fleet, MODEL_SDF, NAV2_BASE)
    for plan in plans:
        overrides = plan.agent_overrides
        values = load_params_file(SIM_AGENT, namespace=plan.robot.namespace)
        settings = parse_node_parameters({**values, **overrides}, environ={})
        assert settings.agent.serial_number == plan.robot.name
        assert plan.spawn_arguments[0] == f"-world={fleet.world_name}"


def test_robots_file_that_is_not_yaml_or_missing(tmp_path: Path) -> None:
    bad = tmp_path / "robots.yaml"
    bad.write_text("robots: [\n")
    with pytest.raises(FleetFileError, match="not valid YAML"):
        load_fleet(bad)
    with pytest.raises(FleetFileError, match="cannot read"):
        load_fleet(tmp_path / "missing.yaml")
    bad.write_text("- 1\n")
    with pytest.raises(FleetFileError, match="top level must be a mapping"):
        load_fleet(bad)


def test_world_file_problems(tmp_path: Path) -> None:
    path = write_site(tmp_path)
    (tmp_path / "world.sdf").unlink()
    with pytest.raises(FleetFileError, match="cannot read"):
        load_fleet(path)
    (tmp_path / "world.sdf").write_text("<sdf><world>")
    with pytest.raises(FleetFileError, match="not valid XML"):
        load_fleet(path)
    (tmp_path / "world.sdf").write_text("<sdf><model name='m'/></sdf>")
    with pytest.raises(FleetFileError, match="expected <sdf><world"):
        world_name(tmp_path / "world.sdf")
    (tmp_path / "world.sdf").write_text("<sdf><world/></sdf>")
    with pytest.raises(FleetFileError, match="no name attribute"):
        world_name(tmp_path / "world.sdf")


def test_missing_world_systems(tmp_path: Path) -> None:
    world = tmp_path / "world.sdf"
    world.write_text(WORLD.format(plugins=""))
    assert missing_world_systems(world) == []  # Gazebo's defaults apply
    world.write_text(WORLD.format(plugins=ALL_SYSTEMS))
    assert missing_world_systems(world) == []
    only_physics = '<plugin filename="libgz-sim-physics-system.so" name="x"/>'
    world.write_text(WORLD.format(plugins=only_physics))
    assert missing_world_systems(world) == [
        "gz::sim::systems::SceneBroadcaster (gz-sim-scene-broadcaster-system)",
        "gz::sim::systems::Sensors (gz-sim-sensors-system)",
        "gz::sim::systems::UserCommands (gz-sim-user-commands-system)",
    ]


# --- per-robot arguments ----------------------------------------------------------------

ROBOT = RobotSpec("uv-2", "/fleet/uv_2", -3.5, 0.25, 0.1, -1.0)


def test_spawn_arguments_for_ros_gz_sim_create() -> None:
    assert spawn_arguments(ROBOT, "clinic_L1", Path("/share/model.sdf")) == [
        "-world=clinic_L1",
        "-file=/share/model.sdf",
        "-name=uv-2",
        "-x=-3.5",
        "-y=0.25",
        "-z=0.1",
        "-Y=-1.0",
    ]


def test_robot_bridge_maps_model_topics_into_the_namespace() -> None:
    entries = {e["ros_topic_name"]: e for e in robot_bridge(ROBOT, "clinic_L1")}
    assert set(entries) == {
        "/fleet/uv_2/cmd_vel",
        "/fleet/uv_2/odom",
        "/fleet/uv_2/tf",
        "/fleet/uv_2/scan",
        "/fleet/uv_2/joint_states",
        "/fleet/uv_2/battery_state",
    }
    cmd = entries["/fleet/uv_2/cmd_vel"]
    assert cmd == {
        "ros_topic_name": "/fleet/uv_2/cmd_vel",
        "gz_topic_name": "/model/uv-2/cmd_vel",
        "ros_type_name": "geometry_msgs/msg/Twist",
        "gz_type_name": "gz.msgs.Twist",
        "direction": "ROS_TO_GZ",
    }
    assert entries["/fleet/uv_2/scan"]["gz_topic_name"] == (
        "/world/clinic_L1/model/uv-2/link/lidar_link/sensor/lidar/scan"
    )
    assert entries["/fleet/uv_2/battery_state"]["gz_topic_name"] == "/model/uv-2/battery/main/state"
    assert entries["/fleet/uv_2/tf"]["gz_type_name"] == "gz.msgs.Pose_V"
    others = [e for e in entries.values() if e is not cmd]
    assert all(e["direction"] == "GZ_TO_ROS" for e in others)
    stamped = robot_bridge(ROBOT, "clinic_L1", cmd_vel_stamped=True)[0]
    assert stamped["ros_type_name"] == "geometry_msgs/msg/TwistStamped"


def test_clock_bridge_and_lidar_transform() -> None:
    assert clock_bridge() == [
        {
            "ros_topic_name": "/clock",
            "gz_topic_name": "/clock",
            "ros_type_name": "rosgraph_msgs/msg/Clock",
            "gz_type_name": "gz.msgs.Clock",
            "direction": "GZ_TO_ROS",
        }
    ]
    assert lidar_transform_arguments() == [
        "--x", "0.0", "--y", "0.0", "--z", "0.3",
        "--frame-id", "base_link", "--child-frame-id", "lidar_link",
    ]  # fmt: skip


def test_agent_overrides_validate_with_the_shipped_agent_params() -> None:
    overrides = agent_overrides(ROBOT, "L1", "fleet_sim", "mqtt://10.0.0.2:1883")
    assert overrides["agent.serial_number"] == "uv-2" and overrides["map_id"] == "L1"
    values = load_params_file(
        GAZEBO_PACKAGE / "config" / "sim_agent.yaml", namespace=ROBOT.namespace
    )
    settings = parse_node_parameters({**values, **overrides}, environ={})
    assert settings.agent.broker_url == "mqtt://10.0.0.2:1883"
    assert settings.agent.serial_number == "uv-2"
    assert settings.adapter.base_frame == BASE_FRAME
    # The real robot's example keeps working with the same overrides too.
    example = load_params_file(AGENT_PACKAGE / "config" / "agent.yaml", namespace=ROBOT.namespace)
    assert parse_node_parameters({**example, **overrides}, environ={}).adapter.map_id == "L1"


# --- Nav2 parameters --------------------------------------------------------------------------


def test_nav2_params_are_namespaced_and_start_at_the_spawn_pose() -> None:
    params = nav2_params_for_robot(NAV2_BASE, ROBOT)
    amcl = params["amcl"]["ros__parameters"]
    assert amcl["set_initial_pose"] is True
    assert amcl["initial_pose"] == {"x": -3.5, "y": 0.25, "z": 0.1, "yaw": -1.0}
    assert amcl["base_frame_id"] == BASE_FRAME and amcl["odom_frame_id"] == ODOM_FRAME
    assert amcl["scan_topic"] == "scan"
    assert params["bt_navigator"]["ros__parameters"]["odom_topic"] == "odom"
    local = params["local_costmap"]["local_costmap"]["ros__parameters"]
    assert local["robot_base_frame"] == BASE_FRAME
    assert local["robot_radius"] == ROBOT_RADIUS
    assert local["voxel_layer"]["scan"]["topic"] == "scan"
    assert local["voxel_layer"]["observation_sources"] == "scan"
    for node in ("amcl", "bt_navigator", "controller_server"):
        assert params[node]["ros__parameters"]["use_sim_time"] is True
    assert local["use_sim_time"] is True
    assert NAV2_BASE["bt_navigator"]["ros__parameters"]["odom_topic"] == "/odom"  # not mutated


def test_nav2_params_without_ros_parameters_are_refused() -> None:
    with pytest.raises(FleetFileError, match="planner_server"):
        nav2_params_for_robot({"planner_server": {"planner_server": {"frequency": 1}}}, ROBOT)


def test_plan_fleet_and_generated_files(tmp_path: Path) -> None:
    fleet = load_fleet(write_site(tmp_path, plugins=ALL_SYSTEMS))
    plans = plan_fleet(fleet, MODEL_SDF, NAV2_BASE, manufacturer="acme", broker_url="mqtt://b:1883")
    assert [p.robot.name for p in plans] == ["robot1", "uv-2"]
    assert [p.nav2_namespace for p in plans] == ["robot1", "fleet/uv_2"]
    assert plans[1].spawn_arguments[0] == "-world=clinic_L1"
    assert plans[0].agent_overrides["agent.manufacturer"] == "acme"
    written = write_yaml(plans[1].bridge, tmp_path / "bridge.yaml")
    assert yaml.safe_load(written.read_text()) == plans[1].bridge
    assert plans[0].nav2_params["amcl"]["ros__parameters"]["initial_pose"]["x"] == 1.0


# --- the model and the launch files ------------------------------------------------------------


def test_model_sdf_matches_what_the_plan_assumes() -> None:
    model = ET.parse(MODEL_SDF).getroot().find("model")  # noqa: S314 - our own file
    assert model is not None and model.get("name") == MODEL_NAME
    links = {link.get("name"): link for link in model.findall("link")}
    assert {BASE_FRAME, LIDAR_LINK, "left_wheel", "right_wheel"} <= set(links)

    def z_of(link: str) -> float:
        pose = links[link].findtext("pose")
        assert pose is not None
        return float(pose.split()[2])

    assert math.isclose(z_of(LIDAR_LINK) - z_of(BASE_FRAME), LIDAR_OFFSET[2])
    sensor = links[LIDAR_LINK].find("sensor")
    assert sensor is not None and sensor.get("name") == LIDAR_SENSOR
    assert sensor.get("type") == "gpu_lidar" and sensor.findtext("gz_frame_id") == LIDAR_LINK
    assert sensor.findtext("topic") is None  # the bridge relies on the scoped default
    plugins = {p.get("name"): p for p in model.findall("plugin")}
    drive = plugins["gz::sim::systems::DiffDrive"]
    assert drive.findtext("frame_id") == ODOM_FRAME
    assert drive.findtext("child_frame_id") == BASE_FRAME
    joints = {j.get("name") for j in model.findall("joint")}
    assert {drive.findtext("left_joint"), drive.findtext("right_joint")} <= joints
    for element in ("topic", "odom_topic", "tf_topic"):
        assert drive.findtext(element) is None  # model-scoped defaults, one per robot
    battery = plugins["gz::sim::systems::LinearBatteryPlugin"]
    assert battery.findtext("battery_name") == BATTERY_NAME
    assert "gz::sim::systems::JointStatePublisher" in plugins


@pytest.mark.parametrize(
    "launch_file",
    [
        GAZEBO_PACKAGE / "launch" / "fleet_gazebo.launch.py",
        AGENT_PACKAGE / "launch" / "robot_agent.launch.py",
    ],
)
def test_launch_files_compile(launch_file: Path, tmp_path: Path) -> None:
    py_compile.compile(str(launch_file), cfile=str(tmp_path / "out.pyc"), doraise=True)

"""The fleet in Gazebo: world, N robots, bridges, Nav2 and one fleet agent per robot.

    fleet sim export-gazebo ... --out /tmp/site          # writes world.sdf, robots.yaml
    ros2 launch fleet_gazebo fleet_gazebo.launch.py robots:=/tmp/site/robots.yaml \
        fleet_server:=true

Arguments: robots (required), map (Nav2 map YAML of the level; default: rasterised
from the world's walls), nav2_params, agent_params, manufacturer, broker_url,
fleet_server, headless, cmd_vel_stamped, slam. Everything that can be decided
without ROS is in fleet_gazebo.plan and fleet_gazebo.occupancy (tested in
tests/ros2); this file only turns their results into launch actions.
"""

import shutil
import tempfile
from pathlib import Path

import yaml
from ament_index_python.packages import get_package_share_directory
from launch import LaunchContext, LaunchDescription
from launch.actions import (
    AppendEnvironmentVariable,
    DeclareLaunchArgument,
    ExecuteProcess,
    GroupAction,
    IncludeLaunchDescription,
    LogInfo,
    OpaqueFunction,
    RegisterEventHandler,
)
from launch.conditions import IfCondition
from launch.event_handlers import OnShutdown
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from fleet_gazebo.occupancy import world_map_file
from fleet_gazebo.plan import (
    MODEL_NAME,
    RobotPlan,
    clock_bridge,
    load_fleet,
    missing_world_systems,
    plan_fleet,
    write_yaml,
)

_TF_REMAPS = [("/tf", "tf"), ("/tf_static", "tf_static")]


def _arg(context: LaunchContext, name: str) -> str:
    return str(LaunchConfiguration(name).perform(context))


def _flag(context: LaunchContext, name: str) -> bool:
    return _arg(context, name).strip().lower() in ("true", "1", "yes")


def _robot_actions(
    plan: RobotPlan, workdir: Path, nav2_launch: Path, map_yaml: str, context: LaunchContext
) -> GroupAction:
    name, ns = plan.robot.name, plan.robot.namespace
    bridge_file = write_yaml(plan.bridge, workdir / f"{name}_bridge.yaml")
    nav2_file = write_yaml(plan.nav2_params, workdir / f"{name}_nav2_params.yaml")
    # A scoped GroupAction keeps each include's launch arguments (namespace, ...) from
    # leaking into the next robot's.
    return GroupAction(
        [
            # ros_gz_sim `create`: -world -file -name -x -y -z -Y → /world/<w>/create.
            Node(
                package="ros_gz_sim",
                executable="create",
                name="spawn",
                namespace=ns,
                arguments=plan.spawn_arguments,
                output="screen",
            ),
            # ros_gz_bridge parameter_bridge, parameter config_file: a YAML list of
            # {ros_topic_name, gz_topic_name, ros_type_name, gz_type_name, direction}.
            Node(
                package="ros_gz_bridge",
                executable="parameter_bridge",
                name="gz_bridge",
                namespace=ns,
                parameters=[{"config_file": str(bridge_file), "use_sim_time": True}],
                output="screen",
            ),
            # tf2_ros static_transform_publisher --x --y --z --frame-id --child-frame-id
            # publishes on /tf_static; remapped into the robot's own tree.
            Node(
                package="tf2_ros",
                executable="static_transform_publisher",
                name="lidar_transform",
                namespace=ns,
                arguments=plan.lidar_transform_arguments,
                parameters=[{"use_sim_time": True}],
                remappings=_TF_REMAPS,
            ),
            # nav2_bringup bringup_launch.py: namespace (+ use_namespace where the
            # release still has it), map, params_file, use_sim_time, autostart, slam.
            IncludeLaunchDescription(
                PythonLaunchDescriptionSource(str(nav2_launch)),
                launch_arguments={
                    "namespace": plan.nav2_namespace,
                    "use_namespace": "True",
                    "map": map_yaml,
                    "params_file": str(nav2_file),
                    "use_sim_time": "True",
                    "autostart": "True",
                    "slam": "True" if _flag(context, "slam") else "False",
                }.items(),
            ),
            # The agent: the robot's params file, then the per-robot overrides.
            Node(
                package="fleet_robot_agent",
                executable="fleet_robot_agent",
                name="fleet_robot_agent",
                namespace=ns,
                parameters=[_arg(context, "agent_params"), plan.agent_overrides],
                remappings=_TF_REMAPS,
                output="screen",
            ),
        ]
    )


def _launch_fleet(context: LaunchContext) -> list[object]:
    share = Path(get_package_share_directory("fleet_gazebo"))
    fleet = load_fleet(Path(_arg(context, "robots")))
    nav2_params = Path(_arg(context, "nav2_params"))
    nav2_base = yaml.safe_load(nav2_params.read_text())
    plans = plan_fleet(
        fleet,
        share / "models" / MODEL_NAME / "model.sdf",
        nav2_base,
        manufacturer=_arg(context, "manufacturer"),
        broker_url=_arg(context, "broker_url"),
        cmd_vel_stamped=_flag(context, "cmd_vel_stamped"),
    )
    workdir = Path(tempfile.mkdtemp(prefix="fleet_gazebo_"))
    # Nav2's map must be in the site's level frame: the world's walls give exactly that.
    map_yaml = _arg(context, "map") or str(world_map_file(fleet.world, workdir))
    actions: list[object] = [
        LogInfo(
            msg=f"fleet_gazebo: {len(plans)} robots on level {fleet.level} in world "
            f"{fleet.world_name} ({fleet.world}); Nav2 map {map_yaml}; generated files in "
            f"{workdir}"
        )
    ]
    for missing in missing_world_systems(fleet.world):
        actions.append(LogInfo(msg=f"fleet_gazebo: WARNING: the world does not load {missing}"))
    # The model's own directory and the world's (for its meshes) on Gazebo's resource path.
    actions.append(AppendEnvironmentVariable("GZ_SIM_RESOURCE_PATH", str(share / "models")))
    actions.append(AppendEnvironmentVariable("GZ_SIM_RESOURCE_PATH", str(fleet.world.parent)))
    # ros_gz_sim gz_sim.launch.py: gz_args passed to `gz sim`; on_exit_shutdown ends the
    # launch when Gazebo exits.
    gz_args = ("-r -s " if _flag(context, "headless") else "-r ") + str(fleet.world)
    gz_launch = Path(get_package_share_directory("ros_gz_sim")) / "launch" / "gz_sim.launch.py"
    actions.append(
        IncludeLaunchDescription(
            PythonLaunchDescriptionSource(str(gz_launch)),
            launch_arguments={"gz_args": gz_args, "on_exit_shutdown": "true"}.items(),
        )
    )
    clock_file = write_yaml(clock_bridge(), workdir / "clock_bridge.yaml")
    actions.append(
        Node(
            package="ros_gz_bridge",
            executable="parameter_bridge",
            name="clock_bridge",
            parameters=[{"config_file": str(clock_file)}],
            output="screen",
        )
    )
    nav2_launch = Path(get_package_share_directory("nav2_bringup")) / "launch" / "bringup_launch.py"
    actions.extend(_robot_actions(plan, workdir, nav2_launch, map_yaml, context) for plan in plans)
    actions.append(
        RegisterEventHandler(
            OnShutdown(
                on_shutdown=[
                    OpaqueFunction(function=lambda _ctx: shutil.rmtree(workdir, ignore_errors=True))
                ]
            )
        )
    )
    return actions


def generate_launch_description() -> LaunchDescription:
    """Declare the arguments; the fleet itself is built once they are known."""
    nav2_default = str(
        Path(get_package_share_directory("nav2_bringup")) / "params" / "nav2_params.yaml"
    )
    agent_default = str(
        Path(get_package_share_directory("fleet_gazebo")) / "config" / "sim_agent.yaml"
    )
    return LaunchDescription(
        [
            DeclareLaunchArgument("robots", description="robots.yaml from fleet sim export-gazebo"),
            DeclareLaunchArgument(
                "map", default_value="", description="Nav2 map YAML (default: from the world)"
            ),
            DeclareLaunchArgument("nav2_params", default_value=nav2_default),
            DeclareLaunchArgument("agent_params", default_value=agent_default),
            DeclareLaunchArgument("manufacturer", default_value="fleet_sim"),
            DeclareLaunchArgument("broker_url", default_value="mqtt://127.0.0.1:1883"),
            DeclareLaunchArgument("fleet_server", default_value="false"),
            DeclareLaunchArgument("headless", default_value="false"),
            DeclareLaunchArgument(
                "cmd_vel_stamped",
                default_value="false",
                description="true when Nav2 publishes TwistStamped (enable_stamped_cmd_vel)",
            ),
            DeclareLaunchArgument("slam", default_value="False"),
            # The fleet server with its embedded broker and SQLite (`fleet serve`).
            ExecuteProcess(
                cmd=["fleet", "serve"],
                condition=IfCondition(LaunchConfiguration("fleet_server")),
                output="screen",
            ),
            OpaqueFunction(function=_launch_fleet),
        ]
    )

"""Launch one fleet_robot_agent next to a robot's own Nav2 bringup.

    ros2 launch fleet_robot_agent robot_agent.launch.py namespace:=robot1 \
        params_file:=/etc/fleet/agent.yaml serial_number:=robot1 map_id:=L1

`serial_number` and `map_id`, when given, override the params file. /tf and /tf_static
are remapped to tf and tf_static: under a namespace that is the robot's own TF tree
(nav2_bringup's convention); in the root namespace it is /tf as usual.
"""

from launch import LaunchContext, LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare


def _agent_node(context: LaunchContext) -> list[Node]:
    overrides: dict[str, object] = {
        # launch_ros Node parameters: a dict becomes parameter overrides after the file.
        "use_sim_time": LaunchConfiguration("use_sim_time").perform(context).lower() == "true",
    }
    serial = LaunchConfiguration("serial_number").perform(context)
    if serial:
        overrides["agent.serial_number"] = serial
    map_id = LaunchConfiguration("map_id").perform(context)
    if map_id:
        overrides["map_id"] = map_id
    return [
        # launch_ros.actions.Node(package, executable, name, namespace, parameters,
        # remappings): one process running fleet_robot_agent.node:main.
        Node(
            package="fleet_robot_agent",
            executable="fleet_robot_agent",
            name="fleet_robot_agent",
            namespace=LaunchConfiguration("namespace"),
            parameters=[LaunchConfiguration("params_file"), overrides],
            remappings=[("/tf", "tf"), ("/tf_static", "tf_static")],
            output="screen",
        )
    ]


def generate_launch_description() -> LaunchDescription:
    """Arguments: namespace, params_file, serial_number, map_id, use_sim_time."""
    default_params = PathJoinSubstitution(
        [FindPackageShare("fleet_robot_agent"), "config", "agent.yaml"]
    )
    return LaunchDescription(
        [
            DeclareLaunchArgument("namespace", default_value="", description="Robot namespace"),
            DeclareLaunchArgument(
                "params_file", default_value=default_params, description="ROS params file"
            ),
            DeclareLaunchArgument(
                "serial_number", default_value="", description="VDA 5050 serialNumber override"
            ),
            DeclareLaunchArgument(
                "map_id", default_value="", description="Starting level override"
            ),
            DeclareLaunchArgument("use_sim_time", default_value="false"),
            OpaqueFunction(function=_agent_node),
        ]
    )

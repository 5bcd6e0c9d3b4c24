"""Entry points: the `fleet_robot_agent` node and the ROS-free `check_params` tool.

    ros2 run fleet_robot_agent fleet_robot_agent --ros-args \\
        -r __ns:=/robot1 --params-file agent.yaml -r /tf:=tf -r /tf_static:=tf_static
    ros2 run fleet_robot_agent check_params agent.yaml --namespace /robot1
"""

from __future__ import annotations

import argparse
import array
import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

from fleet_robot_agent.params import (
    NODE_NAME,
    ParameterError,
    ParamsFileError,
    load_params_file,
    parse_node_parameters,
)

log = logging.getLogger(__name__)


def _plain(value: object) -> object:
    # rclpy hands array parameters over as array.array or lists.
    if isinstance(value, array.array | tuple):
        return list(value)
    return value


def node_parameter_values(node: Any) -> dict[str, object]:
    """A node's parameters as the flat {name: value} mapping params.py validates."""
    # rclpy Node.get_parameters_by_prefix("") → {name: rclpy.parameter.Parameter}.
    return {name: _plain(p.value) for name, p in node.get_parameters_by_prefix("").items()}


def main(args: list[str] | None = None) -> int:
    """Run the node: rclpy executor in a thread, the agent on asyncio in this one."""
    import rclpy
    from rclpy.executors import MultiThreadedExecutor
    from rclpy.node import Node
    from rclpy.signals import SignalHandlerOptions

    from fleet_robot_agent.adapter import Ros2Adapter
    from fleet_robot_agent.commands import CommandQueue
    from fleet_robot_agent.ros_bridge import RosBridge
    from fleet_robot_agent.runtime import run_with_executor
    from robot_agent.agent import Agent

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # SIGINT/SIGTERM go to asyncio, which stops the agent cleanly (OFFLINE, disconnect)
    # before the executor is shut down; rclpy's own handlers would race it.
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    # Every parameter in the params file is declared as it comes, then validated here.
    node = Node(
        NODE_NAME,
        allow_undeclared_parameters=True,
        automatically_declare_parameters_from_overrides=True,
    )
    try:
        try:
            settings = parse_node_parameters(node_parameter_values(node))
        except ParameterError as exc:
            node.get_logger().fatal(str(exc))
            return 2
        queue = CommandQueue()
        adapter = Ros2Adapter(settings.adapter, queue)
        bridge = RosBridge(node, settings.adapter, adapter, queue)
        executor = MultiThreadedExecutor()
        executor.add_node(node)
        agent = Agent(settings.agent, adapter)
        log.info(
            "agent %s/%s on %s, level %s",
            settings.agent.manufacturer,
            settings.agent.serial_number,
            node.get_namespace(),
            settings.adapter.map_id,
        )
        asyncio.run(run_with_executor(agent.run, executor))
        if bridge.handler_errors:
            log.warning("ROS callbacks that failed: %s", dict(bridge.handler_errors))
        return 0
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


def check_params(argv: list[str] | None = None) -> int:
    """Validate a params file as the node would, without ROS; prints what it found."""
    parser = argparse.ArgumentParser(prog="check_params", description=check_params.__doc__)
    parser.add_argument("params_file", type=Path)
    parser.add_argument("--node-name", default=NODE_NAME)
    parser.add_argument("--namespace", default="/")
    options = parser.parse_args(argv)
    try:
        values = load_params_file(options.params_file, options.node_name, options.namespace)
        settings = parse_node_parameters(values)
    except (ParamsFileError, ParameterError) as exc:
        print(f"{options.params_file}: {exc}", file=sys.stderr)
        return 1
    adapter, agent = settings.adapter, settings.agent
    print(f"{options.params_file}: OK for {options.namespace.rstrip('/')}/{options.node_name}")
    print(f"  agent {agent.manufacturer}/{agent.serial_number} via {agent.broker_url}")
    print(f"  level {adapter.map_id}, frames {adapter.map_frame} -> {adapter.base_frame}")
    print(f"  devices: {', '.join(d.value for d in adapter.device_services) or 'none'}")
    print(f"  sensors: {', '.join(adapter.sensor_topics) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""RosBridge against live rclpy: a fake Nav2 action server, topics, a service and TF.

Needs a sourced ROS 2 Jazzy (rclpy, nav2_msgs, std_srvs, tf2_ros); skipped elsewhere.
On a ROS machine: ``source install/setup.bash && python -m pytest tests/ros2``.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fleet_robot_agent.adapter import Ros2Adapter
from fleet_robot_agent.commands import CommandQueue
from fleet_robot_agent.params import AdapterParams, parse_node_parameters
from ros2_support import RCLPY_MISSING

from robot_agent.adapter import Device, NavGoal, NavStatus

pytestmark = pytest.mark.skipif(RCLPY_MISSING, reason="rclpy not installed")

PARAMS = AdapterParams(
    map_id="L1",
    device_services={Device.UV_LAMP: "uv_lamp/set"},
    people_topic="people_count",
)


def wait_until(predicate: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


@dataclass
class Live:
    """A context, an executor spinning in a thread, and the agent node's bridge."""

    context: Any
    executor: Any
    namespace: str
    adapter: Ros2Adapter
    bridge: Any
    nodes: list[Any]

    def node(self, name: str, namespace: str | None = None) -> Any:
        """Another node in the test's namespace (or the one given), spun by the executor."""
        from rclpy.node import Node

        node = Node(name, namespace=namespace or self.namespace, context=self.context)
        self.executor.add_node(node)
        self.nodes.append(node)
        return node


@pytest.fixture
def live() -> Iterator[Live]:
    import rclpy
    from fleet_robot_agent.ros_bridge import RosBridge
    from rclpy.context import Context
    from rclpy.executors import MultiThreadedExecutor
    from rclpy.node import Node

    # A namespace of its own keeps other tests' (and other processes') servers out.
    namespace = f"/fleet_test_{uuid.uuid4().hex[:8]}"
    context = Context()
    rclpy.init(context=context)
    executor = MultiThreadedExecutor(context=context)
    agent_node = Node("fleet_robot_agent", namespace=namespace, context=context)
    queue = CommandQueue()
    adapter = Ros2Adapter(PARAMS, queue)
    bridge = RosBridge(agent_node, PARAMS, adapter, queue)
    executor.add_node(agent_node)
    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    live = Live(context, executor, namespace, adapter, bridge, [agent_node])
    try:
        yield live
    finally:
        executor.shutdown(timeout_sec=5.0)
        thread.join(5.0)
        for node in live.nodes:
            node.destroy_node()
        rclpy.try_shutdown(context=context)


def test_navigate_to_pose_goal_reaches_nav2_and_succeeds(live: Live) -> None:
    from nav2_msgs.action import NavigateToPose
    from rclpy.action import ActionServer

    received: list[Any] = []

    def execute(goal_handle: Any) -> Any:
        received.append(goal_handle.request.pose)
        feedback = NavigateToPose.Feedback()
        feedback.distance_remaining = 1.5
        goal_handle.publish_feedback(feedback)
        time.sleep(0.2)
        goal_handle.succeed()
        return NavigateToPose.Result()

    nav2 = live.node("fake_bt_navigator")
    ActionServer(nav2, NavigateToPose, "navigate_to_pose", execute)
    assert wait_until(live.bridge.navigation_server_ready)
    live.adapter.navigate_to(NavGoal(node_id="b", x=2.0, y=-1.0, map_id="L1", theta=0.5))
    assert wait_until(lambda: live.adapter.navigation_status() is NavStatus.SUCCEEDED)
    (pose,) = received
    assert pose.header.frame_id == "map"
    assert (pose.pose.position.x, pose.pose.position.y) == (2.0, -1.0)
    assert abs(pose.pose.orientation.z - 0.24740395925452294) < 1e-9  # sin(0.25)


def test_goal_without_nav2_fails(live: Live) -> None:
    live.adapter.navigate_to(NavGoal(node_id="b", x=1.0, y=0.0, map_id="L1"))
    assert wait_until(lambda: live.adapter.navigation_status() is NavStatus.FAILED)


def test_battery_and_people_topics_reach_the_adapter(live: Live) -> None:
    from sensor_msgs.msg import BatteryState
    from std_msgs.msg import Int32

    node = live.node("publisher")
    battery = node.create_publisher(BatteryState, "battery_state", 10)
    people = node.create_publisher(Int32, "people_count", 10)

    def published() -> bool:
        msg = BatteryState()
        msg.percentage = 0.5
        msg.voltage = 24.0
        msg.power_supply_status = BatteryState.POWER_SUPPLY_STATUS_CHARGING
        battery.publish(msg)
        people.publish(Int32(data=2))
        reading = live.adapter.read_battery()
        return reading.charge_pct == 50.0 and live.adapter.people_nearby() == 2

    assert wait_until(published)
    assert live.adapter.read_battery().charging


def test_uv_lamp_set_bool_service(live: Live) -> None:
    from std_srvs.srv import SetBool

    requests: list[bool] = []

    def serve(request: Any, response: Any) -> Any:
        requests.append(bool(request.data))
        response.success = True
        return response

    live.node("uv_lamp").create_service(SetBool, "uv_lamp/set", serve)
    assert wait_until(lambda: live.adapter.set_device(Device.UV_LAMP, True), timeout_s=15.0)
    assert wait_until(lambda: True in requests)


def test_pose_comes_from_tf(live: Live) -> None:
    from geometry_msgs.msg import TransformStamped
    from tf2_ros.static_transform_broadcaster import StaticTransformBroadcaster

    node = live.node("tf_source", namespace="/")
    transform = TransformStamped()
    transform.header.frame_id = "map"
    transform.child_frame_id = "base_link"
    transform.transform.translation.x = 4.0
    transform.transform.translation.y = 1.0
    transform.transform.rotation.w = 1.0
    StaticTransformBroadcaster(node).sendTransform(transform)
    assert wait_until(lambda: live.adapter.read_pose().x == 4.0)
    assert live.adapter.read_pose().y == 1.0


def test_node_parameters_validate_as_the_node_reads_them() -> None:
    import rclpy
    from fleet_robot_agent.node import node_parameter_values
    from rclpy.context import Context
    from rclpy.node import Node
    from rclpy.parameter import Parameter

    context = Context()
    rclpy.init(context=context)
    try:
        node = Node(
            "fleet_robot_agent",
            context=context,
            allow_undeclared_parameters=True,
            automatically_declare_parameters_from_overrides=True,
            parameter_overrides=[
                Parameter("map_id", value="L1"),
                Parameter("agent.manufacturer", value="acme"),
                Parameter("agent.serial_number", value="r1"),
                Parameter("agent.robot.capabilities", value=["patrol", "guidance"]),
                Parameter("pose_rate_hz", value=5),
            ],
        )
        settings = parse_node_parameters(node_parameter_values(node), environ={})
        assert settings.agent.robot.capabilities == ["patrol", "guidance"]
        assert settings.adapter.pose_rate_hz == 5.0
        node.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)

"""The rclpy side of the adapter: subscriptions, the Nav2 action client, services, TF.

Everything here runs on the MultiThreadedExecutor's threads. Callbacks copy message
fields into plain values and hand them to `Ros2Adapter.feed_*` / `Readings`; commands
queued by the agent are executed in one guard condition's callback. Each ROS call
names the interface it relies on (ROS 2 Jazzy); docs/ros2.md tabulates them.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from geometry_msgs.msg import PoseStamped, PoseWithCovarianceStamped
from nav2_msgs.action import NavigateToPose
from nav2_msgs.msg import SpeedLimit
from nav2_msgs.srv import LoadMap as LoadMapService
from nav_msgs.msg import Odometry
from rclpy.action import ActionClient
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.qos import QoSProfile, qos_profile_sensor_data
from rclpy.time import Time
from sensor_msgs.msg import BatteryState
from std_msgs.msg import Bool, Float32, Int32, String
from std_srvs.srv import SetBool, Trigger
from tf2_ros import TransformException
from tf2_ros.buffer import Buffer
from tf2_ros.transform_listener import TransformListener

from fleet_robot_agent.adapter import Ros2Adapter
from fleet_robot_agent.commands import (
    CallSetBool,
    CallTrigger,
    CancelNavGoal,
    Command,
    CommandQueue,
    LoadMap,
    PublishInitialPose,
    PublishSpeech,
    SendNavGoal,
    SetSpeedLimit,
)
from fleet_robot_agent.conversions import (
    Quaternion,
    StampedPose,
    battery_reading,
    initial_pose_covariance,
    quaternion_to_yaw,
    velocity_from_twist,
)
from fleet_robot_agent.params import AdapterParams
from fleet_robot_agent.readings import PlanarPose

log = logging.getLogger(__name__)

# Reliable, volatile: works with reliable publishers of either durability; an
# emergency stop published only on change must not be dropped.
_RELIABLE = QoSProfile(depth=10)


class RosBridge:
    """Wires one node to one `Ros2Adapter`."""

    def __init__(
        self,
        node: Node,
        params: AdapterParams,
        adapter: Ros2Adapter,
        commands: CommandQueue,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._node = node
        self._params = params
        self._adapter = adapter
        self._readings = adapter.readings
        self._commands = commands
        self._monotonic = monotonic
        self.handler_errors: Counter[str] = Counter()
        # Commands and readiness checks run one at a time; sensor callbacks beside them.
        # Future done-callbacks (goal responses, results, service answers) run as
        # executor tasks outside any group, hence the lock on the goal handles.
        self._work = MutuallyExclusiveCallbackGroup()
        self._sensing = ReentrantCallbackGroup()
        self._handles_lock = threading.Lock()
        self._goal_handles: dict[int, Any] = {}
        self._set_bool_clients: dict[str, Any] = {}
        self._trigger_clients: dict[str, Any] = {}

        # nav2_msgs/action/NavigateToPose on bt_navigator's `navigate_to_pose`.
        self._nav_client = ActionClient(
            node, NavigateToPose, params.navigate_action, callback_group=self._work
        )
        # nav2_msgs/srv/LoadMap on map_server's `map_server/load_map`.
        self._load_map = node.create_client(
            LoadMapService, params.load_map_service, callback_group=self._work
        )
        # nav2_msgs/msg/SpeedLimit, read by controller_server on `speed_limit`.
        self._speed_limit = node.create_publisher(SpeedLimit, params.speed_limit_topic, _RELIABLE)
        # geometry_msgs/msg/PoseWithCovarianceStamped on `initialpose` (AMCL).
        self._initial_pose = node.create_publisher(
            PoseWithCovarianceStamped, params.initial_pose_topic, _RELIABLE
        )
        # std_msgs/msg/String, field data: JSON {"language", "text"}.
        self._speech = (
            node.create_publisher(String, params.speech_topic, _RELIABLE)
            if params.speech_topic
            else None
        )
        self._subscribe()
        for service in [*params.device_services.values(), params.charging_service]:
            if service:
                self._set_bool_client(service)
        # tf2_ros.Buffer + TransformListener: subscribes /tf and /tf_static (remap both
        # to tf, tf_static for a namespaced robot, as nav2_bringup does).
        self._tf_buffer = Buffer()
        self._tf_listener = TransformListener(self._tf_buffer, node)
        node.create_timer(
            1.0 / params.pose_rate_hz,
            self._guarded("tf lookup", self._update_pose),
            callback_group=self._sensing,
        )
        node.create_timer(
            1.0,
            self._guarded("service readiness", self._update_readiness),
            callback_group=self._work,
        )
        # rclpy GuardCondition.trigger() is thread-safe: the agent's thread wakes us.
        self._guard = node.create_guard_condition(
            self._guarded("commands", self._run_commands), callback_group=self._work
        )
        commands.bind(self._guard.trigger)

    def navigation_server_ready(self) -> bool:
        """True once bt_navigator's NavigateToPose server is in the graph."""
        return bool(self._nav_client.server_is_ready())

    def _guarded(self, what: str, handler: Callable[..., None]) -> Callable[..., None]:
        """A callback that logs and counts its exceptions instead of ending the spin."""

        def run(*args: Any) -> None:
            try:
                handler(*args)
            except Exception:
                self.handler_errors[what] += 1
                log.exception("ROS callback for %s failed", what)

        return run

    # subscriptions ---------------------------------------------------------------------

    def _subscribe(self) -> None:
        p, node, group = self._params, self._node, self._sensing
        sensor_qos = qos_profile_sensor_data  # best effort: accepts reliable publishers too
        # nav_msgs/msg/Odometry: twist.twist.linear.x/.y, twist.twist.angular.z.
        node.create_subscription(
            Odometry,
            p.odom_topic,
            self._guarded(p.odom_topic, self._on_odom),
            sensor_qos,
            callback_group=group,
        )
        # sensor_msgs/msg/BatteryState: percentage, voltage, charge, capacity,
        # power_supply_status.
        node.create_subscription(
            BatteryState,
            p.battery_topic,
            self._guarded(p.battery_topic, self._on_battery),
            sensor_qos,
            callback_group=group,
        )
        if p.emergency_stop_topic:
            # std_msgs/msg/Bool data: True while pressed.
            node.create_subscription(
                Bool,
                p.emergency_stop_topic,
                self._guarded(p.emergency_stop_topic, self._on_emergency_stop),
                _RELIABLE,
                callback_group=group,
            )
        if p.people_topic:
            # std_msgs/msg/Int32 data: people within the interlock radius.
            node.create_subscription(
                Int32,
                p.people_topic,
                self._guarded(p.people_topic, self._on_people),
                sensor_qos,
                callback_group=group,
            )
        if p.person_following_topic:
            # std_msgs/msg/Bool data: the guided person is following.
            node.create_subscription(
                Bool,
                p.person_following_topic,
                self._guarded(p.person_following_topic, self._on_following),
                sensor_qos,
                callback_group=group,
            )
        for name, topic in p.sensor_topics.items():
            # std_msgs/msg/Float32 data, reported under `name` in read_sensors().
            node.create_subscription(
                Float32,
                topic,
                self._guarded(topic, functools.partial(self._on_sensor, name)),
                sensor_qos,
                callback_group=group,
            )

    def _on_odom(self, msg: Odometry) -> None:
        twist = msg.twist.twist
        velocity = velocity_from_twist(twist.linear.x, twist.linear.y, twist.angular.z)
        self._readings.set_velocity(velocity, self._monotonic())

    def _on_battery(self, msg: BatteryState) -> None:
        self._readings.set_battery(
            battery_reading(
                msg.percentage, msg.voltage, msg.power_supply_status, msg.charge, msg.capacity
            )
        )

    def _on_emergency_stop(self, msg: Bool) -> None:
        self._readings.set_emergency_stop(bool(msg.data))

    def _on_people(self, msg: Int32) -> None:
        self._readings.set_people(int(msg.data), self._monotonic())

    def _on_following(self, msg: Bool) -> None:
        self._readings.set_following(bool(msg.data), self._monotonic())

    def _on_sensor(self, name: str, msg: Float32) -> None:
        self._readings.set_sensor(name, float(msg.data), self._monotonic())

    # timers ----------------------------------------------------------------------------

    def _update_pose(self) -> None:
        try:
            # Buffer.lookup_transform(target, source, Time()) → the latest
            # geometry_msgs/TransformStamped: base frame's pose in the map frame.
            stamped = self._tf_buffer.lookup_transform(
                self._params.map_frame, self._params.base_frame, Time()
            )
        except TransformException as exc:
            log.debug(
                "no %s -> %s transform: %s", self._params.map_frame, self._params.base_frame, exc
            )
            return
        t, r = stamped.transform.translation, stamped.transform.rotation
        yaw = quaternion_to_yaw(Quaternion(r.x, r.y, r.z, r.w))
        self._readings.set_pose(PlanarPose(float(t.x), float(t.y), yaw))

    def _update_readiness(self) -> None:
        # rclpy Client.service_is_ready(): a matching server is in the graph.
        for name, client in [*self._set_bool_clients.items(), *self._trigger_clients.items()]:
            self._adapter.feed_service_ready(name, bool(client.service_is_ready()))

    # commands from the agent -------------------------------------------------------------

    def _run_commands(self) -> None:
        for command in self._commands.drain():
            try:
                self._execute(command)
            except Exception:
                self.handler_errors[type(command).__name__] += 1
                log.exception("command %s failed", command)

    def _execute(self, command: Command) -> None:
        match command:
            case SendNavGoal():
                self._send_goal(command)
            case CancelNavGoal(ticket=ticket):
                with self._handles_lock:
                    handle = self._goal_handles.get(ticket)
                if handle is not None:
                    # ClientGoalHandle.cancel_goal_async() → action_msgs/srv/CancelGoal.
                    handle.cancel_goal_async()
            case SetSpeedLimit(limit_m_s=limit):
                msg = SpeedLimit()
                msg.header.stamp = self._node.get_clock().now().to_msg()
                msg.percentage = False  # speed_limit in m/s; 0.0 means no limit
                msg.speed_limit = float(limit) if limit is not None else 0.0
                self._speed_limit.publish(msg)
            case CallSetBool(service=service, data=data):
                request = SetBool.Request()  # std_srvs/srv/SetBool: data → success, message
                request.data = data
                self._call(self._set_bool_client(service), service, request)
            case CallTrigger(service=service):
                # std_srvs/srv/Trigger: no request fields → success, message.
                self._call(self._trigger_client(service), service, Trigger.Request())
            case LoadMap():
                self._load_level_map(command)
            case PublishInitialPose(pose=pose):
                stamped = self._pose_stamped(pose)
                msg = PoseWithCovarianceStamped()
                msg.header, msg.pose.pose = stamped.header, stamped.pose
                msg.pose.covariance = list(initial_pose_covariance())
                self._initial_pose.publish(msg)
            case PublishSpeech(payload=payload):
                if self._speech is not None:
                    self._speech.publish(String(data=payload))

    def _pose_stamped(self, pose: StampedPose) -> PoseStamped:
        # geometry_msgs/msg/PoseStamped: header.frame_id/stamp, pose.position, pose.orientation.
        msg = PoseStamped()
        msg.header.frame_id = pose.frame_id
        msg.header.stamp = self._node.get_clock().now().to_msg()
        msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = pose.x, pose.y, pose.z
        q = pose.orientation
        msg.pose.orientation.x, msg.pose.orientation.y = q.x, q.y
        msg.pose.orientation.z, msg.pose.orientation.w = q.z, q.w
        return msg

    # navigation ------------------------------------------------------------------------

    def _send_goal(self, command: SendNavGoal) -> None:
        # ActionClient.server_is_ready(): never block the executor waiting for Nav2.
        if not self.navigation_server_ready():
            self._adapter.feed_goal_response(
                command.ticket,
                False,
                f"NavigateToPose server '{self._params.navigate_action}' is not available",
            )
            return
        goal = NavigateToPose.Goal()  # fields: pose (PoseStamped), behavior_tree (string)
        goal.pose = self._pose_stamped(command.pose)
        goal.behavior_tree = command.behavior_tree
        future = self._nav_client.send_goal_async(
            goal,
            feedback_callback=self._guarded(
                "navigation feedback", functools.partial(self._on_feedback, command.ticket)
            ),
        )
        future.add_done_callback(
            self._guarded(
                "goal response", functools.partial(self._on_goal_response, command.ticket)
            )
        )

    def _on_goal_response(self, ticket: int, future: Any) -> None:
        try:
            handle = future.result()  # rclpy.action.client.ClientGoalHandle
        except Exception as exc:
            self._adapter.feed_goal_response(ticket, False, f"send_goal failed: {exc}")
            return
        if handle is None or not handle.accepted:
            self._adapter.feed_goal_response(ticket, False, "NavigateToPose goal rejected")
            return
        # Kept before feeding: a stale ticket's cancel command needs the handle.
        with self._handles_lock:
            self._goal_handles[ticket] = handle
        handle.get_result_async().add_done_callback(
            self._guarded("goal result", functools.partial(self._on_result, ticket))
        )
        self._adapter.feed_goal_response(ticket, True)

    def _on_feedback(self, ticket: int, message: Any) -> None:
        # NavigateToPose feedback message: .feedback.distance_remaining, .number_of_recoveries.
        feedback = message.feedback
        self._adapter.feed_goal_feedback(
            ticket, float(feedback.distance_remaining), int(feedback.number_of_recoveries)
        )

    def _on_result(self, ticket: int, future: Any) -> None:
        with self._handles_lock:
            self._goal_handles.pop(ticket, None)
        response = future.result()  # GetResult response: .status (GoalStatus), .result
        result = response.result
        # NavigateToPose result: error_code (uint16); error_msg (string) only in newer
        # nav2_msgs, so read it if present.
        self._adapter.feed_goal_result(
            ticket,
            int(response.status),
            int(getattr(result, "error_code", 0)),
            str(getattr(result, "error_msg", "")),
        )

    # services --------------------------------------------------------------------------

    def _set_bool_client(self, service: str) -> Any:
        if service not in self._set_bool_clients:
            self._set_bool_clients[service] = self._node.create_client(
                SetBool, service, callback_group=self._work
            )
        return self._set_bool_clients[service]

    def _trigger_client(self, service: str) -> Any:
        if service not in self._trigger_clients:
            self._trigger_clients[service] = self._node.create_client(
                Trigger, service, callback_group=self._work
            )
        return self._trigger_clients[service]

    def _call(self, client: Any, service: str, request: Any) -> None:
        if not client.service_is_ready():
            self._adapter.feed_service_response(service, False, "service not available")
            return
        # Client.call_async() returns a Future; its done callback runs on the executor.
        future = client.call_async(request)
        future.add_done_callback(
            self._guarded(service, functools.partial(self._on_service_response, service))
        )

    def _on_service_response(self, service: str, future: Any) -> None:
        try:
            response = future.result()
        except Exception as exc:
            self._adapter.feed_service_response(service, False, f"call failed: {exc}")
            return
        if response is None:
            self._adapter.feed_service_response(service, False, "no response")
            return
        self._adapter.feed_service_response(service, bool(response.success), str(response.message))

    def _load_level_map(self, command: LoadMap) -> None:
        if not self._load_map.service_is_ready():
            self._adapter.feed_map_loaded(
                command.ticket, False, f"{self._params.load_map_service} is not available"
            )
            return
        request = LoadMapService.Request()  # nav2_msgs/srv/LoadMap: map_url → map, result
        request.map_url = command.map_url
        future = self._load_map.call_async(request)
        future.add_done_callback(
            self._guarded("load map", functools.partial(self._on_map_loaded, command.ticket))
        )

    def _on_map_loaded(self, ticket: int, future: Any) -> None:
        response = future.result()
        ok = response is not None and response.result == LoadMapService.Response.RESULT_SUCCESS
        detail = "no response" if response is None else f"result {response.result}"
        self._adapter.feed_map_loaded(ticket, ok, detail)

"""`Ros2Adapter`: the agent's PlatformAdapter over a ROS 2 / Nav2 robot.

It has two faces. The agent calls the PlatformAdapter methods on its asyncio thread;
they read cached values and queue commands, never touching rclpy and never blocking.
The rclpy executor (`ros_bridge.RosBridge`) calls the ``feed_*`` methods from its own
threads with what ROS delivered. One lock guards the navigation and service-call
state both faces share; sensor values sit in `Readings`, which has its own.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

from fleet_robot_agent.commands import (
    CallSetBool,
    CallTrigger,
    Command,
    CommandQueue,
    PublishSpeech,
)
from fleet_robot_agent.conversions import (
    StampedPose,
    goal_heading,
    is_moving,
    nav_goal_pose,
    speech_payload,
)
from fleet_robot_agent.names import RosNameError, format_service_name
from fleet_robot_agent.navigation import LevelChange, NavigationTracker, NavProgress
from fleet_robot_agent.params import AdapterParams
from fleet_robot_agent.readings import Readings
from fleet_robot_agent.service_calls import CallState, ServiceCallTracker
from robot_agent.adapter import (
    BatteryReading,
    Device,
    NavGoal,
    NavStatus,
    Pose,
    Velocity,
)

log = logging.getLogger(__name__)


class Ros2Adapter:
    """Implements `robot_agent.adapter.PlatformAdapter` for a Nav2 robot."""

    def __init__(
        self,
        params: AdapterParams,
        commands: CommandQueue,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.params = params
        self.readings = Readings()
        self._commands = commands
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._nav = NavigationTracker(params.behavior_tree)
        self._calls = ServiceCallTracker(params.service_retry_s)
        self._map_id = params.map_id
        self._level_change: LevelChange | None = None
        self._level_tickets = 0
        self._lift_for_level: dict[str, str] = {}
        self._warned: set[str] = set()

    def _warn_once(self, key: str, message: str, *args: object) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning(message, *args)

    def _send(self, commands: list[Command]) -> None:
        # Called outside self._lock: the queue's wake-up must not run under it.
        self._commands.put(*commands)

    # pose, motion, battery -----------------------------------------------------------

    @property
    def map_id(self) -> str:
        """The level the robot is on (changes after a lift ride)."""
        with self._lock:
            return self._map_id

    def read_pose(self) -> Pose:
        """Pose from TF (map frame → base frame) on the current level."""
        pose = self.readings.pose()
        map_id = self.map_id
        if pose is None:
            self._warn_once(
                "pose",
                "no transform %s -> %s yet; reporting the map origin",
                self.params.map_frame,
                self.params.base_frame,
            )
            return Pose(x=0.0, y=0.0, theta=0.0, map_id=map_id, initialized=False)
        return Pose(x=pose.x, y=pose.y, theta=pose.yaw, map_id=map_id)

    def read_velocity(self) -> Velocity:
        """Body velocity from odometry (zero when odometry went quiet)."""
        return self.readings.velocity(self._monotonic(), self.params.odom_stale_after_s)

    def read_battery(self) -> BatteryReading:
        """Battery from sensor_msgs/BatteryState; 0 % until the first message."""
        reading = self.readings.battery()
        if reading is None:
            self._warn_once("battery", "no BatteryState on %s yet", self.params.battery_topic)
            return BatteryReading(charge_pct=0.0)
        return reading

    def is_driving(self) -> bool:
        """True while odometry says the base moves."""
        return is_moving(self.read_velocity())

    def emergency_stop_active(self) -> bool:
        """The configured emergency-stop topic's last value (False if none is configured)."""
        return self.readings.emergency_stop()

    # navigation ----------------------------------------------------------------------

    def navigate_to(self, goal: NavGoal) -> None:
        """Send a NavigateToPose goal, or start a level change for a goal on another map."""
        here = self.readings.pose()
        x, y, yaw = (here.x, here.y, here.yaw) if here is not None else (goal.x, goal.y, 0.0)
        pose = nav_goal_pose(goal, self.params.map_frame, goal_heading(goal, x, y, yaw))
        with self._lock:
            if goal.map_id != self._map_id:
                commands = self._start_level_change(goal, pose)
            else:
                self._level_change = None
                commands = self._nav.start(pose, goal.max_speed)
        self._send(commands)

    def _start_level_change(self, goal: NavGoal, arrival: StampedPose) -> list[Command]:
        commands = self._nav.cancel()
        self._level_change = None
        target = goal.map_id
        url = self.params.level_maps.get(target)
        lift = self._lift_for_level.get(target)
        if url is None:
            reason = f"no map for level {target} (parameter level_maps.{target})"
            return commands + self._nav.reject(f"level change to {target}: {reason}")
        if lift is None or not self.params.lift_service_template:
            reason = f"no lift was called towards level {target} before this goal"
            return commands + self._nav.reject(f"level change to {target}: {reason}")
        try:
            service = format_service_name(
                self.params.lift_service_template, lift=lift, level=target
            )
        except RosNameError as exc:
            return commands + self._nav.reject(f"level change to {target}: {exc}")
        self._level_tickets += 1
        self._level_change = LevelChange(
            ticket=self._level_tickets,
            target_map_id=target,
            map_url=url,
            arrival=arrival,
            lift_service=service,
            started_at=self._monotonic(),
            timeout_s=self.params.lift_ride_timeout_s,
        )
        return commands

    def navigation_status(self) -> NavStatus:
        """Progress of the last goal (advances a level change as a side effect)."""
        commands: list[Command] = []
        with self._lock:
            change = self._level_change
            if change is None:
                status = self._nav.status()
            else:
                commands = change.poll(self._monotonic(), self._calls)
                status = change.status()
        self._send(commands)
        return status

    def navigation_progress(self) -> NavProgress | None:
        """The latest NavigateToPose feedback of the current goal, if any."""
        with self._lock:
            return self._nav.progress

    def cancel_navigation(self) -> None:
        """Cancel the goal in Nav2 and forget it (a lift ride in progress is abandoned)."""
        with self._lock:
            self._level_change = None
            commands = self._nav.cancel()
        self._send(commands)

    def set_paused(self, paused: bool) -> None:
        """Pause: cancel the goal in Nav2 but keep it; resume: send it again."""
        with self._lock:
            commands = self._nav.pause() if paused else self._nav.resume()
        self._send(commands)

    # devices, people, speech, sensors --------------------------------------------------

    def _fire_set_bool(self, service: str, data: bool, what: str) -> bool:
        with self._lock:
            if not self._calls.is_ready(service):
                ready, refusal = False, None
            else:
                ready = True
                refusal = self._calls.last_refusal(service)
                self._calls.mark_sent(service, self._monotonic())
        if not ready:
            log.warning("%s: service %s is not available", what, service)
            return False
        self._send([CallSetBool(service, data)])
        if refusal is not None:
            # Sent anyway so the device can recover; this time report the refusal.
            log.warning("%s: service %s refused last time: %s", what, service, refusal)
            return False
        return True

    def set_device(self, device: Device, on: bool) -> bool:
        """Switch a device through its SetBool service; False when not fitted or refusing."""
        service = self.params.device_services.get(device)
        if service is None:
            return False
        return self._fire_set_bool(service, on, f"{device.value} {'on' if on else 'off'}")

    def people_nearby(self) -> int:
        """People count from the detection topic (1 when it is silent: interlock closed)."""
        if not self.params.people_topic:
            return 0
        return self.readings.people_nearby(self._monotonic(), self.params.people_stale_after_s)

    def person_following(self) -> bool:
        """The guided-person topic's last fresh value (False without one)."""
        if not self.params.person_following_topic:
            return False
        return self.readings.following(self._monotonic(), self.params.people_stale_after_s)

    def speak(self, text: str, language: str) -> None:
        """Publish JSON {language, text} on the speech topic."""
        if not self.params.speech_topic:
            self._warn_once("speech", "speech_topic is empty; not saying %r", text)
            return
        self._send([PublishSpeech(speech_payload(text, language))])

    def read_sensors(self) -> Mapping[str, float]:
        """Fresh values of the configured Float32 sensor topics, by name."""
        return self.readings.sensors(self._monotonic(), self.params.sensor_stale_after_s)

    # charging, doors, lifts ----------------------------------------------------------

    def start_charging(self) -> bool:
        """Ask the charging service to start (SetBool true)."""
        if not self.params.charging_service:
            return False
        return self._fire_set_bool(self.params.charging_service, True, "start charging")

    def stop_charging(self) -> bool:
        """Ask the charging service to stop (SetBool false)."""
        if not self.params.charging_service:
            return False
        return self._fire_set_bool(self.params.charging_service, False, "stop charging")

    def _poll_building(self, service: str, command: Command) -> bool:
        with self._lock:
            state = self._calls.poll(service, self._monotonic())
        if state is CallState.SEND:
            self._send([command])
        return state is CallState.DONE

    def request_door(self, door: str) -> bool:
        """SetBool(true) on the door's service until it answers success (door open)."""
        template = self.params.door_service_template
        if not template:
            self._warn_once("door", "door_service_template is empty; door %s cannot open", door)
            return False
        try:
            service = format_service_name(template, door=door)
        except RosNameError as exc:
            self._warn_once(f"door:{door}", "door %s: %s", door, exc)
            return False
        return self._poll_building(service, CallSetBool(service, True))

    def request_lift(self, lift: str, from_map_id: str, to_map_id: str) -> bool:
        """Trigger the lift's service for this level until success (cabin here, doors open).

        The lift and its destination are remembered: the goal on `to_map_id` that
        follows is ridden with the same service filled with that level.
        """
        template = self.params.lift_service_template
        if not template:
            self._warn_once("lift", "lift_service_template is empty; lift %s cannot come", lift)
            return False
        try:
            service = format_service_name(template, lift=lift, level=from_map_id)
        except RosNameError as exc:
            self._warn_once(f"lift:{lift}", "lift %s: %s", lift, exc)
            return False
        with self._lock:
            self._lift_for_level[to_map_id] = lift
        return self._poll_building(service, CallTrigger(service))

    # feed side: called from the rclpy executor's threads -------------------------------

    def feed_goal_response(self, ticket: int, accepted: bool, reason: str = "") -> None:
        """NavigateToPose send_goal answer (ClientGoalHandle.accepted)."""
        with self._lock:
            commands = self._nav.on_goal_response(ticket, accepted, reason)
        self._send(commands)

    def feed_goal_feedback(self, ticket: int, distance_remaining_m: float, recoveries: int) -> None:
        """NavigateToPose feedback (distance_remaining, number_of_recoveries)."""
        with self._lock:
            self._nav.on_feedback(ticket, distance_remaining_m, recoveries)

    def feed_goal_result(self, ticket: int, status: int, error_code: int, error_msg: str) -> None:
        """NavigateToPose result: GoalStatus plus result error_code / error_msg."""
        with self._lock:
            self._nav.on_result(ticket, status, error_code, error_msg)

    def feed_service_response(self, service: str, success: bool, message: str = "") -> None:
        """A SetBool/Trigger response (success, message), or success False if unreachable."""
        if not success:
            log.info("service %s answered no: %s", service, message or "(no message)")
        with self._lock:
            self._calls.on_response(service, success, message)

    def feed_service_ready(self, service: str, ready: bool) -> None:
        """Availability of a service server (Client.service_is_ready())."""
        with self._lock:
            self._calls.set_ready(service, ready)

    def feed_map_loaded(self, ticket: int, ok: bool, detail: str = "") -> None:
        """nav2_msgs/LoadMap answer (result == RESULT_SUCCESS)."""
        with self._lock:
            change = self._level_change
            if change is None:
                return
            commands = change.on_map_loaded(ticket, ok, detail)
            if change.status() is NavStatus.SUCCEEDED:
                self._map_id = change.target_map_id
        self._send(commands)

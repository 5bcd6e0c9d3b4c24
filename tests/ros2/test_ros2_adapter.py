"""Ros2Adapter without rclpy: its decisions, and the real agent driving it through orders.

`ScriptedRos` plays the rclpy side (ros_bridge): it executes the queued commands the
way Nav2, the building and map_server would answer them, through the same feed_*
methods the bridge calls.
"""

from __future__ import annotations

import json
import math

import pytest
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
from fleet_robot_agent.conversions import GoalStatus
from fleet_robot_agent.params import AdapterParams
from fleet_robot_agent.readings import PlanarPose
from ros2_support import ManualClock

from missions.vda5050 import ActionStatus, BlockingType
from robot_agent.adapter import BatteryReading, Device, NavGoal, NavStatus, Velocity
from robot_agent.agent import Agent
from robot_agent.config import AgentConfig, RobotDescription
from tests.support.orders import N, action, instant, order

UV = "uv_lamp/set"
CHARGER = "charger/set"
PARAMS = AdapterParams(
    map_id="L1",
    device_services={Device.UV_LAMP: UV},
    charging_service=CHARGER,
    door_service_template="/building/doors/{door}/open",
    lift_service_template="/building/lifts/{lift}/to_{level}",
    level_maps={"L2": "/maps/L2.yaml"},
    sensor_topics={"smoke": "sensors/smoke"},
    person_following_topic="guided_person_following",
    emergency_stop_topic="emergency_stop",
)


class ScriptedRos:
    """Answers the adapter's commands like Nav2, the building and map_server."""

    def __init__(self, adapter: Ros2Adapter, queue: CommandQueue, clock: ManualClock) -> None:
        self.adapter, self.queue, self.clock = adapter, queue, clock
        self.log: list[Command] = []
        self.nav2_up = True
        self.goals: dict[int, SendNavGoal] = {}
        self.refuse: set[str] = set()

    def pump(self) -> None:
        """Execute what the adapter queued, answering at once."""
        for command in self.queue.drain():
            self.log.append(command)
            self._execute(command)

    def _execute(self, command: Command) -> None:
        adapter = self.adapter
        match command:
            case SendNavGoal(ticket=ticket):
                if self.nav2_up:
                    self.goals[ticket] = command
                    adapter.feed_goal_response(ticket, True)
                else:
                    adapter.feed_goal_response(ticket, False, "server not available")
            case CancelNavGoal(ticket=ticket) if ticket in self.goals:
                del self.goals[ticket]
                adapter.feed_goal_result(ticket, GoalStatus.CANCELED, 0, "")
            case CallSetBool(service=service) | CallTrigger(service=service):
                adapter.feed_service_response(service, service not in self.refuse, "")
            case LoadMap(ticket=ticket):
                adapter.feed_map_loaded(ticket, True)
            case PublishInitialPose(pose=pose):
                adapter.readings.set_pose(PlanarPose(pose.x, pose.y, pose.yaw))

    def arrive(self) -> None:
        """Nav2 reaches every goal it has: the robot is there, the goal SUCCEEDED."""
        for ticket, goal in list(self.goals.items()):
            self.adapter.readings.set_pose(PlanarPose(goal.pose.x, goal.pose.y, goal.pose.yaw))
            del self.goals[ticket]
            self.adapter.feed_goal_result(ticket, GoalStatus.SUCCEEDED, 0, "")

    def sent(self, kind: type) -> list[Command]:
        return [c for c in self.log if isinstance(c, kind)]


@pytest.fixture
def queue() -> CommandQueue:
    return CommandQueue()


@pytest.fixture
def adapter(queue: CommandQueue, clock: ManualClock) -> Ros2Adapter:
    ros2 = Ros2Adapter(PARAMS, queue, monotonic=clock)
    for service in (UV, CHARGER):
        ros2.feed_service_ready(service, True)
    return ros2


@pytest.fixture
def ros(adapter: Ros2Adapter, queue: CommandQueue, clock: ManualClock) -> ScriptedRos:
    return ScriptedRos(adapter, queue, clock)


# --- state reads ----------------------------------------------------------------------


def test_pose_velocity_battery_and_emergency_stop(
    adapter: Ros2Adapter, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    pose = adapter.read_pose()
    assert (pose.x, pose.y, pose.theta, pose.map_id) == (0.0, 0.0, 0.0, "L1")
    assert adapter.read_battery() == BatteryReading(charge_pct=0.0)
    assert "no transform map -> base_link" in caplog.text
    adapter.readings.set_pose(PlanarPose(2.0, 3.0, 1.0))
    adapter.readings.set_battery(BatteryReading(charge_pct=64.0, charging=True))
    adapter.readings.set_velocity(Velocity(vx=0.3), clock())
    adapter.readings.set_emergency_stop(True)
    assert adapter.read_pose().x == 2.0 and adapter.read_pose().theta == 1.0
    assert adapter.read_battery().charge_pct == 64.0
    assert adapter.is_driving() and adapter.read_velocity() == Velocity(vx=0.3)
    assert adapter.emergency_stop_active()
    clock.advance(2.0)  # odometry went quiet
    assert not adapter.is_driving()


def test_people_following_and_sensors(adapter: Ros2Adapter, clock: ManualClock) -> None:
    assert adapter.people_nearby() == 1  # detector silent: interlock closed
    adapter.readings.set_people(0, clock())
    assert adapter.people_nearby() == 0
    assert not adapter.person_following()
    adapter.readings.set_following(True, clock())
    assert adapter.person_following()
    adapter.readings.set_sensor("smoke", 1.0, clock())
    assert adapter.read_sensors() == {"smoke": 1.0}


def test_features_not_configured(queue: CommandQueue, clock: ManualClock) -> None:
    bare = Ros2Adapter(
        AdapterParams(map_id="L1", people_topic="", speech_topic=""), queue, monotonic=clock
    )
    assert bare.people_nearby() == 0
    assert not bare.person_following()
    assert not bare.set_device(Device.UV_LAMP, True)
    assert not bare.start_charging() and not bare.stop_charging()
    assert not bare.request_door("d1")
    assert not bare.request_lift("A", "L1", "L2")
    bare.speak("hello", "en")
    assert queue.drain() == []


def test_speech_is_published_as_json(adapter: Ros2Adapter, queue: CommandQueue) -> None:
    adapter.speak("Please follow me", "en")
    (command,) = queue.drain()
    assert isinstance(command, PublishSpeech)
    assert json.loads(command.payload) == {"language": "en", "text": "Please follow me"}


# --- devices and charging ----------------------------------------------------------------


def test_devices_switch_only_through_a_ready_service(
    adapter: Ros2Adapter, queue: CommandQueue
) -> None:
    assert not adapter.set_device(Device.SPRAYER, True)  # not fitted
    adapter.feed_service_ready(UV, False)
    assert not adapter.set_device(Device.UV_LAMP, True)
    assert queue.drain() == []
    adapter.feed_service_ready(UV, True)
    assert adapter.set_device(Device.UV_LAMP, True)
    assert queue.drain() == [CallSetBool(UV, True)]


def test_a_refusing_device_reports_false_but_is_still_asked(
    adapter: Ros2Adapter, queue: CommandQueue
) -> None:
    adapter.set_device(Device.UV_LAMP, True)
    adapter.feed_service_response(UV, False, "lamp fault")
    assert not adapter.set_device(Device.UV_LAMP, False)
    assert queue.drain() == [CallSetBool(UV, True), CallSetBool(UV, False)]
    adapter.feed_service_response(UV, True)
    assert adapter.set_device(Device.UV_LAMP, True)


def test_charging_service(adapter: Ros2Adapter, queue: CommandQueue) -> None:
    assert adapter.start_charging()
    assert adapter.stop_charging()
    assert queue.drain() == [CallSetBool(CHARGER, True), CallSetBool(CHARGER, False)]


# --- doors and lifts ---------------------------------------------------------------------


def test_door_is_asked_until_it_opens(
    adapter: Ros2Adapter, ros: ScriptedRos, clock: ManualClock
) -> None:
    door = "/building/doors/ward_3/open"
    ros.refuse.add(door)
    assert not adapter.request_door("ward-3")
    ros.pump()
    assert not adapter.request_door("ward-3")  # refused; retry not due yet
    clock.advance(1.5)
    ros.refuse.clear()
    assert not adapter.request_door("ward-3")
    ros.pump()
    assert adapter.request_door("ward-3")
    assert ros.log == [CallSetBool(door, True), CallSetBool(door, True)]


def test_door_id_without_letters_cannot_be_a_service(adapter: Ros2Adapter) -> None:
    assert not adapter.request_door("--")


def test_goal_on_another_level_without_map_or_lift_fails(
    adapter: Ros2Adapter, ros: ScriptedRos
) -> None:
    adapter.navigate_to(NavGoal(node_id="x", x=0.0, y=0.0, map_id="L9"))
    assert adapter.navigation_status() is NavStatus.FAILED
    adapter.navigate_to(NavGoal(node_id="x", x=0.0, y=0.0, map_id="L2"))
    assert adapter.navigation_status() is NavStatus.FAILED  # no lift called towards L2
    ros.pump()
    assert not ros.sent(SendNavGoal) and not ros.sent(LoadMap)


# --- navigation --------------------------------------------------------------------------


def test_navigate_faces_the_direction_of_travel_and_reports_progress(
    adapter: Ros2Adapter, ros: ScriptedRos
) -> None:
    adapter.readings.set_pose(PlanarPose(0.0, 0.0, 0.0))
    adapter.navigate_to(NavGoal(node_id="b", x=0.0, y=2.0, map_id="L1", max_speed=0.4))
    ros.pump()
    (goal,) = ros.sent(SendNavGoal)
    assert isinstance(goal, SendNavGoal)
    assert (goal.pose.frame_id, goal.pose.x, goal.pose.y) == ("map", 0.0, 2.0)
    assert math.isclose(goal.pose.yaw, math.pi / 2)
    assert ros.sent(SetSpeedLimit) == [SetSpeedLimit(0.4)]
    assert adapter.navigation_status() is NavStatus.ACTIVE
    adapter.feed_goal_feedback(goal.ticket, 1.2, 0)
    progress = adapter.navigation_progress()
    assert progress is not None and progress.distance_remaining_m == 1.2
    ros.arrive()
    assert adapter.navigation_status() is NavStatus.SUCCEEDED


def test_map_loaded_without_a_level_change_is_ignored(adapter: Ros2Adapter) -> None:
    adapter.feed_map_loaded(1, True)
    assert adapter.map_id == "L1"


# --- the agent driving a Nav2 robot ----------------------------------------------------------


class Robot:
    """The real Agent + OrderExecutor over Ros2Adapter over ScriptedRos."""

    def __init__(self, clock: ManualClock, capabilities: list[str] | None = None) -> None:
        self.clock = clock
        self.queue = CommandQueue()
        self.adapter = Ros2Adapter(PARAMS, self.queue, monotonic=clock)
        self.adapter.feed_service_ready(UV, True)
        self.ros = ScriptedRos(self.adapter, self.queue, clock)
        config = AgentConfig(
            manufacturer="fleetsim",
            serial_number="r1",
            robot=RobotDescription(capabilities=capabilities or ["patrol"]),  # type: ignore[arg-type]
        )
        self.agent = Agent(config, self.adapter, monotonic=clock)
        self.ex = self.agent.executor
        self.adapter.readings.set_pose(PlanarPose(0.0, 0.0, 0.0))
        self.adapter.readings.set_battery(BatteryReading(charge_pct=90.0))
        self.nav2_moves = True

    def run(self, seconds: float, dt: float = 0.1) -> None:
        for _ in range(round(seconds / dt)):
            self.clock.advance(dt)
            self.ex.tick()
            self.ros.pump()
            if self.nav2_moves:
                self.ros.arrive()


def test_an_order_is_driven_node_by_node_through_nav2(clock: ManualClock) -> None:
    robot = Robot(clock)
    robot.ex.receive_order(order("o1", [N("a", 0, 0), N("b", 2, 0), N("c", 2, 3)], max_speed=0.5))
    robot.run(2)
    assert robot.ex.book.last_node_id == "c" and not robot.ex.busy
    goals = [c for c in robot.ros.log if isinstance(c, SendNavGoal)]
    assert [(g.pose.x, g.pose.y) for g in goals] == [(2.0, 0.0), (2.0, 3.0)]
    assert math.isclose(goals[1].pose.yaw, math.pi / 2)  # faced along the edge b→c
    assert robot.ros.sent(SetSpeedLimit) == [SetSpeedLimit(0.5), SetSpeedLimit(0.5)]
    state = robot.agent.build_state()
    assert state.battery_state.battery_charge == 90.0
    assert (state.agv_position.x, state.agv_position.y) == (2.0, 3.0)


def test_pause_cancels_in_nav2_and_resume_sends_the_node_again(clock: ManualClock) -> None:
    robot = Robot(clock)
    robot.nav2_moves = False
    robot.ex.receive_order(order("o1", [N("a", 0, 0), N("b", 4, 0)]))
    robot.run(0.5)
    robot.ex.receive_instant_actions(instant(action("startPause", "p1")))
    robot.run(0.5)
    (first, *rest) = robot.ros.sent(SendNavGoal)
    assert not rest and isinstance(first, SendNavGoal)
    assert robot.ros.sent(CancelNavGoal) == [CancelNavGoal(first.ticket)]
    assert robot.ex.busy and robot.ex.book.last_node_id == "a"
    robot.ex.receive_instant_actions(instant(action("stopPause", "p2")))
    robot.nav2_moves = True
    robot.run(0.5)
    resent = robot.ros.sent(SendNavGoal)[1]
    assert isinstance(resent, SendNavGoal) and (resent.pose.x, resent.pose.y) == (4.0, 0.0)
    assert robot.ex.book.last_node_id == "b" and not robot.ex.busy


def test_cancel_order_cancels_the_goal_in_nav2(clock: ManualClock) -> None:
    robot = Robot(clock)
    robot.nav2_moves = False
    robot.ex.receive_order(order("o1", [N("a", 0, 0), N("b", 4, 0)]))
    robot.run(0.3)
    robot.ex.receive_instant_actions(instant(action("cancelOrder", "c1")))
    robot.run(0.3)
    assert len(robot.ros.sent(CancelNavGoal)) == 1
    assert not robot.ex.busy and robot.adapter.navigation_status() is NavStatus.IDLE


def test_nav2_down_fails_the_order_with_navigation_failed(clock: ManualClock) -> None:
    robot = Robot(clock)
    robot.ros.nav2_up = False
    robot.ex.receive_order(order("o1", [N("a", 0, 0), N("b", 4, 0)]))
    robot.run(0.5)
    assert [e.error_type for e in robot.ex.errors.all()] == ["navigationFailed"]
    assert not robot.ex.busy


def test_uv_lamp_follows_the_people_interlock(clock: ManualClock) -> None:
    robot = Robot(clock, capabilities=["uv_disinfection"])
    uv = action(
        "uvDisinfect", "uv1", BlockingType.HARD, dwellS=3.0, targetDoseMjCm2=1.0, distanceM=1.0
    )
    robot.ex.receive_order(order("o1", [N("a", 0, 0), N("b", 1, 0, actions=[uv])]))
    for _ in range(10):  # nobody near, the detector publishing
        robot.adapter.readings.set_people(0, clock())
        robot.run(0.1)
    lamp = [c for c in robot.ros.log if c == CallSetBool(UV, True)]
    assert lamp, "the lamp was switched on while nobody was near"
    robot.run(2.5)  # the detector falls silent: unknown counts as someone present
    assert robot.ros.log[-1] == CallSetBool(UV, False)
    assert robot.ex.runs["uv1"].status is ActionStatus.RUNNING
    for _ in range(30):
        robot.adapter.readings.set_people(0, clock())
        robot.run(0.1)
    assert robot.ex.runs["uv1"].status is ActionStatus.FINISHED
    assert robot.ros.log[-1] == CallSetBool(UV, False)


def test_lift_ride_changes_the_level_and_switches_the_map(clock: ManualClock) -> None:
    robot = Robot(clock)
    call = action("callLift", "lift1", BlockingType.HARD, liftName="A", toMapId="L2")
    robot.ex.receive_order(
        order(
            "o1",
            [
                N("a", 0, 0),
                N("lift_L1", 5, 0, actions=[call]),
                N("lift_L2", 5, 0, map_id="L2"),
                N("ward", 8, 1, map_id="L2"),
            ],
        )
    )
    robot.run(3)
    assert robot.ex.book.last_node_id == "ward" and not robot.ex.busy
    assert robot.adapter.read_pose().map_id == "L2"
    log = robot.ros.log
    assert CallTrigger("/building/lifts/A/to_L1") in log  # cabin called to the robot
    assert CallTrigger("/building/lifts/A/to_L2") in log  # ridden to the target level
    (load,) = robot.ros.sent(LoadMap)
    assert isinstance(load, LoadMap) and load.map_url == "/maps/L2.yaml"
    (relocalized,) = robot.ros.sent(PublishInitialPose)
    assert isinstance(relocalized, PublishInitialPose)
    assert (relocalized.pose.x, relocalized.pose.y) == (5.0, 0.0)
    last_goal = robot.ros.sent(SendNavGoal)[-1]
    assert isinstance(last_goal, SendNavGoal) and (last_goal.pose.x, last_goal.pose.y) == (8.0, 1.0)

"""Every conversion between ROS 2 message fields and agent / VDA 5050 types."""

from __future__ import annotations

import json
import math

import pytest
from fleet_robot_agent.conversions import (
    GoalStatus,
    PowerSupplyStatus,
    Quaternion,
    StampedPose,
    action_status_from_goal_status,
    agent_pose,
    battery_reading,
    describe_nav2_error,
    goal_heading,
    initial_pose_covariance,
    is_moving,
    nav_goal_pose,
    nav_status_from_goal_status,
    node_position_to_pose,
    normalize_angle,
    pose_to_node_position,
    quaternion_to_yaw,
    speech_payload,
    vda_battery_state,
    velocity_from_twist,
    yaw_to_quaternion,
)
from hypothesis import given
from hypothesis import strategies as st

from missions.vda5050 import ActionStatus, NodePosition
from robot_agent.adapter import BatteryReading, NavGoal, NavStatus, Velocity

angles = st.floats(min_value=-10 * math.pi, max_value=10 * math.pi, allow_nan=False)


def same_angle(a: float, b: float) -> bool:
    return abs(math.remainder(a - b, 2 * math.pi)) < 1e-9


# --- yaw ↔ quaternion --------------------------------------------------------------


@given(angles)
def test_yaw_quaternion_round_trip(yaw: float) -> None:
    q = yaw_to_quaternion(yaw)
    assert math.isclose(q.x**2 + q.y**2 + q.z**2 + q.w**2, 1.0, rel_tol=1e-12)
    assert q.x == q.y == 0.0
    assert same_angle(quaternion_to_yaw(q), yaw)
    assert -math.pi <= quaternion_to_yaw(q) <= math.pi


@given(angles, st.floats(min_value=0.01, max_value=100))
def test_yaw_of_a_scaled_quaternion_is_unchanged(yaw: float, scale: float) -> None:
    q = yaw_to_quaternion(yaw)
    scaled = Quaternion(q.x * scale, q.y * scale, q.z * scale, q.w * scale)
    assert same_angle(quaternion_to_yaw(scaled), yaw)


def test_known_quaternions() -> None:
    assert yaw_to_quaternion(0.0) == Quaternion(0.0, 0.0, 0.0, 1.0)
    q = yaw_to_quaternion(math.pi / 2)
    assert math.isclose(q.z, math.sqrt(0.5)) and math.isclose(q.w, math.sqrt(0.5))
    # A quarter turn about z after a half roll about x still heads the same way.
    rolled = Quaternion(math.sqrt(0.5), 0.0, 0.0, math.sqrt(0.5))
    assert math.isclose(quaternion_to_yaw(rolled), 0.0, abs_tol=1e-12)


def test_zero_quaternion_is_refused() -> None:
    with pytest.raises(ValueError, match="zero quaternion"):
        quaternion_to_yaw(Quaternion(0.0, 0.0, 0.0, 0.0))


@given(angles)
def test_normalize_angle_stays_within_pi(angle: float) -> None:
    wrapped = normalize_angle(angle)
    assert -math.pi <= wrapped <= math.pi
    assert same_angle(wrapped, angle)


# --- goals and VDA 5050 nodes --------------------------------------------------------


def test_goal_heading_uses_theta_when_given() -> None:
    goal = NavGoal(node_id="n1", x=5.0, y=0.0, map_id="L1", theta=3 * math.pi)
    assert math.isclose(abs(goal_heading(goal, 0.0, 0.0, 0.0)), math.pi)


def test_goal_heading_faces_the_direction_of_travel_without_theta() -> None:
    goal = NavGoal(node_id="n1", x=1.0, y=1.0, map_id="L1")
    assert math.isclose(goal_heading(goal, 0.0, 0.0, 2.0), math.pi / 4)


def test_goal_heading_keeps_the_robot_heading_when_already_there() -> None:
    goal = NavGoal(node_id="n1", x=1.0, y=1.0, map_id="L1")
    assert math.isclose(goal_heading(goal, 1.0, 1.0, 0.7), 0.7)


def test_nav_goal_pose_is_a_map_frame_pose_stamped() -> None:
    goal = NavGoal(node_id="n1", x=2.5, y=-1.0, map_id="L1")
    pose = nav_goal_pose(goal, "map", math.pi / 2)
    assert (pose.frame_id, pose.x, pose.y, pose.z) == ("map", 2.5, -1.0, 0.0)
    assert math.isclose(pose.yaw, math.pi / 2)


def test_nav_goal_pose_refuses_non_finite_values() -> None:
    with pytest.raises(ValueError, match="goal x"):
        nav_goal_pose(NavGoal(node_id="n", x=math.nan, y=0.0, map_id="L1"), "map", 0.0)
    with pytest.raises(ValueError, match="heading"):
        nav_goal_pose(NavGoal(node_id="n", x=0.0, y=0.0, map_id="L1"), "map", math.inf)


@given(
    st.floats(min_value=-1e4, max_value=1e4),
    st.floats(min_value=-1e4, max_value=1e4),
    st.floats(min_value=-math.pi, max_value=math.pi),
)
def test_vda_node_position_pose_round_trip(x: float, y: float, theta: float) -> None:
    position = NodePosition(x=x, y=y, theta=theta, map_id="L2")
    pose = node_position_to_pose(position, "map")
    assert pose.frame_id == "map" and (pose.x, pose.y) == (x, y)
    back = pose_to_node_position(pose, "L2")
    assert back.map_id == "L2" and (back.x, back.y) == (x, y)
    assert back.theta is not None and same_angle(back.theta, theta)


def test_node_position_without_theta_faces_zero() -> None:
    pose = node_position_to_pose(NodePosition(x=1.0, y=2.0, map_id="L1"), "map")
    assert pose.orientation == Quaternion(0.0, 0.0, 0.0, 1.0)


def test_pose_to_node_position_wraps_theta_into_the_schema_range() -> None:
    pose = StampedPose("map", 0.0, 0.0, 0.0, yaw_to_quaternion(7.0))
    theta = pose_to_node_position(pose, "L1").theta
    assert theta is not None and -math.pi <= theta <= math.pi


def test_agent_pose_from_a_transform() -> None:
    pose = agent_pose(3.0, 4.0, yaw_to_quaternion(-1.0), "L1")
    assert (pose.x, pose.y, pose.map_id) == (3.0, 4.0, "L1")
    assert math.isclose(pose.theta, -1.0)


# --- motion -------------------------------------------------------------------------


def test_velocity_from_twist_and_motion_threshold() -> None:
    assert velocity_from_twist(0.5, 0.0, 0.1) == Velocity(vx=0.5, vy=0.0, omega=0.1)
    assert is_moving(Velocity(vx=0.2))
    assert is_moving(Velocity(omega=0.3))
    assert not is_moving(Velocity(vx=0.005, vy=0.005, omega=0.01))
    with pytest.raises(ValueError, match=r"twist\.angular\.z"):
        velocity_from_twist(0.0, 0.0, math.nan)


# --- battery ------------------------------------------------------------------------


def test_battery_percentage_is_scaled_to_percent() -> None:
    reading = battery_reading(0.42, 24.3, PowerSupplyStatus.DISCHARGING)
    assert math.isclose(reading.charge_pct, 42.0)
    assert reading.voltage_v == 24.3
    assert not reading.charging


def test_battery_without_percentage_uses_charge_over_capacity() -> None:
    reading = battery_reading(
        math.nan, 24.0, PowerSupplyStatus.CHARGING, charge=15.0, capacity=20.0
    )
    assert math.isclose(reading.charge_pct, 75.0)
    assert reading.charging


def test_battery_unknown_charge_is_zero_and_out_of_range_is_clamped() -> None:
    assert battery_reading(math.nan, math.nan, 0).charge_pct == 0.0
    assert battery_reading(math.nan, 24.0, 0, charge=1.0, capacity=0.0).charge_pct == 0.0
    assert battery_reading(1.3, 24.0, 0).charge_pct == 100.0
    assert battery_reading(-0.2, 24.0, 0).charge_pct == 0.0


def test_battery_voltage_unmeasured_is_none() -> None:
    assert battery_reading(0.5, math.nan, 0).voltage_v is None
    assert battery_reading(0.5, 0.0, 0).voltage_v is None


@pytest.mark.parametrize(
    ("status", "charging"),
    [
        (PowerSupplyStatus.UNKNOWN, False),
        (PowerSupplyStatus.CHARGING, True),
        (PowerSupplyStatus.DISCHARGING, False),
        (PowerSupplyStatus.NOT_CHARGING, False),
        (PowerSupplyStatus.FULL, False),
    ],
)
def test_only_charging_status_counts_as_charging(status: int, charging: bool) -> None:
    assert battery_reading(0.9, 24.0, status).charging is charging


def test_vda_battery_state_fields() -> None:
    state = vda_battery_state(BatteryReading(charge_pct=55.5, voltage_v=24.0, charging=True))
    assert state.battery_charge == 55.5
    assert state.battery_voltage == 24.0
    assert state.charging is True
    assert state.reach is None
    clamped = vda_battery_state(BatteryReading(charge_pct=120.0, reach_m=-3.0))
    assert clamped.battery_charge == 100.0 and clamped.reach == 0.0


# --- goal status and Nav2 results -------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "nav", "action"),
    [
        (GoalStatus.UNKNOWN, NavStatus.FAILED, ActionStatus.WAITING),
        (GoalStatus.ACCEPTED, NavStatus.ACTIVE, ActionStatus.INITIALIZING),
        (GoalStatus.EXECUTING, NavStatus.ACTIVE, ActionStatus.RUNNING),
        (GoalStatus.CANCELING, NavStatus.ACTIVE, ActionStatus.RUNNING),
        (GoalStatus.SUCCEEDED, NavStatus.SUCCEEDED, ActionStatus.FINISHED),
        (GoalStatus.CANCELED, NavStatus.FAILED, ActionStatus.FAILED),
        (GoalStatus.ABORTED, NavStatus.FAILED, ActionStatus.FAILED),
        (42, NavStatus.FAILED, ActionStatus.WAITING),
    ],
)
def test_goal_status_mappings(code: int, nav: NavStatus, action: ActionStatus) -> None:
    assert nav_status_from_goal_status(code) is nav
    assert action_status_from_goal_status(code) is action


def test_goal_status_values_match_action_msgs() -> None:
    # action_msgs/msg/GoalStatus STATUS_* constants.
    assert [s.value for s in GoalStatus] == [0, 1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize(
    ("code", "msg", "text"),
    [
        (0, "", "none"),
        (9002, "", "TF error"),
        (9003, "took too long", "navigation timed out: took too long"),
        (104, "", "controller error 104"),
        (208, "no path", "planner error 208: no path"),
        (7, "", "error code 7"),
    ],
)
def test_describe_nav2_error(code: int, msg: str, text: str) -> None:
    assert describe_nav2_error(code, msg) == text


# --- speech and localization --------------------------------------------------------


def test_speech_payload_is_json_with_language_and_text() -> None:
    payload = speech_payload("请跟我来", "zh-CN")
    assert json.loads(payload) == {"language": "zh-CN", "text": "请跟我来"}
    assert "请" in payload  # readable by a speech node that does not unescape


def test_initial_pose_covariance_is_6x6_with_xy_and_yaw_variance() -> None:
    cov = initial_pose_covariance()
    assert len(cov) == 36
    assert cov[0] == cov[7] == 0.25 and cov[35] == 0.0685
    assert sum(1 for v in cov if v) == 3

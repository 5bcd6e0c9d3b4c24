"""Conversions between ROS 2 messages (as plain values) and the agent's / VDA 5050's types.

Every function here works on numbers and strings, never on ROS message objects, so it
is tested without rclpy; `ros_bridge` copies message fields in and out. Field and
constant names cited are those of ROS 2 Jazzy (geometry_msgs, sensor_msgs,
action_msgs, nav2_msgs).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from enum import IntEnum
from typing import NamedTuple

from missions.vda5050 import ActionStatus, BatteryState, NodePosition
from robot_agent.adapter import BatteryReading, NavGoal, NavStatus, Pose, Velocity


class Quaternion(NamedTuple):
    """geometry_msgs/Quaternion fields x, y, z, w."""

    x: float
    y: float
    z: float
    w: float


def normalize_angle(angle: float) -> float:
    """The same angle in [-pi, pi]."""
    return math.atan2(math.sin(angle), math.cos(angle))


def yaw_to_quaternion(yaw: float) -> Quaternion:
    """A rotation of `yaw` radians about +z (REP 103: x forward, z up, counter-clockwise)."""
    half = yaw / 2.0
    return Quaternion(0.0, 0.0, math.sin(half), math.cos(half))


def quaternion_to_yaw(q: Quaternion) -> float:
    """The heading (rotation about +z) of any quaternion, in [-pi, pi].

    Roll and pitch are ignored; a non-unit quaternion is fine because atan2 only
    looks at the ratio of its two arguments. A zero quaternion raises ValueError.
    """
    if q.x == q.y == q.z == q.w == 0.0:
        raise ValueError("zero quaternion has no orientation")
    norm2 = q.x * q.x + q.y * q.y + q.z * q.z + q.w * q.w
    siny_cosp = 2.0 * (q.w * q.z + q.x * q.y)
    # The textbook "1 - 2(y² + z²)" assumes a unit quaternion; the squared norm in
    # place of 1 keeps both atan2 arguments scaled alike for any quaternion.
    cosy_cosp = norm2 - 2.0 * (q.y * q.y + q.z * q.z)
    return math.atan2(siny_cosp, cosy_cosp)


@dataclass(frozen=True, slots=True)
class StampedPose:
    """A planar geometry_msgs/PoseStamped: header.frame_id, pose.position, pose.orientation."""

    frame_id: str
    x: float
    y: float
    z: float
    orientation: Quaternion

    @property
    def yaw(self) -> float:
        """Heading in radians."""
        return quaternion_to_yaw(self.orientation)


def _finite(name: str, value: float) -> float:
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def goal_heading(goal: NavGoal, robot_x: float, robot_y: float, robot_theta: float) -> float:
    """Heading to hold at a goal: its theta, else the direction of travel towards it.

    VDA 5050 §6.6.6: a node without theta leaves the orientation to the vehicle;
    Nav2 needs one, and facing the way we drove avoids a pointless turn on arrival.
    """
    if goal.theta is not None:
        return normalize_angle(goal.theta)
    dx, dy = goal.x - robot_x, goal.y - robot_y
    if math.hypot(dx, dy) < 1e-6:
        return normalize_angle(robot_theta)
    return math.atan2(dy, dx)


def nav_goal_pose(goal: NavGoal, frame_id: str, heading: float) -> StampedPose:
    """The NavigateToPose goal pose (nav2_msgs/action/NavigateToPose goal field `pose`)."""
    return StampedPose(
        frame_id=frame_id,
        x=_finite("goal x", goal.x),
        y=_finite("goal y", goal.y),
        z=0.0,
        orientation=yaw_to_quaternion(_finite("goal heading", heading)),
    )


def node_position_to_pose(position: NodePosition, frame_id: str) -> StampedPose:
    """A VDA 5050 nodePosition as a PoseStamped in `frame_id` (theta absent → 0)."""
    return StampedPose(
        frame_id=frame_id,
        x=_finite("nodePosition.x", position.x),
        y=_finite("nodePosition.y", position.y),
        z=0.0,
        orientation=yaw_to_quaternion(position.theta or 0.0),
    )


def pose_to_node_position(pose: StampedPose, map_id: str) -> NodePosition:
    """A PoseStamped as a VDA 5050 nodePosition on `map_id` (theta within ±pi)."""
    return NodePosition(
        x=_finite("pose x", pose.x),
        y=_finite("pose y", pose.y),
        theta=normalize_angle(pose.yaw),
        map_id=map_id,
    )


def agent_pose(x: float, y: float, orientation: Quaternion, map_id: str) -> Pose:
    """The agent's Pose from a TF transform's translation.x/y and rotation."""
    return Pose(
        x=_finite("translation.x", x),
        y=_finite("translation.y", y),
        theta=quaternion_to_yaw(orientation),
        map_id=map_id,
    )


def velocity_from_twist(linear_x: float, linear_y: float, angular_z: float) -> Velocity:
    """nav_msgs/Odometry twist.twist (body frame, REP 105 child_frame_id) → Velocity."""
    return Velocity(
        vx=_finite("twist.linear.x", linear_x),
        vy=_finite("twist.linear.y", linear_y),
        omega=_finite("twist.angular.z", angular_z),
    )


def is_moving(velocity: Velocity, linear_m_s: float = 0.01, angular_rad_s: float = 0.02) -> bool:
    """True when the body moves faster than odometry noise."""
    return math.hypot(velocity.vx, velocity.vy) > linear_m_s or abs(velocity.omega) > angular_rad_s


class PowerSupplyStatus(IntEnum):
    """sensor_msgs/BatteryState POWER_SUPPLY_STATUS_* constants."""

    UNKNOWN = 0
    CHARGING = 1
    DISCHARGING = 2
    NOT_CHARGING = 3
    FULL = 4


def battery_reading(
    percentage: float,
    voltage: float,
    power_supply_status: int,
    charge: float = math.nan,
    capacity: float = math.nan,
) -> BatteryReading:
    """sensor_msgs/BatteryState → BatteryReading.

    `percentage` is 0..1 per the message definition (NaN when unmeasured); when it is
    NaN the charge is computed from `charge`/`capacity` (Ah), else it is unknown and
    reported as 0 %. Only POWER_SUPPLY_STATUS_CHARGING counts as charging: VDA 5050
    §6.10.6 `charging` means "charging in progress", which FULL is not.
    """
    if math.isfinite(percentage):
        pct = percentage * 100.0
    elif math.isfinite(charge) and math.isfinite(capacity) and capacity > 0:
        pct = charge / capacity * 100.0
    else:
        pct = 0.0
    return BatteryReading(
        charge_pct=max(0.0, min(100.0, pct)),
        voltage_v=float(voltage) if math.isfinite(voltage) and voltage > 0 else None,
        charging=power_supply_status == PowerSupplyStatus.CHARGING,
    )


def vda_battery_state(reading: BatteryReading) -> BatteryState:
    """The VDA 5050 state.batteryState (§6.10.6) for a battery reading."""
    return BatteryState(
        battery_charge=max(0.0, min(100.0, reading.charge_pct)),
        battery_voltage=reading.voltage_v,
        charging=reading.charging,
        reach=None if reading.reach_m is None else max(0.0, reading.reach_m),
    )


class GoalStatus(IntEnum):
    """action_msgs/msg/GoalStatus STATUS_* constants."""

    UNKNOWN = 0
    ACCEPTED = 1
    EXECUTING = 2
    CANCELING = 3
    SUCCEEDED = 4
    CANCELED = 5
    ABORTED = 6


def nav_status_from_goal_status(code: int) -> NavStatus:
    """A NavigateToPose goal's GoalStatus → the agent's NavStatus.

    CANCELED counts as FAILED: the agent cancels through `cancel_navigation`, which
    forgets the goal first, so a CANCELED it still sees came from someone else and the
    node was not reached. An unknown code is FAILED rather than waiting forever.
    """
    match code:
        case GoalStatus.ACCEPTED | GoalStatus.EXECUTING | GoalStatus.CANCELING:
            return NavStatus.ACTIVE
        case GoalStatus.SUCCEEDED:
            return NavStatus.SUCCEEDED
        case _:
            return NavStatus.FAILED


def action_status_from_goal_status(code: int) -> ActionStatus:
    """A ROS 2 action's GoalStatus → a VDA 5050 actionStatus (§6.11, table 2).

    For an action the agent runs as a ROS action (docking, for instance): accepted is
    INITIALIZING, executing and canceling are RUNNING, succeeded is FINISHED, canceled
    and aborted are FAILED; UNKNOWN means nothing was sent yet, so WAITING.
    """
    match code:
        case GoalStatus.ACCEPTED:
            return ActionStatus.INITIALIZING
        case GoalStatus.EXECUTING | GoalStatus.CANCELING:
            return ActionStatus.RUNNING
        case GoalStatus.SUCCEEDED:
            return ActionStatus.FINISHED
        case GoalStatus.CANCELED | GoalStatus.ABORTED:
            return ActionStatus.FAILED
        case _:
            return ActionStatus.WAITING


# nav2_msgs/action/NavigateToPose result constants (Jazzy). Codes of the servers the
# behaviour tree calls pass through as they are: 1xx FollowPath (controller_server),
# 2xx ComputePathToPose (planner_server).
_NAVIGATOR_ERRORS = {
    0: "none",
    9000: "unknown navigator error",
    9001: "failed to load behavior tree",
    9002: "TF error",
    9003: "navigation timed out",
}


def describe_nav2_error(error_code: int, error_msg: str = "") -> str:
    """A readable reason for a NavigateToPose result's error_code (and error_msg)."""
    if error_code in _NAVIGATOR_ERRORS:
        text = _NAVIGATOR_ERRORS[error_code]
    elif 100 <= error_code < 200:
        text = f"controller error {error_code}"
    elif 200 <= error_code < 300:
        text = f"planner error {error_code}"
    else:
        text = f"error code {error_code}"
    return f"{text}: {error_msg}" if error_msg else text


def speech_payload(text: str, language: str) -> str:
    """The std_msgs/String `data` a speech node receives: JSON with language and text."""
    return json.dumps({"language": language, "text": text}, ensure_ascii=False)


def initial_pose_covariance(
    xy_variance: float = 0.25, yaw_variance: float = 0.0685
) -> tuple[float, ...]:
    """Row-major 6×6 covariance for geometry_msgs/PoseWithCovariance (x, y, z, R, P, Y).

    The defaults are RViz's "2D Pose Estimate" values, which AMCL accepts well.
    """
    covariance = [0.0] * 36
    covariance[0] = covariance[7] = xy_variance
    covariance[35] = yaw_variance
    return tuple(covariance)

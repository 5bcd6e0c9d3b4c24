"""Parking for site emergency mode: which robot goes to which parking spot, and the order.

Spots are the site's waypoints flagged `is_parking_spot`. Robots get distinct spots with
the least total travel time (the assignment problem, solved exactly with scipy's
`linear_sum_assignment` on each robot's fastest-route times); a robot that cannot reach
any free spot gets none. The order to a spot is the compiler's route there with only the
actions driving needs (lifts and doors).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from fleet_server.fleet.live_state import LivePose, RobotKey
from missions.compiler import RobotProfile, StartPose, compile_mission
from missions.compiler.site_view import SiteView
from missions.sites import Site, travel_time_matrix
from missions.types import Capability, Checkpoint, PatrolMission
from missions.vda5050 import Order, utc_timestamp
from missions.vda5050.protocol import PROTOCOL_VERSION

PATH_ACTIONS = frozenset({"callLift", "openDoor"})
"""The only actions a parking order keeps: those the route itself needs."""
UNREACHABLE = 1e12


def drive_profile(profile: RobotProfile) -> RobotProfile:
    """The robot as the compiler sees it for plain driving (no mission capability needed)."""
    return profile.model_copy(update={"capabilities": (Capability.PATROL,)})


def parking_spots(site: Site) -> list[str]:
    """Ids of the site's parking waypoints."""
    return [wp.id for wp in site.all_waypoints() if wp.is_parking_spot]


def spot_times(
    site: Site, profile: RobotProfile, pose: LivePose, spots: Sequence[str]
) -> dict[str, float]:
    """Travel time (s) from where the robot stands to each spot it can reach."""
    view = SiteView(site, drive_profile(profile))
    level = next((lv for lv in site.levels if lv.name == pose.map_id), None)
    if level is None:
        return {}
    anchor = view.nearest_usable(level, pose.x, pose.y)
    if anchor is None:
        return {}
    usable = [s for s in spots if s in view.usable]
    ids = list(dict.fromkeys([anchor.id, *usable]))
    _ids, matrix = travel_time_matrix(site, view.robot_class, waypoint_ids=ids)
    to_anchor = math.hypot(anchor.x - pose.x, anchor.y - pose.y) / profile.max_speed_m_s
    times = {}
    for j, spot in enumerate(ids):
        if spot in usable and math.isfinite(matrix[0, j]):
            times[spot] = to_anchor + float(matrix[0, j])
    return times


def assign_spots(
    times: Mapping[RobotKey, Mapping[str, float]], free: Sequence[str]
) -> dict[RobotKey, str]:
    """Distinct spots for the robots with the least total travel time (unreachable: none)."""
    robots = list(times)
    if not robots or not free:
        return {}
    cost = np.full((len(robots), len(free)), UNREACHABLE)
    for i, robot in enumerate(robots):
        for j, spot in enumerate(free):
            cost[i, j] = times[robot].get(spot, UNREACHABLE)
    rows, cols = linear_sum_assignment(cost)
    return {robots[i]: free[j] for i, j in zip(rows, cols, strict=True) if cost[i, j] < UNREACHABLE}


def parking_order(
    site: Site, profile: RobotProfile, pose: LivePose, spot: str, order_id: str
) -> Order:
    """An order from where the robot stands to `spot` (MissionCompileError if no route)."""
    mission = PatrolMission(
        site=site.name,
        checkpoints=[Checkpoint(waypoint=spot, dwell_s=0, checks=[])],
        dwell_s=0,
    )
    compiled = compile_mission(
        mission,
        site,
        drive_profile(profile),
        start=StartPose.at(pose.x, pose.y, pose.map_id),
        order_id=order_id,
    )
    nodes = [
        n.model_copy(update={"actions": [a for a in n.actions if a.action_type in PATH_ACTIONS]})
        for n in compiled.nodes
    ]
    return Order(
        header_id=0,
        timestamp=utc_timestamp(),
        version=PROTOCOL_VERSION,
        manufacturer=profile.manufacturer,
        serial_number=profile.serial_number,
        order_id=order_id,
        order_update_id=0,
        nodes=nodes,
        edges=list(compiled.edges),
    )

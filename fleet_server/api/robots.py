"""Robots: what the fleet looks like right now."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel

from fleet_server.deps import LiveFleetDep, RequireViewer
from fleet_server.fleet.live_state import RobotLive

router = APIRouter(prefix="/api/v1/robots", tags=["robots"])


class PosePublic(BaseModel):
    """A robot's position on a site level (metres, radians)."""

    x: float
    y: float
    theta: float
    map_id: str


class RobotPublic(BaseModel):
    """One robot as the API shows it."""

    manufacturer: str
    serial_number: str
    online: bool
    pose: PosePublic | None
    battery_charge: float | None
    operating_mode: str | None
    last_seen: datetime | None


def robot_public(robot: RobotLive) -> RobotPublic:
    """The API view of a live robot record."""
    pose = robot.pose
    return RobotPublic(
        manufacturer=robot.manufacturer,
        serial_number=robot.serial_number,
        online=robot.online,
        pose=None
        if pose is None
        else PosePublic(x=pose.x, y=pose.y, theta=pose.theta, map_id=pose.map_id),
        battery_charge=robot.battery_charge,
        operating_mode=robot.operating_mode,
        last_seen=robot.last_seen,
    )


@router.get("", response_model=list[RobotPublic])
def list_robots(live: LiveFleetDep, _: RequireViewer) -> list[RobotPublic]:
    """Every robot that has reported, with its live state (viewer role or higher)."""
    return [robot_public(r) for r in sorted(live, key=lambda r: r.key)]

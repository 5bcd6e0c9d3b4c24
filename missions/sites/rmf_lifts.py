"""Lifts of an Open-RMF building and the waypoints inside their cabins.

A waypoint belongs to a lift cabin on a level the lift serves if it lies inside the lift's
shaft rectangle (cabin plus a 5 cm gap each side, as the RMF nav-graph generator does) or
names the lift in its ``lift_cabin`` parameter.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from missions.sites.errors import SiteImportError
from missions.sites.model import Level, Lift, LiftDoor
from missions.sites.rmf_frames import LevelTransform
from missions.sites.rmf_parse import number

_LIFT_SHAFT_GAP_M = 0.05


def build_lifts(
    doc: Mapping[str, Any],
    fname: str,
    levels: Sequence[Level],
    transforms: Mapping[str, LevelTransform],
    ref_name: str,
    *,
    wait_s: float,
    per_floor_s: float,
) -> list[Lift]:
    """Parse ``lifts``; positions are in the lift's reference floor, as RMF draws them."""
    lifts_yaml = doc.get("lifts") or {}
    if not isinstance(lifts_yaml, dict):
        raise SiteImportError("lifts must be a mapping", file=fname, element="lifts")
    result = []
    for lift_name, spec in lifts_yaml.items():
        lift = _lift(str(lift_name), spec, fname, levels, transforms, ref_name, wait_s, per_floor_s)
        cabin = {lvl.name: _cabin_waypoints(lift, lvl) for lvl in levels if lvl.name in lift.levels}
        result.append(lift.model_copy(update={"waypoints": {k: v for k, v in cabin.items() if v}}))
    return result


def _lift(
    name: str,
    spec: Any,
    fname: str,
    levels: Sequence[Level],
    transforms: Mapping[str, LevelTransform],
    ref_name: str,
    wait_s: float,
    per_floor_s: float,
) -> Lift:
    element = f"lifts.{name}"
    if not isinstance(spec, dict):
        raise SiteImportError("lift is not a mapping", file=fname, element=element)
    level_doors = spec.get("level_doors") or {}
    if not isinstance(level_doors, dict):
        raise SiteImportError(
            "level_doors must be a mapping", file=fname, element=f"{element}.level_doors"
        )
    for lvl in level_doors:
        if str(lvl) not in transforms:
            raise SiteImportError(
                f"serves level {lvl!r}, which the building does not have",
                file=fname,
                element=f"{element}.level_doors",
            )
    ref = str(spec.get("reference_floor_name") or ref_name)
    if ref not in transforms:
        raise SiteImportError(
            f"reference_floor_name {ref!r} is not a level", file=fname, element=element
        )
    num = {
        k: number(spec.get(k), fname, None, f"{element}.{k}") for k in ("x", "y", "width", "depth")
    }
    yaw = number(spec.get("yaw", 0.0), fname, None, f"{element}.yaw")
    transform = transforms[ref]
    x, y = transform.to_metres(num["x"], num["y"])
    served = {str(k) for k in level_doors}
    return Lift(
        name=name,
        levels=tuple(lvl.name for lvl in levels if lvl.name in served),
        level_doors={str(k): tuple(str(d) for d in (v or [])) for k, v in level_doors.items()},
        doors=tuple(_lift_doors(spec.get("doors"), fname, element)),
        x=x,
        y=y,
        yaw_rad=yaw + transform.rotation_rad,
        cabin_width_m=num["width"],
        cabin_depth_m=num["depth"],
        travel_time_per_floor_s=per_floor_s,
        wait_time_s=wait_s,
    )


def _lift_doors(raw: Any, fname: str, element: str) -> list[LiftDoor]:
    if not raw:
        return []
    if not isinstance(raw, dict):
        raise SiteImportError("doors must be a mapping", file=fname, element=f"{element}.doors")
    doors = []
    for door_name, spec in raw.items():
        el = f"{element}.doors.{door_name}"
        if not isinstance(spec, dict):
            raise SiteImportError("door is not a mapping", file=fname, element=el)
        doors.append(
            LiftDoor(
                name=str(door_name),
                width_m=number(spec.get("width"), fname, None, f"{el}.width"),
                x=number(spec.get("x", 0.0), fname, None, f"{el}.x"),
                y=number(spec.get("y", 0.0), fname, None, f"{el}.y"),
            )
        )
    return doors


def _cabin_waypoints(lift: Lift, level: Level) -> tuple[str, ...]:
    c, s = math.cos(lift.yaw_rad), math.sin(lift.yaw_rad)
    half_w = lift.cabin_width_m / 2 + _LIFT_SHAFT_GAP_M
    half_d = lift.cabin_depth_m / 2 + _LIFT_SHAFT_GAP_M
    inside = []
    for wp in level.waypoints:
        dx, dy = wp.x - lift.x, wp.y - lift.y
        local_x, local_y = c * dx + s * dy, -s * dx + c * dy
        if wp.params.get("lift_cabin") == lift.name or (
            abs(local_x) <= half_w and abs(local_y) <= half_d
        ):
            inside.append(wp.id)
    return tuple(inside)

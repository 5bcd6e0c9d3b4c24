"""The site model: levels, navigation graph, zones, doors, lifts and the geo-reference.

All models are frozen and use tuples for sequences, so a Site is an immutable value: it can
be cached by content, stored as JSON (``site.model_dump_json()``) and loaded back
(``Site.model_validate_json``) into an equal object. Coordinates are level metres: x east-ish,
y north-ish (right-handed, as in ROS/REP 103), origin and heading fixed by the geo-reference.
"""

from __future__ import annotations

import math
from collections import Counter
from enum import StrEnum
from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from missions.sites.geodesy import tm_forward, tm_inverse

Point = tuple[float, float]
ParamValue = bool | int | float | str

# Placeholder district anchor used when a map file carries no geo-reference: Shenzhen Civic
# Center, Futian district (WGS84). Override per site with ``geo_anchor=(lon, lat)``.
DEFAULT_GEO_ANCHOR: Point = (114.0579, 22.5431)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SiteKind(StrEnum):
    """What a site is; drives defaults in the console and mission templates."""

    HOSPITAL = "hospital"
    BANK = "bank"
    PUBLIC_SPACE = "public_space"


class ZoneKind(StrEnum):
    """What a zone means to a robot."""

    RESTRICTED = "restricted"  # only robots authorised for this zone by name may enter
    KEEP_OUT = "keep_out"  # no robot of the listed kinds may enter
    QUIET = "quiet"  # no speech/sirens; informational for routing
    UV_ALLOWED = "uv_allowed"  # UV-C lamps may be switched on here


class GeoReference(_Frozen):
    """Places level metres on the globe.

    ``rotation_rad`` is the angle from geographic east to the local x axis, counter-clockwise;
    ``scale`` converts local units to true metres. Projection: see :mod:`geodesy` (transverse
    Mercator at the anchor; round trip < 1 um, scale error < 1 ppm within 9 km).
    """

    anchor_lon: float = Field(ge=-180.0, le=180.0)
    anchor_lat: float = Field(ge=-85.0, le=85.0)
    rotation_rad: float = 0.0
    scale: float = Field(default=1.0, gt=0.0)

    def _anchor_northing(self) -> float:
        return float(tm_forward(self.anchor_lon, self.anchor_lat, self.anchor_lon)[1])

    def to_wgs84_many(
        self, x: npt.ArrayLike, y: npt.ArrayLike
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Vectorised :meth:`to_wgs84`: arrays of lon, lat in degrees."""
        xa = np.asarray(x, dtype=np.float64)
        ya = np.asarray(y, dtype=np.float64)
        c, s = math.cos(self.rotation_rad), math.sin(self.rotation_rad)
        east = self.scale * (c * xa - s * ya)
        north = self.scale * (s * xa + c * ya) + self._anchor_northing()
        return tm_inverse(east, north, self.anchor_lon)

    def from_wgs84_many(
        self, lon: npt.ArrayLike, lat: npt.ArrayLike
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Vectorised :meth:`from_wgs84`: arrays of local x, y in metres."""
        east, north = tm_forward(lon, lat, self.anchor_lon)
        north = north - self._anchor_northing()
        c, s = math.cos(self.rotation_rad), math.sin(self.rotation_rad)
        x = (c * east + s * north) / self.scale
        y = (-s * east + c * north) / self.scale
        return x, y

    def to_wgs84(self, x: float, y: float) -> tuple[float, float]:
        """Local level metres -> (lon, lat) in WGS84 degrees."""
        lon, lat = self.to_wgs84_many(x, y)
        return float(lon), float(lat)

    def from_wgs84(self, lon: float, lat: float) -> tuple[float, float]:
        """(lon, lat) in WGS84 degrees -> local level metres."""
        x, y = self.from_wgs84_many(lon, lat)
        return float(x), float(y)


class FloorPlan(_Frozen):
    """A level's floor-plan image and how its pixels map to level metres.

    Image pixel (u, v) has u to the right and v down from the top-left corner. It maps to
    ``(x, y) = translation + R(rotation) * (scale * u, -scale * v)`` (v flips because image
    rows grow downwards while y grows northwards).
    """

    image: str
    width_px: int | None = Field(default=None, gt=0)
    height_px: int | None = Field(default=None, gt=0)
    scale_m_per_px: float = Field(gt=0.0)
    rotation_rad: float = 0.0
    translation_m: Point = (0.0, 0.0)

    def pixel_to_level(self, u: float, v: float) -> Point:
        """Image pixel -> level metres."""
        c, s = math.cos(self.rotation_rad), math.sin(self.rotation_rad)
        px, py = self.scale_m_per_px * u, -self.scale_m_per_px * v
        return (
            self.translation_m[0] + c * px - s * py,
            self.translation_m[1] + s * px + c * py,
        )

    def level_to_pixel(self, x: float, y: float) -> Point:
        """Level metres -> image pixel."""
        c, s = math.cos(self.rotation_rad), math.sin(self.rotation_rad)
        dx, dy = x - self.translation_m[0], y - self.translation_m[1]
        px, py = c * dx + s * dy, -s * dx + c * dy
        return px / self.scale_m_per_px, -py / self.scale_m_per_px


class Waypoint(_Frozen):
    """A navigation-graph vertex. ``id`` is unique within the site."""

    id: str = Field(min_length=1)
    name: str = ""
    level: str
    x: float
    y: float
    is_charger: bool = False
    is_parking_spot: bool = False
    is_holding_point: bool = False
    dock_name: str = ""
    params: dict[str, ParamValue] = Field(default_factory=dict)


class Lane(_Frozen):
    """A directed (or bidirectional) edge between two waypoints of the same level."""

    start: str
    end: str
    bidirectional: bool = True
    speed_limit_m_s: float | None = Field(default=None, gt=0.0)
    mutex_group: str = ""
    door: str = ""
    closed: bool = False
    orientation: Literal["", "forward", "backward"] = ""
    graph: int = 0


class Zone(_Frozen):
    """A polygonal area on one level. Empty ``robot_kinds`` means the zone applies to all."""

    name: str
    kind: ZoneKind
    polygon: tuple[Point, ...]
    holes: tuple[tuple[Point, ...], ...] = ()
    robot_kinds: tuple[str, ...] = ()

    @field_validator("polygon")
    @classmethod
    def _at_least_a_triangle(cls, value: tuple[Point, ...]) -> tuple[Point, ...]:
        if len(value) < 3:
            raise ValueError("a zone polygon needs at least 3 vertices")
        return value


class Door(_Frozen):
    """A door drawn as a segment; lanes crossing it carry its name."""

    name: str
    kind: str
    start: Point
    end: Point


class Wall(_Frozen):
    """A wall segment in level metres (kept for the Gazebo world export)."""

    start: Point
    end: Point
    height_m: float = Field(default=2.5, gt=0.0)


class LiftDoor(_Frozen):
    """A cabin door; x, y are metres relative to the cabin centre in the cabin frame."""

    name: str
    width_m: float = Field(gt=0.0)
    x: float = 0.0
    y: float = 0.0


class Lift(_Frozen):
    """A lift connecting levels. Position/yaw are in the reference level's metres."""

    name: str
    levels: tuple[str, ...]
    level_doors: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    doors: tuple[LiftDoor, ...] = ()
    x: float
    y: float
    yaw_rad: float = 0.0
    cabin_width_m: float = Field(gt=0.0)
    cabin_depth_m: float = Field(gt=0.0)
    travel_time_per_floor_s: float = Field(default=8.0, ge=0.0)
    wait_time_s: float = Field(default=30.0, ge=0.0)
    waypoints: dict[str, tuple[str, ...]] = Field(default_factory=dict)


class Level(_Frozen):
    """One floor: its plan, navigation graph, zones, doors, walls and floor outlines."""

    name: str = Field(min_length=1)
    elevation_m: float = 0.0
    floor_plan: FloorPlan | None = None
    waypoints: tuple[Waypoint, ...] = ()
    lanes: tuple[Lane, ...] = ()
    zones: tuple[Zone, ...] = ()
    doors: tuple[Door, ...] = ()
    walls: tuple[Wall, ...] = ()
    floors: tuple[tuple[Point, ...], ...] = ()


class Site(_Frozen):
    """A hospital, bank or public space with its levels and lifts."""

    name: str = Field(min_length=1)
    kind: SiteKind
    levels: tuple[Level, ...]
    lifts: tuple[Lift, ...] = ()
    geo_reference: GeoReference
    source_file: str = ""
    source_format: Literal["rmf_building", "occupancy_grid", ""] = ""

    @model_validator(mode="after")
    def _references_resolve(self) -> Site:
        level_names = [level.name for level in self.levels]
        duplicates = [n for n, c in Counter(level_names).items() if c > 1]
        if duplicates:
            raise ValueError(f"duplicate level names: {duplicates}")
        seen: dict[str, str] = {}
        for level in self.levels:
            for wp in level.waypoints:
                if wp.id in seen:
                    raise ValueError(f"duplicate waypoint id {wp.id!r}")
                if wp.level != level.name:
                    raise ValueError(
                        f"waypoint {wp.id!r} says level {wp.level!r}, is in {level.name!r}"
                    )
                seen[wp.id] = level.name
            for i, lane in enumerate(level.lanes):
                for end in (lane.start, lane.end):
                    if seen.get(end) != level.name:
                        raise ValueError(
                            f"level {level.name!r} lanes[{i}] refers to {end!r}, "
                            "which is not a waypoint of this level"
                        )
        for lift in self.lifts:
            for lvl in lift.levels:
                if lvl not in level_names:
                    raise ValueError(f"lift {lift.name!r} serves unknown level {lvl!r}")
            for lvl, ids in lift.waypoints.items():
                for wp_id in ids:
                    if seen.get(wp_id) != lvl:
                        raise ValueError(f"lift {lift.name!r} waypoint {wp_id!r} not on {lvl!r}")
        return self

    def level(self, name: str) -> Level:
        """The level called ``name`` (KeyError if absent)."""
        for level in self.levels:
            if level.name == name:
                return level
        raise KeyError(name)

    def all_waypoints(self) -> list[Waypoint]:
        """Every waypoint of every level, in level order."""
        return [wp for level in self.levels for wp in level.waypoints]

"""Open-RMF ``*.building.yaml`` importer (the traffic-editor format).

Format notes (as read and written by rmf_traffic_editor / rmf_building_map_tools):

- ``coordinate_system``: ``reference_image`` (default; vertices in image pixels, y down),
  ``cartesian_meters`` (metres, y up) or ``wgs84`` (x = longitude, y = latitude).
- Every parameter is a ``[type, value]`` pair: 1 string, 2 int, 3 double, 4 bool.
- Edges (lanes, walls, doors, measurements) are ``[start_index, end_index, {params}]`` into
  the level's ``vertices``; a vertex is ``[x, y, z, name, {params}]``.
- Pixels become metres through the reference level's scale, the mean over its
  ``measurements`` of (distance / pixel length); the y axis flips. Other levels are aligned
  to the reference level through fiducials they share with it (at least two), else scaled by
  their own measurements.
- A waypoint belongs to a lift cabin if it lies inside the lift's shaft rectangle (cabin plus
  a 5 cm gap each side, as the RMF nav-graph generator does) or names the lift in its
  ``lift_cabin`` parameter.

The nav graph keeps the vertices that end a lane plus flagged vertices (charger, parking
spot, holding point, dock); named vertices off every lane are not navigable and are dropped.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from PIL import Image, UnidentifiedImageError

from missions.sites.errors import SiteImportError
from missions.sites.geometry import fit_similarity, segments_intersect
from missions.sites.model import (
    DEFAULT_GEO_ANCHOR,
    Door,
    FloorPlan,
    GeoReference,
    Lane,
    Level,
    Lift,
    LiftDoor,
    Point,
    Site,
    SiteKind,
    Wall,
    Waypoint,
)
from missions.sites.navcheck import check_graph_connected

logger = logging.getLogger(__name__)

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SUPPORTED_SYSTEMS = ("reference_image", "cartesian_meters", "wgs84")
_LIFT_SHAFT_GAP_M = 0.05
_NAV_FLAGS = ("is_charger", "is_parking_spot", "is_holding_point")
_PARAM_TYPES: dict[int, type] = {1: str, 2: int, 3: float, 4: bool}


@dataclass
class _Transform:
    """Raw file coordinates -> level metres."""

    to_metres: Callable[[float, float], Point]
    rotation_rad: float = 0.0
    plan: FloorPlan | None = None


@dataclass
class _RawLevel:
    name: str
    yaml: Mapping[str, Any]
    vertices: list[tuple[float, float, str, dict[str, Any]]] = field(default_factory=list)


def import_rmf_building(
    path: str | Path,
    *,
    name: str | None = None,
    kind: SiteKind | str | None = None,
    geo_anchor: Point | None = None,
    lift_wait_s: float = 30.0,
    lift_travel_per_floor_s: float = 8.0,
) -> Site:
    """Import an Open-RMF building map into a :class:`Site`.

    ``geo_anchor`` (lon, lat) places maps drawn in pixels or metres; it defaults to
    :data:`DEFAULT_GEO_ANCHOR`. WGS84 maps carry their own position and ignore it.
    Raises :class:`SiteImportError` naming the file, level and element on bad input.
    """
    path = Path(path)
    fname = path.name
    doc = _load_yaml(path)
    system = str(doc.get("coordinate_system", "reference_image"))
    if system not in _SUPPORTED_SYSTEMS:
        raise SiteImportError(
            f"unsupported coordinate_system {system!r} "
            f"(supported: {', '.join(_SUPPORTED_SYSTEMS)})",
            file=fname,
            element="coordinate_system",
        )
    raw_levels = _raw_levels(doc, fname)
    ref_name = str(doc.get("reference_level_name") or raw_levels[0].name)
    by_name = {lvl.name: lvl for lvl in raw_levels}
    if ref_name not in by_name:
        raise SiteImportError(
            f"reference level {ref_name!r} is not among the levels",
            file=fname,
            element="reference_level_name",
        )
    geo = _geo_reference(system, raw_levels, geo_anchor)
    transforms = _level_transforms(system, raw_levels, by_name[ref_name], geo, path)
    levels = [
        _build_level(raw, transforms[raw.name], fname) for raw in _by_elevation(raw_levels, fname)
    ]
    lifts = _build_lifts(
        doc, fname, levels, transforms, ref_name, raw_levels, lift_wait_s, lift_travel_per_floor_s
    )
    site = Site(
        name=name or str(doc.get("name") or path.name.removesuffix(".building.yaml")),
        kind=SiteKind(kind) if kind is not None else SiteKind.PUBLIC_SPACE,
        levels=tuple(levels),
        lifts=tuple(lifts),
        geo_reference=geo,
        source_file=fname,
        source_format="rmf_building",
    )
    check_graph_connected(site, fname, per_graph=True)
    logger.info(
        "imported RMF building %s: %s levels, %s lifts", fname, len(site.levels), len(site.lifts)
    )
    return site


# --- document and vertices ---------------------------------------------------------------


def _load_yaml(path: Path) -> Mapping[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SiteImportError(f"cannot read file: {exc}", file=path.name) from exc
    try:
        doc = yaml.load(text, Loader=_LOADER)  # noqa: S506 - safe loader (C or Python)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "document"
        problem = getattr(exc, "problem", None) or str(exc)
        raise SiteImportError(f"malformed YAML: {problem}", file=path.name, element=where) from exc
    if not isinstance(doc, dict):
        raise SiteImportError("top level is not a mapping", file=path.name, element="document")
    return doc


def _raw_levels(doc: Mapping[str, Any], fname: str) -> list[_RawLevel]:
    levels_yaml = doc.get("levels")
    if not isinstance(levels_yaml, dict) or not levels_yaml:
        raise SiteImportError("no levels defined", file=fname, element="levels")
    result = []
    for level_name, level_yaml in levels_yaml.items():
        if not isinstance(level_yaml, dict):
            raise SiteImportError("level is not a mapping", file=fname, level=str(level_name))
        raw = _RawLevel(str(level_name), level_yaml)
        for i, vertex in enumerate(level_yaml.get("vertices") or []):
            raw.vertices.append(_parse_vertex(vertex, fname, raw.name, i))
        result.append(raw)
    return result


def _parse_vertex(
    vertex: Any, fname: str, level: str, index: int
) -> tuple[float, float, str, dict[str, Any]]:
    element = f"vertices[{index}]"
    if not isinstance(vertex, list) or len(vertex) < 2:
        raise SiteImportError(
            "expected [x, y, z, name, {params}]", file=fname, level=level, element=element
        )
    x, y = _number(vertex[0], fname, level, element), _number(vertex[1], fname, level, element)
    name = str(vertex[3]) if len(vertex) > 3 and vertex[3] is not None else ""
    params = _params(vertex[4] if len(vertex) > 4 else None, fname, level, element)
    return x, y, name, params


def _number(value: Any, fname: str, level: str | None, element: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SiteImportError(
            f"expected a finite number, got {value!r}", file=fname, level=level, element=element
        )
    return float(value)


def _params(raw: Any, fname: str, level: str | None, element: str) -> dict[str, Any]:
    """Decode ``{name: [type, value]}``; tolerates bare values written by older tools."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise SiteImportError(
            "parameters must be a mapping", file=fname, level=level, element=element
        )
    out: dict[str, Any] = {}
    for key, val in raw.items():
        if isinstance(val, list) and len(val) == 2 and isinstance(val[0], int):
            kind = _PARAM_TYPES.get(val[0])
            value = val[1]
            if kind is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if kind is not None and not isinstance(value, kind):
                raise SiteImportError(
                    f"parameter {key!r} should be {kind.__name__}, got {value!r}",
                    file=fname,
                    level=level,
                    element=element,
                )
            out[str(key)] = value
        else:
            out[str(key)] = val
    return out


def _by_elevation(levels: list[_RawLevel], fname: str) -> list[_RawLevel]:
    def elevation(raw: _RawLevel) -> float:
        return _number(raw.yaml.get("elevation", 0.0), fname, raw.name, "elevation")

    return sorted(levels, key=elevation)


# --- coordinates ----------------------------------------------------------------------------


def _geo_reference(system: str, levels: list[_RawLevel], geo_anchor: Point | None) -> GeoReference:
    if system == "wgs84":
        lons = [v[0] for lvl in levels for v in lvl.vertices]
        lats = [v[1] for lvl in levels for v in lvl.vertices]
        if lons:
            # Anchor at the bounding-box centre keeps every point close to the projection
            # origin, where the local frame is most accurate.
            return GeoReference(
                anchor_lon=(min(lons) + max(lons)) / 2, anchor_lat=(min(lats) + max(lats)) / 2
            )
    lon, lat = geo_anchor or DEFAULT_GEO_ANCHOR
    return GeoReference(anchor_lon=lon, anchor_lat=lat)


def _level_transforms(
    system: str,
    levels: list[_RawLevel],
    ref: _RawLevel,
    geo: GeoReference,
    path: Path,
) -> dict[str, _Transform]:
    fname = path.name
    if system != "reference_image":
        for lvl in levels:
            # Plans of metric maps carry no pixel scale here; still refuse a dangling name.
            _drawing(lvl, path)
    if system == "wgs84":
        return {lvl.name: _Transform(geo.from_wgs84) for lvl in levels}
    if system == "cartesian_meters":
        return {lvl.name: _Transform(lambda x, y: (x, y)) for lvl in levels}
    ref_scale = _scale_from_measurements(ref, fname)
    if ref_scale is None:
        raise SiteImportError(
            "reference level has no measurements, so pixels cannot be scaled to metres",
            file=fname,
            level=ref.name,
            element="measurements",
        )
    ref_fiducials = _fiducials(ref, fname)
    result: dict[str, _Transform] = {}
    for lvl in levels:
        if lvl is ref:
            scale, theta, trans = ref_scale, 0.0, (0.0, 0.0)
        else:
            scale, theta, trans = _align_level(lvl, ref_fiducials, ref_scale, fname)
        plan = _floor_plan(lvl, scale, theta, trans, path)
        result[lvl.name] = _Transform(_pixel_mapper(scale, theta, trans), theta, plan)
    return result


def _pixel_mapper(scale: float, theta: float, trans: Point) -> Callable[[float, float], Point]:
    c, s = math.cos(theta), math.sin(theta)

    def to_metres(u: float, v: float) -> Point:
        px, py = scale * u, -scale * v
        return trans[0] + c * px - s * py, trans[1] + s * px + c * py

    return to_metres


def _scale_from_measurements(level: _RawLevel, fname: str) -> float | None:
    ratios = []
    for i, meas in enumerate(level.yaml.get("measurements") or []):
        element = f"measurements[{i}]"
        a, b, params = _edge(meas, level, fname, element)
        distance = params.get("distance")
        if not isinstance(distance, int | float) or isinstance(distance, bool) or distance <= 0:
            raise SiteImportError(
                f"measurement distance must be a positive number, got {distance!r}",
                file=fname,
                level=level.name,
                element=element,
            )
        (ax, ay), (bx, by) = level.vertices[a][:2], level.vertices[b][:2]
        pixels = math.hypot(ax - bx, ay - by)
        if pixels == 0:
            raise SiteImportError(
                "measurement joins two coincident vertices",
                file=fname,
                level=level.name,
                element=element,
            )
        ratios.append(float(distance) / pixels)
    return sum(ratios) / len(ratios) if ratios else None


def _fiducials(level: _RawLevel, fname: str) -> dict[str, Point]:
    out: dict[str, Point] = {}
    for i, fid in enumerate(level.yaml.get("fiducials") or []):
        element = f"fiducials[{i}]"
        if not isinstance(fid, list) or len(fid) < 3:
            raise SiteImportError(
                "expected [x, y, name]", file=fname, level=level.name, element=element
            )
        u = _number(fid[0], fname, level.name, element)
        v = _number(fid[1], fname, level.name, element)
        if str(fid[2]):
            out[str(fid[2])] = (u, v)
    return out


def _align_level(
    level: _RawLevel, ref_fiducials: dict[str, Point], ref_scale: float, fname: str
) -> tuple[float, float, Point]:
    """Scale, rotation and translation of a non-reference level's pixels into ref metres."""
    own = _fiducials(level, fname)
    shared = sorted(set(own) & set(ref_fiducials))
    if len(shared) >= 2:
        src = [(own[k][0], -own[k][1]) for k in shared]
        dst = [(ref_scale * ref_fiducials[k][0], -ref_scale * ref_fiducials[k][1]) for k in shared]
        try:
            return fit_similarity(src, dst)
        except ValueError as exc:
            raise SiteImportError(
                str(exc), file=fname, level=level.name, element="fiducials"
            ) from exc
    scale = _scale_from_measurements(level, fname)
    if scale is None:
        raise SiteImportError(
            "level has no measurements and shares fewer than two fiducials with the "
            "reference level, so pixels cannot be scaled to metres",
            file=fname,
            level=level.name,
            element="measurements",
        )
    return scale, 0.0, (0.0, 0.0)


def _floor_plan(
    level: _RawLevel, scale: float, theta: float, trans: Point, path: Path
) -> FloorPlan | None:
    drawing = _drawing(level, path)
    if drawing is None:
        return None
    filename, width, height = drawing
    return FloorPlan(
        image=filename,
        width_px=width,
        height_px=height,
        scale_m_per_px=scale,
        rotation_rad=theta,
        translation_m=trans,
    )


def _drawing(level: _RawLevel, path: Path) -> tuple[str, int, int] | None:
    """(file name, width, height) of the level's floor-plan image, if it names one."""
    drawing = level.yaml.get("drawing")
    filename = drawing.get("filename") if isinstance(drawing, dict) else None
    if not filename:
        return None
    image_path = path.parent / str(filename)
    if not image_path.is_file():
        raise SiteImportError(
            f"floor-plan image {filename!r} not found next to the map",
            file=path.name,
            level=level.name,
            element="drawing.filename",
        )
    try:
        with Image.open(image_path) as img:
            width, height = img.size
    except (OSError, UnidentifiedImageError) as exc:
        raise SiteImportError(
            f"floor-plan image {filename!r} is not a readable image: {exc}",
            file=path.name,
            level=level.name,
            element="drawing.filename",
        ) from exc
    return str(filename), width, height


# --- level contents -------------------------------------------------------------------------


def _edge(raw: Any, level: _RawLevel, fname: str, element: str) -> tuple[int, int, dict[str, Any]]:
    if not isinstance(raw, list) or len(raw) < 2:
        raise SiteImportError(
            "expected [start, end, {params}]", file=fname, level=level.name, element=element
        )
    count = len(level.vertices)
    ends = []
    for value in raw[:2]:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SiteImportError(
                f"vertex index must be an integer, got {value!r}",
                file=fname,
                level=level.name,
                element=element,
            )
        if not 0 <= value < count:
            raise SiteImportError(
                f"refers to vertex {value}, but the level has {count} vertices (0..{count - 1})",
                file=fname,
                level=level.name,
                element=element,
            )
        ends.append(value)
    params = _params(raw[2] if len(raw) > 2 else None, fname, level.name, element)
    return ends[0], ends[1], params


def _build_level(raw: _RawLevel, transform: _Transform, fname: str) -> Level:
    metres = [transform.to_metres(v[0], v[1]) for v in raw.vertices]
    lanes_raw = [
        _edge(e, raw, fname, f"lanes[{i}]") for i, e in enumerate(raw.yaml.get("lanes") or [])
    ]
    doors = [
        _door(_edge(e, raw, fname, f"doors[{i}]"), metres, i)
        for i, e in enumerate(raw.yaml.get("doors") or [])
    ]
    walls = [
        _wall(_edge(e, raw, fname, f"walls[{i}]"), metres)
        for i, e in enumerate(raw.yaml.get("walls") or [])
    ]
    keep = {i for a, b, _ in lanes_raw for i in (a, b)}
    keep |= {i for i, v in enumerate(raw.vertices) if _is_flagged(v[3])}
    waypoints = [_waypoint(raw, i, metres[i]) for i in sorted(keep)]
    lanes = [_lane(raw.name, a, b, p, metres, doors) for a, b, p in lanes_raw]
    return Level(
        name=raw.name,
        elevation_m=_number(raw.yaml.get("elevation", 0.0), fname, raw.name, "elevation"),
        floor_plan=transform.plan,
        waypoints=tuple(waypoints),
        lanes=tuple(lanes),
        doors=tuple(doors),
        walls=tuple(walls),
        floors=tuple(_floors(raw, metres, fname)),
    )


def _is_flagged(params: Mapping[str, Any]) -> bool:
    return any(params.get(flag) is True for flag in _NAV_FLAGS) or bool(params.get("dock_name"))


def waypoint_id(level: str, index: int) -> str:
    """Site-unique waypoint id for vertex ``index`` of ``level`` in an RMF file."""
    return f"{level}:{index}"


def _waypoint(raw: _RawLevel, index: int, xy: Point) -> Waypoint:
    _, _, name, params = raw.vertices[index]
    extra = {
        k: v
        for k, v in params.items()
        if k not in (*_NAV_FLAGS, "dock_name") and isinstance(v, bool | int | float | str)
    }
    return Waypoint(
        id=waypoint_id(raw.name, index),
        name=name,
        level=raw.name,
        x=xy[0],
        y=xy[1],
        is_charger=params.get("is_charger") is True,
        is_parking_spot=params.get("is_parking_spot") is True,
        is_holding_point=params.get("is_holding_point") is True,
        dock_name=str(params.get("dock_name") or ""),
        params=extra,
    )


def _lane(
    level: str,
    a: int,
    b: int,
    params: Mapping[str, Any],
    metres: Sequence[Point],
    doors: Sequence[Door],
) -> Lane:
    speed = params.get("speed_limit")
    orientation = str(params.get("orientation") or "")
    crossed = next(
        (d.name for d in doors if segments_intersect(metres[a], metres[b], d.start, d.end)), ""
    )
    return Lane(
        start=waypoint_id(level, a),
        end=waypoint_id(level, b),
        bidirectional=params.get("bidirectional") is True,
        # RMF writes speed_limit 0 for "no limit".
        speed_limit_m_s=float(speed) if isinstance(speed, int | float) and speed > 0 else None,
        mutex_group=str(params.get("mutex") or ""),
        door=crossed,
        orientation=orientation if orientation in ("forward", "backward") else "",
        graph=int(params.get("graph_idx") or 0),
    )


def _door(edge: tuple[int, int, dict[str, Any]], metres: Sequence[Point], index: int) -> Door:
    a, b, params = edge
    return Door(
        name=str(params.get("name") or f"door_{index}"),
        kind=str(params.get("type") or "hinged"),
        start=metres[a],
        end=metres[b],
    )


def _wall(edge: tuple[int, int, dict[str, Any]], metres: Sequence[Point]) -> Wall:
    a, b, params = edge
    height = params.get("texture_height")
    if isinstance(height, int | float) and not isinstance(height, bool) and height > 0:
        return Wall(start=metres[a], end=metres[b], height_m=float(height))
    return Wall(start=metres[a], end=metres[b])


def _floors(raw: _RawLevel, metres: Sequence[Point], fname: str) -> list[tuple[Point, ...]]:
    out = []
    for i, floor in enumerate(raw.yaml.get("floors") or []):
        element = f"floors[{i}]"
        indices = floor.get("vertices") if isinstance(floor, dict) else None
        if not isinstance(indices, list):
            raise SiteImportError(
                "floor needs a vertex list", file=fname, level=raw.name, element=element
            )
        for idx in indices:
            if isinstance(idx, bool) or not isinstance(idx, int) or not 0 <= idx < len(metres):
                raise SiteImportError(
                    f"refers to missing vertex {idx!r}", file=fname, level=raw.name, element=element
                )
        if len(indices) >= 3:
            out.append(tuple(metres[idx] for idx in indices))
    return out


# --- lifts ----------------------------------------------------------------------------------


def _build_lifts(
    doc: Mapping[str, Any],
    fname: str,
    levels: Sequence[Level],
    transforms: Mapping[str, _Transform],
    ref_name: str,
    raw_levels: Sequence[_RawLevel],
    wait_s: float,
    per_floor_s: float,
) -> list[Lift]:
    lifts_yaml = doc.get("lifts") or {}
    if not isinstance(lifts_yaml, dict):
        raise SiteImportError("lifts must be a mapping", file=fname, element="lifts")
    raw_by_name = {r.name: r for r in raw_levels}
    result = []
    for lift_name, spec in lifts_yaml.items():
        element = f"lifts.{lift_name}"
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
            k: _number(spec.get(k), fname, None, f"{element}.{k}")
            for k in ("x", "y", "width", "depth")
        }
        yaw = _number(spec.get("yaw", 0.0), fname, None, f"{element}.yaw")
        transform = transforms[ref]
        x, y = transform.to_metres(num["x"], num["y"])
        served = [lvl.name for lvl in levels if lvl.name in {str(k) for k in level_doors}]
        lift = Lift(
            name=str(lift_name),
            levels=tuple(served),
            level_doors={str(k): tuple(str(d) for d in (v or [])) for k, v in level_doors.items()},
            doors=tuple(_lift_doors(spec.get("doors"), fname, element)),
            x=x,
            y=y,
            yaw_rad=yaw + transform.rotation_rad,
            cabin_width_m=num["width"],
            cabin_depth_m=num["depth"],
            travel_time_per_floor_s=per_floor_s,
            wait_time_s=wait_s,
            waypoints={},
        )
        cabin = {
            lvl.name: _cabin_waypoints(lift, lvl, raw_by_name[lvl.name])
            for lvl in levels
            if lvl.name in served
        }
        result.append(lift.model_copy(update={"waypoints": {k: v for k, v in cabin.items() if v}}))
    return result


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
                width_m=_number(spec.get("width"), fname, None, f"{el}.width"),
                x=_number(spec.get("x", 0.0), fname, None, f"{el}.x"),
                y=_number(spec.get("y", 0.0), fname, None, f"{el}.y"),
            )
        )
    return doors


def _cabin_waypoints(lift: Lift, level: Level, raw: _RawLevel) -> tuple[str, ...]:
    c, s = math.cos(lift.yaw_rad), math.sin(lift.yaw_rad)
    half_w = lift.cabin_width_m / 2 + _LIFT_SHAFT_GAP_M
    half_d = lift.cabin_depth_m / 2 + _LIFT_SHAFT_GAP_M
    inside = []
    for wp in level.waypoints:
        index = int(wp.id.rsplit(":", 1)[1])
        explicit = raw.vertices[index][3].get("lift_cabin") == lift.name
        dx, dy = wp.x - lift.x, wp.y - lift.y
        local_x, local_y = c * dx + s * dy, -s * dx + c * dy
        if explicit or (abs(local_x) <= half_w and abs(local_y) <= half_d):
            inside.append(wp.id)
    return tuple(inside)

"""Open-RMF ``*.building.yaml`` importer (the traffic-editor format).

Format notes (as read and written by rmf_traffic_editor / rmf_building_map_tools):

- ``coordinate_system``: ``reference_image`` (default; vertices in image pixels, y down),
  ``cartesian_meters`` (metres, y up) or ``wgs84`` (x = longitude, y = latitude).
- Every parameter is a ``[type, value]`` pair: 1 string, 2 int, 3 double, 4 bool.
- Edges (lanes, walls, doors, measurements) are ``[start_index, end_index, {params}]`` into
  the level's ``vertices``; a vertex is ``[x, y, z, name, {params}]``.
- Coordinates: see :mod:`missions.sites.rmf_frames`; lifts: :mod:`missions.sites.rmf_lifts`.

The nav graph keeps the vertices that end a lane plus flagged vertices (charger, parking
spot, holding point, dock); named vertices off every lane are not navigable and are dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from missions.sites.errors import SiteImportError, from_validation_error
from missions.sites.geometry import segments_intersect
from missions.sites.model import Door, Lane, Level, Point, Site, SiteKind, Wall, Waypoint
from missions.sites.navcheck import check_graph_connected
from missions.sites.rmf_frames import (
    SUPPORTED_SYSTEMS,
    LevelTransform,
    geo_reference,
    level_transforms,
)
from missions.sites.rmf_lifts import build_lifts
from missions.sites.rmf_parse import (
    RawLevel,
    by_elevation,
    edge,
    load_building_yaml,
    number,
    raw_levels,
)

logger = logging.getLogger(__name__)

_NAV_FLAGS = ("is_charger", "is_parking_spot", "is_holding_point")


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
    try:
        return _import(path, name, kind, geo_anchor, lift_wait_s, lift_travel_per_floor_s)
    except ValidationError as exc:
        raise from_validation_error(exc, file=path.name) from exc


def _import(
    path: Path,
    name: str | None,
    kind: SiteKind | str | None,
    geo_anchor: Point | None,
    lift_wait_s: float,
    lift_travel_per_floor_s: float,
) -> Site:
    fname = path.name
    doc = load_building_yaml(path)
    system = str(doc.get("coordinate_system", "reference_image"))
    if system not in SUPPORTED_SYSTEMS:
        raise SiteImportError(
            f"unsupported coordinate_system {system!r} (supported: {', '.join(SUPPORTED_SYSTEMS)})",
            file=fname,
            element="coordinate_system",
        )
    raws = raw_levels(doc, fname)
    ref_name = str(doc.get("reference_level_name") or raws[0].name)
    by_name = {lvl.name: lvl for lvl in raws}
    if ref_name not in by_name:
        raise SiteImportError(
            f"reference level {ref_name!r} is not among the levels",
            file=fname,
            element="reference_level_name",
        )
    geo = geo_reference(system, raws, geo_anchor)
    transforms = level_transforms(system, raws, by_name[ref_name], geo, path)
    levels = [_build_level(raw, transforms[raw.name], fname) for raw in by_elevation(raws, fname)]
    lifts = build_lifts(
        doc,
        fname,
        levels,
        transforms,
        ref_name,
        wait_s=lift_wait_s,
        per_floor_s=lift_travel_per_floor_s,
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


# --- level contents ----------------------------------------------------------------------


def _build_level(raw: RawLevel, transform: LevelTransform, fname: str) -> Level:
    metres = [transform.to_metres(v[0], v[1]) for v in raw.vertices]
    lanes_raw = [
        edge(e, raw, fname, f"lanes[{i}]") for i, e in enumerate(raw.yaml.get("lanes") or [])
    ]
    doors = [
        _door(edge(e, raw, fname, f"doors[{i}]"), metres, i)
        for i, e in enumerate(raw.yaml.get("doors") or [])
    ]
    walls = [
        _wall(edge(e, raw, fname, f"walls[{i}]"), metres)
        for i, e in enumerate(raw.yaml.get("walls") or [])
    ]
    keep = {i for a, b, _ in lanes_raw for i in (a, b)}
    keep |= {i for i, v in enumerate(raw.vertices) if _is_flagged(v[3])}
    waypoints = [_waypoint(raw, i, metres[i]) for i in sorted(keep)]
    lanes = [
        _lane(raw.name, a, b, p, metres, doors, fname, f"lanes[{i}]")
        for i, (a, b, p) in enumerate(lanes_raw)
    ]
    return Level(
        name=raw.name,
        elevation_m=number(raw.yaml.get("elevation", 0.0), fname, raw.name, "elevation"),
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


def _waypoint(raw: RawLevel, index: int, xy: Point) -> Waypoint:
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
    fname: str,
    element: str,
) -> Lane:
    graph = params.get("graph_idx", 0)
    if isinstance(graph, bool) or not isinstance(graph, int) or graph < 0:
        raise SiteImportError(
            f"graph_idx must be a non-negative integer, got {graph!r}",
            file=fname,
            level=level,
            element=element,
        )
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
        graph=graph,
    )


def _door(parsed: tuple[int, int, dict[str, Any]], metres: Sequence[Point], index: int) -> Door:
    a, b, params = parsed
    return Door(
        name=str(params.get("name") or f"door_{index}"),
        kind=str(params.get("type") or "hinged"),
        start=metres[a],
        end=metres[b],
    )


def _wall(parsed: tuple[int, int, dict[str, Any]], metres: Sequence[Point]) -> Wall:
    a, b, params = parsed
    height = params.get("texture_height")
    if isinstance(height, int | float) and not isinstance(height, bool) and height > 0:
        return Wall(start=metres[a], end=metres[b], height_m=float(height))
    return Wall(start=metres[a], end=metres[b])


def _floors(raw: RawLevel, metres: Sequence[Point], fname: str) -> list[tuple[Point, ...]]:
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

"""Coordinate frames of an Open-RMF building: pixels or lon/lat to level metres.

- ``reference_image``: the reference level's scale is the mean over its ``measurements`` of
  (distance / pixel length) and the image y axis flips; other levels are aligned to the
  reference level by a least-squares similarity fit on the fiducials they share with it (at
  least two), else scaled by their own measurements.
- ``wgs84``: vertices are (lon, lat), projected into the site's local frame.
- ``cartesian_meters``: vertices are already metres.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from missions.sites.errors import SiteImportError
from missions.sites.geometry import fit_similarity
from missions.sites.model import DEFAULT_GEO_ANCHOR, FloorPlan, GeoReference, Point
from missions.sites.rmf_parse import RawLevel, edge, number

SUPPORTED_SYSTEMS = ("reference_image", "cartesian_meters", "wgs84")


@dataclass
class LevelTransform:
    """Raw file coordinates -> level metres, plus the level's floor plan if drawn in pixels."""

    to_metres: Callable[[float, float], Point]
    rotation_rad: float = 0.0
    plan: FloorPlan | None = None


def geo_reference(system: str, levels: list[RawLevel], geo_anchor: Point | None) -> GeoReference:
    """The site geo-reference: WGS84 maps anchor at their bbox centre, others at ``geo_anchor``."""
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


def level_transforms(
    system: str,
    levels: list[RawLevel],
    ref: RawLevel,
    geo: GeoReference,
    path: Path,
) -> dict[str, LevelTransform]:
    """Per level, the map from raw file coordinates to level metres (and its floor plan)."""
    fname = path.name
    if system != "reference_image":
        for lvl in levels:
            # Plans of metric maps carry no pixel scale here; still refuse a dangling name.
            _drawing(lvl, path)
    if system == "wgs84":
        return {lvl.name: LevelTransform(geo.from_wgs84) for lvl in levels}
    if system == "cartesian_meters":
        return {lvl.name: LevelTransform(lambda x, y: (x, y)) for lvl in levels}
    ref_scale = _scale_from_measurements(ref, fname)
    if ref_scale is None:
        raise SiteImportError(
            "reference level has no measurements, so pixels cannot be scaled to metres",
            file=fname,
            level=ref.name,
            element="measurements",
        )
    ref_fiducials = _fiducials(ref, fname)
    result: dict[str, LevelTransform] = {}
    for lvl in levels:
        if lvl is ref:
            scale, theta, trans = ref_scale, 0.0, (0.0, 0.0)
        else:
            scale, theta, trans = _align_level(lvl, ref_fiducials, ref_scale, fname)
        plan = _floor_plan(lvl, scale, theta, trans, path)
        result[lvl.name] = LevelTransform(_pixel_mapper(scale, theta, trans), theta, plan)
    return result


def _pixel_mapper(scale: float, theta: float, trans: Point) -> Callable[[float, float], Point]:
    c, s = math.cos(theta), math.sin(theta)

    def to_metres(u: float, v: float) -> Point:
        px, py = scale * u, -scale * v
        return trans[0] + c * px - s * py, trans[1] + s * px + c * py

    return to_metres


def _scale_from_measurements(level: RawLevel, fname: str) -> float | None:
    ratios = []
    for i, meas in enumerate(level.yaml.get("measurements") or []):
        element = f"measurements[{i}]"
        a, b, params = edge(meas, level, fname, element)
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


def _fiducials(level: RawLevel, fname: str) -> dict[str, Point]:
    out: dict[str, Point] = {}
    for i, fid in enumerate(level.yaml.get("fiducials") or []):
        element = f"fiducials[{i}]"
        if not isinstance(fid, list) or len(fid) < 3:
            raise SiteImportError(
                "expected [x, y, name]", file=fname, level=level.name, element=element
            )
        u = number(fid[0], fname, level.name, element)
        v = number(fid[1], fname, level.name, element)
        if str(fid[2]):
            out[str(fid[2])] = (u, v)
    return out


def _align_level(
    level: RawLevel, ref_fiducials: dict[str, Point], ref_scale: float, fname: str
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
    level: RawLevel, scale: float, theta: float, trans: Point, path: Path
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


def _drawing(level: RawLevel, path: Path) -> tuple[str, int, int] | None:
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

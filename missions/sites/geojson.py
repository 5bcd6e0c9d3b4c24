"""GeoJSON export of a site (RFC 7946), in WGS84 or GCJ-02 for Chinese basemaps.

RFC 7946 points honoured: positions are [longitude, latitude] (§3.1.1), at most 7 decimals
(§11.2 suggests 6-7 for ~1-10 cm precision), polygon rings are closed with at least four
positions, exterior rings counter-clockwise and holes clockwise (§3.1.6), the collection has
a bbox [west, south, east, north] (§5), and no ``crs`` member (§4). GCJ-02 output breaks
§4 on purpose (Amap/Tencent basemaps need it); it is marked with the foreign member
``coordinate_system``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np

from missions.sites.geodesy import wgs84_to_gcj02
from missions.sites.geometry import convex_hull, signed_area
from missions.sites.model import Level, Point, Site
from missions.sites.summary import site_points

logger = logging.getLogger(__name__)

_DECIMALS = 7
Position = list[float]


def site_geojson(site: Site, *, crs: Literal["wgs84", "gcj02"] = "wgs84") -> dict[str, Any]:
    """A FeatureCollection with the site outline and, per level, waypoints, lanes, doors, zones.

    Every feature has ``properties.feature_type``; level features carry ``properties.level``.
    """
    if crs not in ("wgs84", "gcj02"):
        raise ValueError(f"crs must be 'wgs84' or 'gcj02', got {crs!r}")
    project = _projector(site, crs)
    features: list[dict[str, Any]] = []
    outline = _outline(site)
    if outline:
        ring = _ring(project(outline), clockwise=False)
        if ring:
            features.append(
                _feature(
                    {"type": "Polygon", "coordinates": [ring]},
                    {"feature_type": "site_outline", "name": site.name, "kind": site.kind.value},
                )
            )
    for level in site.levels:
        features += _level_features(level, project)
    return {
        "type": "FeatureCollection",
        "bbox": _bbox(features, site),
        "coordinate_system": crs,
        "name": site.name,
        "features": features,
    }


def _projector(site: Site, crs: str) -> Callable[[Sequence[Point]], list[Position]]:
    geo = site.geo_reference

    def project(points: Sequence[Point]) -> list[Position]:
        if not points:
            return []
        lons, lats = geo.to_wgs84_many([p[0] for p in points], [p[1] for p in points])
        out = []
        for lon, lat in zip(lons.tolist(), lats.tolist(), strict=True):
            if crs == "gcj02":
                lon, lat = wgs84_to_gcj02(lon, lat)
            out.append([round(lon, _DECIMALS), round(lat, _DECIMALS)])
        return out

    return project


def _outline(site: Site) -> list[Point]:
    points = site_points(site)
    if not points:
        return []
    hull = convex_hull(points)
    if len(hull) >= 3 and abs(signed_area(hull)) > 1e-6:
        return hull
    # Degenerate sites (a single lane) still get an outline: their bounding box plus 0.5 m.
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    w, s, e, n = min(xs) - 0.5, min(ys) - 0.5, max(xs) + 0.5, max(ys) + 0.5
    return [(w, s), (e, s), (e, n), (w, n)]


def _ring(positions: list[Position], *, clockwise: bool) -> list[Position] | None:
    """Closed ring with the requested winding, or None if rounding collapsed it."""
    ring: list[Position] = []
    for p in positions:
        if not ring or p != ring[-1]:
            ring.append(p)
    if len(ring) > 1 and ring[0] == ring[-1]:
        ring.pop()
    if len(ring) < 3:
        return None
    area = signed_area([(p[0], p[1]) for p in ring])
    if area == 0:
        return None
    if (area < 0) != clockwise:
        ring.reverse()
    ring.append(list(ring[0]))
    return ring


def _feature(geometry: dict[str, Any], properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def _level_features(
    level: Level, project: Callable[[Sequence[Point]], list[Position]]
) -> list[dict[str, Any]]:
    features = []
    positions = project([(wp.x, wp.y) for wp in level.waypoints])
    where = {}
    for wp, pos in zip(level.waypoints, positions, strict=True):
        where[wp.id] = pos
        props: dict[str, Any] = {
            "feature_type": "waypoint",
            "level": level.name,
            "id": wp.id,
            "name": wp.name,
            "is_charger": wp.is_charger,
            "is_parking_spot": wp.is_parking_spot,
            "is_holding_point": wp.is_holding_point,
            "dock_name": wp.dock_name,
        }
        features.append(_feature({"type": "Point", "coordinates": pos}, props))
    for lane in level.lanes:
        props = {"feature_type": "lane", "level": level.name, **lane.model_dump()}
        line = [where[lane.start], where[lane.end]]
        features.append(_feature({"type": "LineString", "coordinates": line}, props))
    for door in level.doors:
        props = {"feature_type": "door", "level": level.name, "name": door.name, "kind": door.kind}
        line = project([door.start, door.end])
        features.append(_feature({"type": "LineString", "coordinates": line}, props))
    for zone in level.zones:
        outer = _ring(project(zone.polygon), clockwise=False)
        if outer is None:
            logger.warning(
                "zone %s on level %s too small for 7 decimals; skipped", zone.name, level.name
            )
            continue
        holes = [h for h in (_ring(project(hole), clockwise=True) for hole in zone.holes) if h]
        props = {
            "feature_type": "zone",
            "level": level.name,
            "name": zone.name,
            "kind": zone.kind.value,
            "robot_kinds": list(zone.robot_kinds),
        }
        features.append(_feature({"type": "Polygon", "coordinates": [outer, *holes]}, props))
    return features


def _bbox(features: list[dict[str, Any]], site: Site) -> list[float]:
    coords: list[Position] = []
    for feature in features:
        geometry = feature["geometry"]
        kind = geometry["type"]
        if kind == "Point":
            coords.append(geometry["coordinates"])
        elif kind == "LineString":
            coords += geometry["coordinates"]
        elif kind == "Polygon":
            for ring in geometry["coordinates"]:
                coords += ring
    if not coords:
        lon = round(site.geo_reference.anchor_lon, _DECIMALS)
        lat = round(site.geo_reference.anchor_lat, _DECIMALS)
        return [lon, lat, lon, lat]
    arr = np.array(coords, dtype=np.float64)
    return [
        float(arr[:, 0].min()),
        float(arr[:, 1].min()),
        float(arr[:, 0].max()),
        float(arr[:, 1].max()),
    ]

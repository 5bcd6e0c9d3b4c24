"""Import any supported map file, and summarise a site for people and the CLI."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from missions.sites.errors import SiteImportError
from missions.sites.grid_import import import_occupancy_grid
from missions.sites.model import Point, Site
from missions.sites.rmf import import_rmf_building

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def import_site(path: str | Path, **kwargs: Any) -> Site:
    """Import an Open-RMF ``*.building.yaml`` or a map_server YAML (+ image) as a Site.

    Keyword arguments go to :func:`import_rmf_building` or :func:`import_occupancy_grid`
    (``name``, ``kind`` and ``geo_anchor`` work for both).
    """
    path = Path(path)
    if path.name.endswith(".building.yaml"):
        return import_rmf_building(path, **kwargs)
    if path.suffix.lower() not in (".yaml", ".yml"):
        raise SiteImportError(
            "unsupported map file: expected *.building.yaml (Open-RMF) or a map_server *.yaml",
            file=path.name,
            element="file type",
        )
    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)  # noqa: S506
    except (OSError, UnicodeDecodeError) as exc:
        raise SiteImportError(f"cannot read file: {exc}", file=path.name) from exc
    except (yaml.YAMLError, ValueError):
        doc = None  # let the importer report the exact position
    if isinstance(doc, dict) and "levels" in doc:
        return import_rmf_building(path, **kwargs)
    if isinstance(doc, dict) and "image" in doc and "resolution" in doc:
        return import_occupancy_grid(path, **kwargs)
    if doc is None:
        return import_rmf_building(path, **kwargs)
    raise SiteImportError(
        "neither an Open-RMF building (no 'levels') nor a map_server map (no 'image'/'resolution')",
        file=path.name,
        element="document",
    )


def site_points(site: Site) -> list[Point]:
    """Every point of the site's drawn geometry in level metres (all levels)."""
    points: list[Point] = []
    for level in site.levels:
        points += [(wp.x, wp.y) for wp in level.waypoints]
        for zone in level.zones:
            points += list(zone.polygon)
        for door in level.doors:
            points += [door.start, door.end]
        for wall in level.walls:
            points += [wall.start, wall.end]
        for floor in level.floors:
            points += list(floor)
    return points


def site_bbox_wgs84(site: Site) -> list[float]:
    """[west, south, east, north] in degrees, widened outward to 7 decimals."""
    points = site_points(site)
    if not points:
        lon, lat = site.geo_reference.anchor_lon, site.geo_reference.anchor_lat
        return [lon, lat, lon, lat]
    lons, lats = site.geo_reference.to_wgs84_many([p[0] for p in points], [p[1] for p in points])
    scale = 1e7
    return [
        math.floor(float(np.min(lons)) * scale) / scale,
        math.floor(float(np.min(lats)) * scale) / scale,
        math.ceil(float(np.max(lons)) * scale) / scale,
        math.ceil(float(np.max(lats)) * scale) / scale,
    ]


def site_summary(site: Site) -> dict[str, Any]:
    """The import summary: per-level graph counts, lifts, zones and the WGS84 bbox.

    ``lanes`` counts lanes as listed (a bidirectional lane once); ``waypoints`` the distinct
    waypoints ending at least one lane; ``named_waypoints`` those with a name; ``chargers``
    every charger waypoint of the level.
    """
    levels = []
    for level in site.levels:
        on_lanes = {end for lane in level.lanes for end in (lane.start, lane.end)}
        levels.append(
            {
                "name": level.name,
                "waypoints": len(on_lanes),
                "named_waypoints": sum(
                    1 for wp in level.waypoints if wp.id in on_lanes and wp.name
                ),
                "lanes": len(level.lanes),
                "doors": len(level.doors),
                "chargers": sum(1 for wp in level.waypoints if wp.is_charger),
            }
        )
    return {
        "name": site.name,
        "kind": site.kind.value,
        "levels": levels,
        "lifts": len(site.lifts),
        "zones": sum(len(level.zones) for level in site.levels),
        "bbox_wgs84": site_bbox_wgs84(site),
    }

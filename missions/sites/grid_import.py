"""Build a Site from a ROS map_server occupancy grid and an optional keep-out filter mask.

A keep-out mask (nav2 costmap filters, KeepoutFilter) is itself a map_server map of the same
geometry: mask cells at 100 are lethal (keep-out), cells in 1..99 raise the cost (here:
restricted zones), 0 and unknown change nothing. Cells already occupied in the base map are
walls, not zones, so only mask cells that the base map leaves passable become zones.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
from scipy import ndimage

from missions.sites.contours import mask_polygons
from missions.sites.errors import SiteImportError
from missions.sites.model import (
    DEFAULT_GEO_ANCHOR,
    FloorPlan,
    GeoReference,
    Lane,
    Level,
    Point,
    Site,
    SiteKind,
    Waypoint,
    Zone,
    ZoneKind,
)
from missions.sites.navcheck import check_graph_connected
from missions.sites.occupancy import FREE, OCCUPIED, OccupancyGrid, load_occupancy_grid
from missions.sites.roadmap import RoadmapError, build_roadmap

logger = logging.getLogger(__name__)


def import_occupancy_grid(
    yaml_path: str | Path,
    *,
    keepout_yaml: str | Path | None = None,
    clearance_m: float = 0.3,
    spacing_m: float = 1.0,
    min_region_m2: float = 1.0,
    name: str | None = None,
    kind: SiteKind | str | None = None,
    geo_anchor: Point | None = None,
    level_name: str = "L1",
) -> Site:
    """Import a map_server map as a one-level site with an automatic roadmap.

    ``clearance_m``: lanes keep at least this distance (cell centre to cell centre) from
    any occupied, unknown or keep-out cell. ``spacing_m``: roadmap node spacing.
    ``min_region_m2``: free pockets smaller than this are ignored; a second larger one is an
    error (the free space would be disconnected).
    """
    if clearance_m < 0 or spacing_m <= 0 or min_region_m2 < 0:
        raise ValueError("clearance_m >= 0, spacing_m > 0 and min_region_m2 >= 0 are required")
    yaml_path = Path(yaml_path)
    fname = yaml_path.name
    grid = load_occupancy_grid(yaml_path)
    keepout = np.zeros(grid.values.shape, dtype=np.bool_)
    restricted = np.zeros(grid.values.shape, dtype=np.bool_)
    if keepout_yaml is not None:
        mask = _load_mask(Path(keepout_yaml), grid)
        passable = grid.values != OCCUPIED
        keepout = _absorb_blocked_holes((mask.values == OCCUPIED) & passable, grid)
        restricted = _absorb_blocked_holes(
            (mask.values > FREE) & (mask.values < OCCUPIED) & passable, grid
        )
    res = grid.meta.resolution
    try:
        roadmap = build_roadmap(
            (grid.values != FREE) | keepout,
            clearance_cells=clearance_m / res,
            spacing_cells=max(1, round(spacing_m / res)),
            min_region_cells=math.ceil(min_region_m2 / (res * res)),
        )
    except RoadmapError as exc:
        element = "free space"
        if exc.where is not None:
            x, y = grid.corner_to_map(exc.where[1] + 0.5, exc.where[0] + 0.5)
            element = f"free space near ({float(x):.2f}, {float(y):.2f}) m"
        raise SiteImportError(
            f"{exc} at clearance {clearance_m} m", file=fname, level=level_name, element=element
        ) from exc
    rows = np.array([n[0] for n in roadmap.nodes], dtype=np.float64)
    cols = np.array([n[1] for n in roadmap.nodes], dtype=np.float64)
    xs, ys = grid.corner_to_map(cols + 0.5, rows + 0.5)
    waypoints = tuple(
        Waypoint(id=f"{level_name}:{i}", level=level_name, x=float(x), y=float(y))
        for i, (x, y) in enumerate(zip(xs.tolist(), ys.tolist(), strict=True))
    )
    lanes = tuple(
        Lane(start=f"{level_name}:{a}", end=f"{level_name}:{b}", bidirectional=True)
        for a, b in roadmap.edges
    )
    zones = _zones(grid, keepout, ZoneKind.KEEP_OUT, "keepout") + _zones(
        grid, restricted, ZoneKind.RESTRICTED, "restricted"
    )
    lon, lat = geo_anchor or DEFAULT_GEO_ANCHOR
    site = Site(
        name=name or yaml_path.stem,
        kind=SiteKind(kind) if kind is not None else SiteKind.PUBLIC_SPACE,
        levels=(
            Level(
                name=level_name,
                floor_plan=_floor_plan(grid),
                waypoints=waypoints,
                lanes=lanes,
                zones=zones,
            ),
        ),
        geo_reference=GeoReference(anchor_lon=lon, anchor_lat=lat),
        source_file=fname,
        source_format="occupancy_grid",
    )
    check_graph_connected(site, fname, per_graph=False)
    logger.info(
        "imported occupancy grid %s: %s waypoints, %s lanes, %s zones",
        fname,
        len(waypoints),
        len(lanes),
        len(zones),
    )
    return site


def _load_mask(path: Path, grid: OccupancyGrid) -> OccupancyGrid:
    mask = load_occupancy_grid(path)
    if mask.values.shape != grid.values.shape:
        raise SiteImportError(
            f"keep-out mask is {mask.width}x{mask.height} cells, the map is "
            f"{grid.width}x{grid.height}",
            file=path.name,
            element="image size",
        )
    if not math.isclose(mask.meta.resolution, grid.meta.resolution, rel_tol=1e-9):
        raise SiteImportError(
            f"keep-out mask resolution {mask.meta.resolution} differs from the map's "
            f"{grid.meta.resolution}",
            file=path.name,
            element="resolution",
        )
    if any(abs(a - b) > 1e-9 for a, b in zip(mask.meta.origin, grid.meta.origin, strict=True)):
        raise SiteImportError(
            f"keep-out mask origin {list(mask.meta.origin)} differs from the map's "
            f"{list(grid.meta.origin)}",
            file=path.name,
            element="origin",
        )
    return mask


def _absorb_blocked_holes(
    cells: np.typing.NDArray[np.bool_], grid: OccupancyGrid
) -> np.typing.NDArray[np.bool_]:
    """Fill holes of a zone mask that contain no free cell (furniture drawn inside a painted
    keep-out area), so the zone is one outline instead of a ring around every obstacle."""
    holes = ndimage.binary_fill_holes(cells) & ~cells
    labels, count = ndimage.label(holes)
    if count == 0:
        return cells
    free_per_hole = np.bincount(
        labels.ravel(), weights=(grid.values == FREE).ravel(), minlength=count + 1
    )
    absorb = free_per_hole == 0
    absorb[0] = False
    result: np.typing.NDArray[np.bool_] = cells | absorb[labels]
    return result


def _zones(
    grid: OccupancyGrid, cells: np.typing.NDArray[np.bool_], kind: ZoneKind, prefix: str
) -> tuple[Zone, ...]:
    zones = []
    for k, (outer, holes) in enumerate(mask_polygons(cells)):
        zones.append(
            Zone(
                name=f"{prefix}_{k}",
                kind=kind,
                polygon=_ring_to_map(grid, outer),
                holes=tuple(_ring_to_map(grid, h) for h in holes),
            )
        )
    return tuple(zones)


def _ring_to_map(grid: OccupancyGrid, ring: list[tuple[float, float]]) -> tuple[Point, ...]:
    xs, ys = grid.corner_to_map([p[0] for p in ring], [p[1] for p in ring])
    return tuple((float(x), float(y)) for x, y in zip(xs.tolist(), ys.tolist(), strict=True))


def _floor_plan(grid: OccupancyGrid) -> FloorPlan:
    # Pixel (u, v) from the image's top-left is grid corner (u, height - v).
    top_left_x, top_left_y = grid.corner_to_map(0.0, float(grid.height))
    return FloorPlan(
        image=grid.meta.image_file.name,
        width_px=grid.width,
        height_px=grid.height,
        scale_m_per_px=grid.meta.resolution,
        rotation_rad=grid.meta.origin[2],
        translation_m=(float(top_left_x), float(top_left_y)),
    )

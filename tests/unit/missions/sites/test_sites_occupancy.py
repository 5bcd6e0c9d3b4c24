"""map_server semantics and the roadmap built over depot / depot_keepout."""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from missions.sites import (
    Site,
    ZoneKind,
    floor_plan_png,
    import_occupancy_grid,
    import_site,
    site_summary,
)
from missions.sites.geometry import point_in_polygon
from missions.sites.occupancy import load_occupancy_grid, read_pgm

OCCUPANCY = Path(__file__).resolve().parents[3] / "fixtures" / "maps" / "occupancy"
CLEARANCE = 0.3
Writer = Callable[..., None]


# --- map_server value semantics on small synthetic maps --------------------------------------


def _grid(
    tmp_path: Path,
    write_pgm: Callable[..., None],
    write_map: Callable[..., None],
    rows: list[list[int]],
    **yaml_overrides: object,
) -> np.ndarray:
    write_pgm(tmp_path / "m.pgm", rows, len(rows[0]), len(rows))
    write_map(tmp_path / "m.yaml", "m.pgm", **yaml_overrides)
    return load_occupancy_grid(tmp_path / "m.yaml").values


def test_trinary_thresholds_are_strict(
    tmp_path: Path, write_pgm: Writer, write_map: Writer
) -> None:
    # occ = 1 - p/255: 0 -> 1.0 (occupied), 254 -> 0.004 (free), 205 -> 0.196 (< 0.25: free),
    # 128 -> 0.498 (unknown). 89.25 would be exactly 0.65; 89 -> 0.651 (occupied), 90 -> 0.647.
    values = _grid(tmp_path, write_pgm, write_map, [[0, 254, 205, 128, 89, 90]])
    assert values.tolist() == [[100, 0, 0, -1, 100, -1]]


def test_negate_swaps_black_and_white(tmp_path: Path, write_pgm: Writer, write_map: Writer) -> None:
    values = _grid(tmp_path, write_pgm, write_map, [[0, 254, 128]], negate=1)
    assert values.tolist() == [[0, 100, -1]]


def test_scale_mode_interpolates(tmp_path: Path, write_pgm: Writer, write_map: Writer) -> None:
    # occ = 1 - 128/255 = 0.498: rint((0.498 - 0.25) / 0.4 * 100) = 62.
    values = _grid(tmp_path, write_pgm, write_map, [[0, 254, 128]], mode="scale")
    assert values.tolist() == [[100, 0, 62]]


def test_raw_mode_uses_pixel_values(tmp_path: Path, write_pgm: Writer, write_map: Writer) -> None:
    values = _grid(tmp_path, write_pgm, write_map, [[0, 37, 100, 101, 255]], mode="raw")
    assert values.tolist() == [[0, 37, 100, -1, -1]]


def test_top_image_row_is_the_last_grid_row(
    tmp_path: Path, write_pgm: Writer, write_map: Writer
) -> None:
    values = _grid(tmp_path, write_pgm, write_map, [[0, 0], [254, 254]])
    assert values.tolist() == [[0, 0], [100, 100]]


def test_plain_p2_pgm_with_comments(tmp_path: Path, write_map: Writer) -> None:
    (tmp_path / "m.pgm").write_text("P2\n# a comment\n3 2\n# another\n15\n0 15 7\n15 15 0\n")
    pixels, maxval = read_pgm(tmp_path / "m.pgm")
    assert maxval == 15 and pixels.tolist() == [[0, 15, 7], [15, 15, 0]]
    write_map(tmp_path / "m.yaml", "m.pgm")
    # occ(7/15) = 0.533 -> unknown.
    assert load_occupancy_grid(tmp_path / "m.yaml").values.tolist() == [[0, 0, 100], [100, 0, -1]]


def test_sixteen_bit_binary_pgm(tmp_path: Path, write_map: Writer) -> None:
    # maxval 65535: two bytes per sample, most significant first (Netpbm).
    samples = [0, 65535, 40000]
    raster = b"".join(v.to_bytes(2, "big") for v in samples)
    (tmp_path / "m.pgm").write_bytes(b"P5 3 1 65535\n" + raster)
    pixels, maxval = read_pgm(tmp_path / "m.pgm")
    assert maxval == 65535 and pixels.tolist() == [samples]
    write_map(tmp_path / "m.yaml", "m.pgm")
    # occ(40000/65535) = 0.39 -> unknown.
    assert load_occupancy_grid(tmp_path / "m.yaml").values.tolist() == [[100, 0, -1]]


def test_png_alpha_semantics(tmp_path: Path, write_map: Writer) -> None:
    rgba = np.array([[[255, 255, 255, 255], [255, 255, 255, 0], [0, 0, 0, 255]]], dtype=np.uint8)
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "m.png")
    write_map(tmp_path / "t.yaml", "m.png")
    write_map(tmp_path / "s.yaml", "m.png", mode="scale")
    # trinary averages alpha in: (255*3 + 0)/4/255 = 0.75 shade -> occ 0.25 -> unknown.
    assert load_occupancy_grid(tmp_path / "t.yaml").values.tolist() == [[0, -1, 100]]
    # scale marks any transparent pixel unknown.
    assert load_occupancy_grid(tmp_path / "s.yaml").values.tolist() == [[0, -1, 100]]


def test_origin_yaw_rotates_the_map(tmp_path: Path, write_pgm: Writer, write_map: Writer) -> None:
    write_pgm(tmp_path / "m.pgm", [[254] * 4] * 2, 4, 2)
    write_map(tmp_path / "m.yaml", "m.pgm", origin=f"[1.0, 2.0, {math.pi / 2}]", resolution=0.5)
    grid = load_occupancy_grid(tmp_path / "m.yaml")
    # Lower-left corner at the origin; the map's +x (columns) points along world +y.
    x, y = grid.corner_to_map(4.0, 0.0)
    assert (float(x), float(y)) == pytest.approx((1.0, 4.0))
    x, y = grid.corner_to_map(0.0, 2.0)
    assert (float(x), float(y)) == pytest.approx((0.0, 2.0))


# --- depot roadmap ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def depot() -> Site:
    return import_occupancy_grid(
        OCCUPANCY / "depot.yaml",
        keepout_yaml=OCCUPANCY / "depot_keepout.yaml",
        clearance_m=CLEARANCE,
        kind="public_space",
    )


def _trinary_occupied(pgm: Path) -> np.ndarray:
    """Occupied cells straight from the image (Pillow), rows in image order."""
    pixels = np.asarray(Image.open(pgm), dtype=np.float64)
    return (1.0 - pixels / 255.0) > 0.65


def _inflated_obstacles() -> np.ndarray:
    """Occupied or keep-out cells of depot, dilated by the clearance (image row order)."""
    occupied = _trinary_occupied(OCCUPANCY / "depot.pgm")
    keepout = _trinary_occupied(OCCUPANCY / "depot_keepout.pgm") & ~occupied
    radius = CLEARANCE / 0.05
    r = math.ceil(radius)
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    disk = (xx * xx + yy * yy) <= radius * radius
    return ndimage.binary_dilation(occupied | keepout, structure=disk)


def _cell_of(x: float, y: float, height: int) -> tuple[int, int]:
    # depot.yaml: origin [0, 0, 0], resolution 0.05; image row 0 is the top (y = height*0.05).
    col = math.floor(x / 0.05)
    row_from_bottom = math.floor(y / 0.05)
    return height - 1 - row_from_bottom, col


def test_depot_graph_is_connected(depot: Site) -> None:
    level = depot.levels[0]
    graph = nx.Graph()
    graph.add_nodes_from(wp.id for wp in level.waypoints)
    graph.add_edges_from((la.start, la.end) for la in level.lanes)
    assert graph.number_of_nodes() > 300
    assert nx.is_connected(graph)


def test_no_lane_crosses_an_obstacle_or_keepout_at_the_clearance(depot: Site) -> None:
    inflated = _inflated_obstacles()
    height = inflated.shape[0]
    where = {wp.id: (wp.x, wp.y) for wp in depot.levels[0].waypoints}
    for wp_id, (x, y) in where.items():
        assert not inflated[_cell_of(x, y, height)], wp_id
    for lane in depot.levels[0].lanes:
        (ax, ay), (bx, by) = where[lane.start], where[lane.end]
        steps = max(2, math.ceil(math.hypot(bx - ax, by - ay) / 0.005))  # 1/10 cell
        for t in np.linspace(0.0, 1.0, steps):
            cell = _cell_of(ax + t * (bx - ax), ay + t * (by - ay), height)
            assert not inflated[cell], (lane.start, lane.end)


def test_roadmap_covers_the_free_space(depot: Site) -> None:
    """Every cell of the main free region (at the clearance) is within 1.5 m of a waypoint."""
    inflated = _inflated_obstacles()
    labels, _ = ndimage.label(~inflated)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    main = labels == int(np.argmax(sizes))
    height = main.shape[0]
    rows, cols = np.nonzero(main)
    xs = (cols + 0.5) * 0.05
    ys = (height - rows - 0.5) * 0.05
    points = np.array([(wp.x, wp.y) for wp in depot.levels[0].waypoints])
    # Largest distance from any free cell to its nearest waypoint, in chunks.
    worst = 0.0
    for start in range(0, len(xs), 20000):
        dx = xs[start : start + 20000, None] - points[None, :, 0]
        dy = ys[start : start + 20000, None] - points[None, :, 1]
        worst = max(worst, float(np.sqrt(dx * dx + dy * dy).min(axis=1).max()))
    assert worst < 1.5


def test_keepout_mask_becomes_zones(depot: Site) -> None:
    zones = depot.levels[0].zones
    assert zones and all(z.kind is ZoneKind.KEEP_OUT for z in zones)
    occupied = _trinary_occupied(OCCUPANCY / "depot.pgm")
    keepout = _trinary_occupied(OCCUPANCY / "depot_keepout.pgm") & ~occupied
    height = keepout.shape[0]
    rows, cols = np.nonzero(keepout)
    for r, c in list(zip(rows.tolist(), cols.tolist(), strict=True))[::50]:
        centre = ((c + 0.5) * 0.05, (height - r - 0.5) * 0.05)
        assert any(point_in_polygon(centre, z.polygon, z.holes) for z in zones), (r, c)
    # The three painted shelf rectangles (about 1.4 x 5.4 m) are one zone each.
    areas = sorted(_area(z.polygon) for z in zones)
    assert sum(1 for a in areas if 7.0 < a < 8.5) == 3


def _area(ring: tuple[tuple[float, float], ...]) -> float:
    return (
        abs(
            sum(
                x1 * y2 - x2 * y1
                for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True)
            )
        )
        / 2
    )


def test_floor_plan_maps_pixels_to_map_frame(depot: Site) -> None:
    plan = depot.levels[0].floor_plan
    assert plan is not None and plan.image == "depot.pgm"
    assert (plan.width_px, plan.height_px) == (604, 307)
    # Image bottom-left corner is the origin; top-left is (0, 307 * 0.05).
    assert plan.pixel_to_level(0, 307) == pytest.approx((0.0, 0.0))
    assert plan.pixel_to_level(0, 0) == pytest.approx((0.0, 15.35))


def test_grid_summary_counts_the_generated_graph(depot: Site) -> None:
    summary = site_summary(depot)
    level = depot.levels[0]
    assert summary["levels"] == [
        {
            "name": "L1",
            "waypoints": len(level.waypoints),
            "named_waypoints": 0,
            "lanes": len(level.lanes),
            "doors": 0,
            "chargers": 0,
        }
    ]
    assert summary["zones"] == len(level.zones)
    assert summary["lifts"] == 0


def test_import_site_dispatches_grid_yaml() -> None:
    site = import_site(OCCUPANCY / "depot_keepout.yaml", clearance_m=0.4, name="plaza")
    assert site.source_format == "occupancy_grid" and site.name == "plaza"
    # The keep-out map alone (painted areas are simply occupied) has no zones.
    assert site.levels[0].zones == ()


def test_floor_plan_png_from_pgm() -> None:
    png = floor_plan_png(OCCUPANCY / "depot.pgm")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(io.BytesIO(png)) as img:
        assert img.size == (604, 307)
        assert np.array_equal(np.asarray(img), np.asarray(Image.open(OCCUPANCY / "depot.pgm")))


def test_mask_grey_values_become_restricted_zones(
    tmp_path: Path, write_pgm: Writer, write_map: Writer
) -> None:
    size = 60  # 6 m square at 0.1 m/cell, walled
    room = [
        [0 if r in (0, size - 1) or c in (0, size - 1) else 254 for c in range(size)]
        for r in range(size)
    ]
    mask = [row[:] for row in room]
    for r in range(10, 20):
        for c in range(10, 20):
            mask[r][c] = 0  # lethal: keep-out
    for r in range(35, 50):
        for c in range(35, 50):
            mask[r][c] = 128  # in between: restricted (scale mode keeps the grey level)
    write_pgm(tmp_path / "room.pgm", room, size, size)
    write_pgm(tmp_path / "mask.pgm", mask, size, size)
    write_map(tmp_path / "room.yaml", "room.pgm", resolution=0.1)
    write_map(tmp_path / "mask.yaml", "mask.pgm", resolution=0.1, mode="scale")
    site = import_occupancy_grid(
        tmp_path / "room.yaml", keepout_yaml=tmp_path / "mask.yaml", clearance_m=0.2
    )
    zones = {z.kind: z for z in site.levels[0].zones}
    assert set(zones) == {ZoneKind.KEEP_OUT, ZoneKind.RESTRICTED}
    # Image rows grow downwards: rows 10..19 are y = 6.0 - 2.0 .. 6.0 - 1.0.
    xs = [p[0] for p in zones[ZoneKind.KEEP_OUT].polygon]
    ys = [p[1] for p in zones[ZoneKind.KEEP_OUT].polygon]
    assert (min(xs), max(xs), min(ys), max(ys)) == pytest.approx((1.0, 2.0, 4.0, 5.0))
    assert _area(zones[ZoneKind.RESTRICTED].polygon) == pytest.approx(1.5 * 1.5)
    where = {wp.id: (wp.x, wp.y) for wp in site.levels[0].waypoints}
    for lane in site.levels[0].lanes:
        (ax, ay), (bx, by) = where[lane.start], where[lane.end]
        for t in np.linspace(0.0, 1.0, 50):
            x, y = ax + t * (bx - ax), ay + t * (by - ay)
            assert not (1.0 - 0.2 < x < 2.0 + 0.2 and 4.0 - 0.2 < y < 5.0 + 0.2)

"""Exact outlines of raster regions as polygons with holes (cell-edge tracing)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from missions.sites.geometry import point_in_ring, signed_area

Corner = tuple[int, int]  # (col, row) grid corner; cell (row, col) spans col..col+1, row..row+1
Ring = list[tuple[float, float]]

# Turn preference when a corner has two outgoing edges. Within one 4-connected region such a
# corner is where a hole touches the outside (or another hole) diagonally; turning right
# closes each ring there, so a hole becomes its own ring touching the outer ring at one
# point (valid for OGC/GeoJSON) instead of one self-touching ring.
_RIGHT_FIRST = {
    (1, 0): [(0, -1), (1, 0), (0, 1)],
    (0, 1): [(1, 0), (0, 1), (-1, 0)],
    (-1, 0): [(0, 1), (-1, 0), (0, -1)],
    (0, -1): [(-1, 0), (0, -1), (1, 0)],
}


def mask_polygons(mask: npt.NDArray[np.bool_]) -> list[tuple[Ring, list[Ring]]]:
    """Polygons (outer ring counter-clockwise, holes clockwise) covering the True cells.

    Coordinates are grid corners (col, row) with row growing upwards; each 4-connected region
    gives one polygon. Collinear corners are merged.
    """
    labels, _ = ndimage.label(mask)
    result = []
    for k, window in enumerate(ndimage.find_objects(labels), start=1):
        if window is None:
            continue
        rs, cs = window
        region = labels[rs, cs] == k
        rings = _trace(region)
        shifted = [[(x + cs.start, y + rs.start) for x, y in ring] for ring in rings]
        result.extend(_nest(shifted))
    return result


def _trace(region: npt.NDArray[np.bool_]) -> list[Ring]:
    padded = np.pad(region, 1)
    outgoing: dict[Corner, list[Corner]] = {}

    def add(a: Corner, b: Corner) -> None:
        outgoing.setdefault(a, []).append(b)

    rows, cols = np.nonzero(region)
    for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
        pr, pc = r + 1, c + 1
        # Each boundary side is walked with the region on its left (counter-clockwise).
        if not padded[pr - 1, pc]:
            add((c, r), (c + 1, r))
        if not padded[pr, pc + 1]:
            add((c + 1, r), (c + 1, r + 1))
        if not padded[pr + 1, pc]:
            add((c + 1, r + 1), (c, r + 1))
        if not padded[pr, pc - 1]:
            add((c, r + 1), (c, r))
    rings: list[Ring] = []
    while outgoing:
        start = next(iter(outgoing))
        ring = [start]
        here = start
        direction: Corner | None = None
        while True:
            nxt = _take(outgoing, here, direction)
            direction = (nxt[0] - here[0], nxt[1] - here[1])
            here = nxt
            if here == start:
                break
            ring.append(here)
        rings.append(_merge_collinear(ring))
    return rings


def _take(outgoing: dict[Corner, list[Corner]], here: Corner, direction: Corner | None) -> Corner:
    choices = outgoing[here]
    pick = 0
    if direction is not None and len(choices) > 1:
        preference = _RIGHT_FIRST[direction]
        deltas = [(b[0] - here[0], b[1] - here[1]) for b in choices]
        pick = min(range(len(choices)), key=lambda i: preference.index(deltas[i]))
    nxt = choices.pop(pick)
    if not choices:
        del outgoing[here]
    return nxt


def _merge_collinear(ring: list[Corner]) -> Ring:
    out: Ring = []
    n = len(ring)
    for i in range(n):
        ax, ay = ring[i - 1]
        bx, by = ring[i]
        cx, cy = ring[(i + 1) % n]
        if (bx - ax) * (cy - by) - (by - ay) * (cx - bx) != 0:
            out.append((float(bx), float(by)))
    return out


def _nest(rings: list[Ring]) -> list[tuple[Ring, list[Ring]]]:
    outers = [r for r in rings if signed_area(r) > 0]
    holes = [r for r in rings if signed_area(r) < 0]
    polygons: list[tuple[Ring, list[Ring]]] = [(o, []) for o in outers]
    for hole in holes:
        probe = _inside_probe(hole)
        owners = [p for p in polygons if point_in_ring(probe, p[0])]
        if owners:
            min(owners, key=lambda p: signed_area(p[0]))[1].append(hole)
    return polygons


def _inside_probe(hole: Ring) -> tuple[float, float]:
    """A point just inside a hole: right of its first edge (the region is on the left)."""
    (ax, ay), (bx, by) = hole[0], hole[1]
    mx, my = (ax + bx) / 2, (ay + by) / 2
    dx, dy = bx - ax, by - ay
    length = max(abs(dx), abs(dy))
    return mx + 0.25 * dy / length, my - 0.25 * dx / length

"""A sparse roadmap over the free space of an occupancy grid, with a clearance margin.

1. Blocked cells are every cell that is not certainly free (occupied, unknown, in between)
   plus keep-out cells. A cell is *traversable* if its centre is farther than the clearance
   from every blocked cell centre (Euclidean distance transform).
2. The largest 4-connected traversable region is the navigable area; smaller regions below
   ``min_region_m2`` are noise (pockets inside furniture); a second large region means the
   map's free space is split and is refused.
3. Nodes: the grid is cut into square blocks of ``spacing_m``; each block with navigable
   cells gets one node at its cell of greatest clearance, capped at half the spacing, ties
   going to the block centre (medial points in aisles, a lattice on open floor).
4. Lanes join nodes of neighbouring blocks (8-neighbourhood) when every cell the straight
   segment touches (exact grid traversal, Amanatides & Woo 1987) is traversable.
5. If that graph is split, the pieces are joined along shortest cell paths between them
   (Dijkstra over the navigable cells), straightened by line of sight into extra nodes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra

Cell = tuple[int, int]  # (row, col)
BoolGrid = npt.NDArray[np.bool_]


class RoadmapError(ValueError):
    """The free space cannot carry a connected roadmap; ``where`` is a (row, col) cell."""

    def __init__(self, message: str, where: Cell | None = None) -> None:
        super().__init__(message)
        self.where = where


@dataclass(frozen=True)
class Roadmap:
    """Nodes as grid cells (row, col) and undirected edges as index pairs."""

    nodes: list[Cell]
    edges: list[tuple[int, int]]
    traversable: BoolGrid


def traversable_cells(blocked: BoolGrid, clearance_cells: float) -> BoolGrid:
    """Cells whose centre is more than ``clearance_cells`` from every blocked cell centre."""
    if not blocked.any():
        distance = np.full(blocked.shape, np.inf)
    else:
        distance = ndimage.distance_transform_edt(~blocked)
    result: BoolGrid = np.asarray(distance > clearance_cells, dtype=np.bool_)
    return result


def build_roadmap(
    blocked: BoolGrid,
    *,
    clearance_cells: float,
    spacing_cells: int,
    min_region_cells: int,
) -> Roadmap:
    """Build a connected roadmap over the largest navigable region of ``blocked``'s complement."""
    free = traversable_cells(blocked, clearance_cells)
    region = _main_region(free, min_region_cells)
    clearance = ndimage.distance_transform_edt(region)
    nodes = _block_nodes(region, clearance, max(1, spacing_cells))
    if not nodes:
        raise RoadmapError("no free space is left once the clearance is kept")
    edges = _neighbour_edges(nodes, region, max(1, spacing_cells))
    nodes, edges = _join_pieces(nodes, edges, region)
    return Roadmap(nodes=nodes, edges=edges, traversable=region)


def _main_region(free: BoolGrid, min_region_cells: int) -> BoolGrid:
    labels, count = ndimage.label(free)
    if count == 0:
        raise RoadmapError("no free space is left once the clearance is kept")
    sizes = np.bincount(labels.ravel())[1:]
    order = np.argsort(sizes)[::-1]
    main = int(order[0]) + 1
    if count > 1 and sizes[order[1]] >= min_region_cells:
        other = int(order[1]) + 1
        rows, cols = np.nonzero(labels == other)
        where = (int(rows[len(rows) // 2]), int(cols[len(cols) // 2]))
        raise RoadmapError(
            f"free space splits into separate regions ({int(sizes[order[0]])} and "
            f"{int(sizes[order[1]])} cells)",
            where,
        )
    result: BoolGrid = labels == main
    return result


def _block_nodes(region: BoolGrid, clearance: npt.NDArray[np.float64], spacing: int) -> list[Cell]:
    height, width = region.shape
    rows_b = -(-height // spacing)
    cols_b = -(-width // spacing)
    padded = np.zeros((rows_b * spacing, cols_b * spacing))
    # Prefer clearance up to half the spacing, then closeness to the block centre: open
    # floors get a regular lattice, aisles narrower than the spacing get their middle line.
    rr, cc = np.mgrid[0:spacing, 0:spacing]
    centre_bias = -((rr - (spacing - 1) / 2) ** 2 + (cc - (spacing - 1) / 2) ** 2) * 1e-4 / spacing
    score = np.where(region, np.minimum(clearance, spacing / 2), -np.inf)
    padded[:] = -np.inf
    padded[:height, :width] = score
    blocks = padded.reshape(rows_b, spacing, cols_b, spacing).transpose(0, 2, 1, 3)
    blocks = blocks + centre_bias
    flat = blocks.reshape(rows_b, cols_b, spacing * spacing)
    best = flat.argmax(axis=2)
    has = np.isfinite(flat.max(axis=2))
    nodes = []
    for br, bc in zip(*np.nonzero(has), strict=True):
        k = int(best[br, bc])
        nodes.append((int(br) * spacing + k // spacing, int(bc) * spacing + k % spacing))
    return nodes


def _neighbour_edges(nodes: list[Cell], region: BoolGrid, spacing: int) -> list[tuple[int, int]]:
    by_block = {(r // spacing, c // spacing): i for i, (r, c) in enumerate(nodes)}
    edges = []
    for (br, bc), i in by_block.items():
        for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
            j = by_block.get((br + dr, bc + dc))
            if j is not None and segment_is_clear(region, nodes[i], nodes[j]):
                edges.append((i, j))
    return edges


def segment_cells(a: Cell, b: Cell) -> list[Cell]:
    """Every grid cell the segment between the centres of cells a and b passes through."""
    (r0, c0), (r1, c1) = a, b
    dx, dy = c1 - c0, r1 - r0
    col, row = c0, r0
    step_c = 1 if dx > 0 else -1
    step_r = 1 if dy > 0 else -1
    t_max_c = (0.5 / abs(dx)) if dx else math.inf
    t_max_r = (0.5 / abs(dy)) if dy else math.inf
    t_dc = (1.0 / abs(dx)) if dx else math.inf
    t_dr = (1.0 / abs(dy)) if dy else math.inf
    cells = [(row, col)]
    while (row, col) != (r1, c1):
        if abs(t_max_c - t_max_r) < 1e-12:
            # Exactly through a corner: the two side cells are touched too (conservative).
            cells.append((row, col + step_c))
            cells.append((row + step_r, col))
            col += step_c
            row += step_r
            t_max_c += t_dc
            t_max_r += t_dr
        elif t_max_c < t_max_r:
            col += step_c
            t_max_c += t_dc
        else:
            row += step_r
            t_max_r += t_dr
        cells.append((row, col))
    return cells


def segment_is_clear(region: BoolGrid, a: Cell, b: Cell) -> bool:
    """True if every cell the segment a-b touches is in ``region``."""
    height, width = region.shape
    for r, c in segment_cells(a, b):
        if not (0 <= r < height and 0 <= c < width) or not region[r, c]:
            return False
    return True


def _join_pieces(
    nodes: list[Cell], edges: list[tuple[int, int]], region: BoolGrid
) -> tuple[list[Cell], list[tuple[int, int]]]:
    nodes = list(nodes)
    edges = list(edges)
    cell_graph, cells = _cell_graph(region)
    cell_index = {cell: i for i, cell in enumerate(cells)}
    while True:
        labels = _node_components(len(nodes), edges)
        if labels.max() == 0:
            return nodes, edges
        sources = [cell_index[n] for i, n in enumerate(nodes) if labels[i] == 0]
        dist, pred, _ = dijkstra(
            cell_graph, directed=False, indices=sources, min_only=True, return_predecessors=True
        )
        reach, target = min((dist[cell_index[n]], i) for i, n in enumerate(nodes) if labels[i] != 0)
        if not math.isfinite(reach):
            raise RoadmapError("roadmap nodes lie in separate free regions", nodes[target])
        path = [cells[i] for i in _cell_path(pred, cell_index[nodes[target]])]
        _add_path(nodes, edges, path, region)


def _cell_graph(region: BoolGrid) -> tuple[csr_matrix, list[Cell]]:
    """4-neighbour graph over the cells of ``region`` (unit weights) and its cell list."""
    rows, cols = np.nonzero(region)
    index = np.full(region.shape, -1, dtype=np.int64)
    index[rows, cols] = np.arange(len(rows))
    right = region[:, :-1] & region[:, 1:]
    up = region[:-1, :] & region[1:, :]
    src = np.concatenate([index[:, :-1][right], index[:-1, :][up]])
    dst = np.concatenate([index[:, 1:][right], index[1:, :][up]])
    graph = coo_matrix((np.ones(len(src)), (src, dst)), shape=(len(rows), len(rows))).tocsr()
    return graph, [(int(r), int(c)) for r, c in zip(rows, cols, strict=True)]


def _node_components(count: int, edges: list[tuple[int, int]]) -> npt.NDArray[np.int32]:
    """Component label per node, with node 0's component labelled 0."""
    rows = np.array([e[0] for e in edges], dtype=np.int64)
    cols = np.array([e[1] for e in edges], dtype=np.int64)
    adjacency = coo_matrix((np.ones(len(edges)), (rows, cols)), shape=(count, count))
    _, raw = connected_components(adjacency, directed=False)
    labels = np.asarray(raw, dtype=np.int32)
    first = labels[0]
    result = labels.copy()
    result[labels == first] = 0
    result[labels == 0] = first
    return result


def _cell_path(pred: npt.NDArray[np.int32], end: int) -> list[int]:
    path = [end]
    while pred[path[-1]] >= 0:
        path.append(int(pred[path[-1]]))
    path.reverse()
    return path


def _add_path(
    nodes: list[Cell], edges: list[tuple[int, int]], cells: list[Cell], region: BoolGrid
) -> None:
    """Add lanes along a cell path that starts and ends at node cells, straightened."""
    node_at = {cell: i for i, cell in enumerate(nodes)}
    corners = [0]
    last = len(cells) - 1
    while corners[-1] != last:
        here = corners[-1]
        if segment_is_clear(region, cells[here], cells[last]):
            corners.append(last)
            continue
        # Binary search for a far cell in line of sight; every accepted index is checked,
        # and here + 1 is always visible (4-neighbours inside the region).
        lo, hi = here + 1, last - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if segment_is_clear(region, cells[here], cells[mid]):
                lo = mid
            else:
                hi = mid - 1
        corners.append(lo)
    previous = node_at[cells[0]]
    for k in corners[1:]:
        current = node_at.get(cells[k])
        if current is None:
            nodes.append(cells[k])
            current = len(nodes) - 1
            node_at[cells[k]] = current
        if current != previous:
            edges.append((previous, current))
        previous = current

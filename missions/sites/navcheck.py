"""Sanity checks on an imported navigation graph: not empty, not split in pieces."""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from missions.sites.errors import SiteImportError
from missions.sites.model import Site, Waypoint


def check_graph_connected(site: Site, fname: str, *, per_graph: bool) -> None:
    """Raise :class:`SiteImportError` if the site has no lanes or a graph falls apart.

    Connectivity ignores lane direction (a one-way loop is fine) and counts lift cabins as
    joining their levels. With ``per_graph`` each Open-RMF nav graph (``Lane.graph``, one per
    fleet) must be connected on its own, since different fleets may use disjoint graphs.
    """
    lanes = [(level.name, lane) for level in site.levels for lane in level.lanes]
    if not lanes:
        raise SiteImportError("navigation graph is empty: no lanes", file=fname, element="lanes")
    graphs = sorted({lane.graph for _, lane in lanes}) if per_graph else [None]
    waypoints = site.all_waypoints()
    index = {wp.id: i for i, wp in enumerate(waypoints)}
    for graph in graphs:
        edges = [
            (index[lane.start], index[lane.end])
            for _, lane in lanes
            if graph is None or lane.graph == graph
        ]
        used = {i for edge in edges for i in edge}
        edges += _lift_edges(site, index, used)
        _require_connected(waypoints, edges, used, graph, fname)


def _lift_edges(site: Site, index: dict[str, int], used: set[int]) -> list[tuple[int, int]]:
    edges = []
    for lift in site.lifts:
        stops = [index[w] for ids in lift.waypoints.values() for w in ids if index[w] in used]
        edges += [(stops[0], other) for other in stops[1:]]
    return edges


def _require_connected(
    waypoints: list[Waypoint],
    edges: list[tuple[int, int]],
    used: set[int],
    graph: int | None,
    fname: str,
) -> None:
    n = len(waypoints)
    rows = np.array([e[0] for e in edges], dtype=np.int64)
    cols = np.array([e[1] for e in edges], dtype=np.int64)
    adjacency = coo_matrix((np.ones(len(edges)), (rows, cols)), shape=(n, n))
    _, labels = connected_components(adjacency, directed=False)
    members = sorted(used)
    sizes: dict[int, int] = {}
    for i in members:
        sizes[int(labels[i])] = sizes.get(int(labels[i]), 0) + 1
    if len(sizes) <= 1:
        return
    main = max(sizes, key=lambda label: sizes[label])
    stray = next(waypoints[i] for i in members if labels[i] != main)
    anchor = next(waypoints[i] for i in members if labels[i] == main)
    label = "navigation graph" if graph is None else f"navigation graph {graph}"
    raise SiteImportError(
        f"{label} is disconnected ({len(sizes)} separate parts): waypoint {stray.id!r}"
        f"{f' ({stray.name})' if stray.name else ''} cannot reach waypoint {anchor.id!r}",
        file=fname,
        level=stray.level,
        element=f"waypoint {stray.id}",
    )

"""Benchmark: travel-time matrix (scipy csgraph Dijkstra) vs networkx all-pairs Dijkstra.

Runs on the clinic Open-RMF fixture and on a generated site of N waypoints (default 10,000:
four 50 x 50 floors joined by three lifts, jittered lattice lanes, some one-way lanes and
speed limits). Both sides use the same compiled graph. Our time is the full cold
``travel_time_matrix`` call (graph compilation + all-sources Dijkstra). networkx runs
``all_pairs_dijkstra_path_length`` when that takes under ``--nx-budget-s`` (estimated
from a first sample); otherwise it times ``--nx-sources`` random sources with
``single_source_dijkstra_path_length`` and extrapolates linearly, and says so. Sampled rows
are compared with ours.

    .venv/bin/python bench/routing.py [--waypoints 10000] [--nx-sources 200]

The last output line is one JSON object with all numbers.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import random
import sys
import time
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import scipy

from missions.sites import (
    GeoReference,
    Lane,
    Level,
    Lift,
    RobotClass,
    Site,
    Waypoint,
    clear_routing_cache,
    import_rmf_building,
    travel_time_matrix,
)
from missions.sites.routing import routing_graph

ROOT = Path(__file__).resolve().parents[1]
ROBOT = RobotClass(kind="patrol", max_speed_m_s=1.2)


def generated_site(n_waypoints: int, seed: int) -> Site:
    """Four floors of a jittered square lattice (1.5 m pitch) joined by three lifts."""
    rng = random.Random(seed)
    floors = 4
    per_floor = n_waypoints // floors
    side = math.isqrt(per_floor)
    if side * side * floors != n_waypoints:
        raise ValueError("--waypoints must be 4 * k^2 (e.g. 10000)")
    lift_cells = [(0, 0), (side // 2, side // 2), (side - 1, side - 1)]
    levels = []
    for f in range(floors):
        name = f"F{f + 1}"
        waypoints = []
        for r in range(side):
            for c in range(side):
                jitter_x, jitter_y = rng.uniform(-0.3, 0.3), rng.uniform(-0.3, 0.3)
                if (r, c) in lift_cells:
                    jitter_x = jitter_y = 0.0
                waypoints.append(
                    Waypoint(
                        id=f"{name}:{r}:{c}", level=name, x=1.5 * c + jitter_x, y=1.5 * r + jitter_y
                    )
                )
        lanes = []
        for r in range(side):
            for c in range(side):
                for dr, dc in ((0, 1), (1, 0), (1, 1)):
                    rr, cc = r + dr, c + dc
                    if rr >= side or cc >= side or (dr and dc and rng.random() < 0.7):
                        continue
                    one_way = rng.random() < 0.1
                    limit = 0.5 if rng.random() < 0.05 else None
                    lanes.append(
                        Lane(
                            start=f"{name}:{r}:{c}",
                            end=f"{name}:{rr}:{cc}",
                            bidirectional=not one_way,
                            speed_limit_m_s=limit,
                        )
                    )
        levels.append(
            Level(name=name, elevation_m=4.0 * f, waypoints=tuple(waypoints), lanes=tuple(lanes))
        )
    lifts = tuple(
        Lift(
            name=f"lift_{k}",
            levels=tuple(lvl.name for lvl in levels),
            x=1.5 * c,
            y=1.5 * r,
            cabin_width_m=2.0,
            cabin_depth_m=2.0,
            waypoints={lvl.name: (f"{lvl.name}:{r}:{c}",) for lvl in levels},
        )
        for k, (r, c) in enumerate(lift_cells)
    )
    return Site(
        name=f"generated_{n_waypoints}",
        kind="public_space",
        levels=tuple(levels),
        lifts=lifts,
        geo_reference=GeoReference(anchor_lon=114.0579, anchor_lat=22.5431),
    )


def networkx_graph(site: Site) -> nx.DiGraph:
    """The exact graph our router compiled, as a networkx DiGraph."""
    graph = routing_graph(site, ROBOT)
    nxg = nx.DiGraph()
    nxg.add_nodes_from(range(len(graph.ids)))
    nxg.add_weighted_edges_from((u, v, e.time_s) for (u, v), e in graph.edges.items())
    return nxg


def time_ours(site: Site, repeats: int) -> tuple[float, np.ndarray]:
    best = math.inf
    matrix = np.empty(0)
    for _ in range(repeats):
        clear_routing_cache()
        t0 = time.perf_counter()
        _, matrix = travel_time_matrix(site, ROBOT)
        best = min(best, time.perf_counter() - t0)
    return best, matrix


def time_networkx(
    nxg: nx.DiGraph, ours: np.ndarray, sources: int, budget_s: float, seed: int
) -> dict[str, Any]:
    n = nxg.number_of_nodes()
    rng = random.Random(seed)
    probe = rng.sample(range(n), min(n, 5))
    t0 = time.perf_counter()
    for s in probe:
        nx.single_source_dijkstra_path_length(nxg, s)
    estimate = (time.perf_counter() - t0) / len(probe) * n
    if estimate <= budget_s:
        t0 = time.perf_counter()
        lengths = dict(nx.all_pairs_dijkstra_path_length(nxg))
        elapsed = time.perf_counter() - t0
        checked = list(range(n))
        mode = "full all_pairs_dijkstra_path_length"
    else:
        checked = rng.sample(range(n), min(n, sources))
        t0 = time.perf_counter()
        lengths = {s: nx.single_source_dijkstra_path_length(nxg, s) for s in checked}
        sampled = time.perf_counter() - t0
        elapsed = sampled / len(checked) * n
        mode = (
            f"extrapolated: {len(checked)} of {n} sources timed ({sampled:.1f} s)"
            f" x {n / len(checked):.0f}"
        )
    worst = 0.0
    for s in checked:
        row = np.full(n, np.inf)
        for t, d in lengths[s].items():
            row[t] = d
        finite = np.isfinite(row)
        assert np.array_equal(finite, np.isfinite(ours[s])), f"reachability differs from source {s}"
        worst = max(worst, float(np.max(np.abs(row[finite] - ours[s][finite]), initial=0.0)))
    assert worst < 1e-6, f"travel times differ by {worst} s"
    return {"seconds": elapsed, "mode": mode, "rows_checked": len(checked), "max_abs_diff_s": worst}


def run_case(label: str, site: Site, repeats: int, args: argparse.Namespace) -> dict[str, Any]:
    ours_s, matrix = time_ours(site, repeats)
    graph = routing_graph(site, ROBOT)
    nxg = networkx_graph(site)
    theirs = time_networkx(nxg, matrix, args.nx_sources, args.nx_budget_s, args.seed)
    result = {
        "waypoints": len(graph.ids),
        "directed_edges": len(graph.edges),
        "ours_s": ours_s,
        "networkx_s": theirs["seconds"],
        "networkx_mode": theirs["mode"],
        "speedup": theirs["seconds"] / ours_s,
        "rows_checked": theirs["rows_checked"],
        "max_abs_diff_s": theirs["max_abs_diff_s"],
    }
    print(f"{label}: {result['waypoints']} waypoints, {result['directed_edges']} directed edges")
    print(f"  ours (cold travel_time_matrix, best of {repeats}): {ours_s * 1000:.1f} ms")
    print(f"  networkx ({theirs['mode']}): {theirs['seconds'] * 1000:.1f} ms")
    print(
        f"  speed-up: {result['speedup']:.1f}x; {theirs['rows_checked']} rows agree"
        f" within {theirs['max_abs_diff_s']:.1e} s"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waypoints", type=int, default=10_000)
    parser.add_argument("--nx-sources", type=int, default=200)
    parser.add_argument("--nx-budget-s", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(
        f"python {platform.python_version()}, scipy {scipy.__version__}, networkx {nx.__version__}"
    )
    clinic = import_rmf_building(
        ROOT / "tests" / "fixtures" / "maps" / "rmf" / "clinic.building.yaml"
    )
    results = {"clinic": run_case("clinic", clinic, 20, args)}
    t0 = time.perf_counter()
    site = generated_site(args.waypoints, args.seed)
    print(f"generated site built in {time.perf_counter() - t0:.1f} s")
    results["generated"] = run_case(f"generated ({args.waypoints})", site, 1, args)
    print(json.dumps({"bench": "routing", "python": platform.python_version(), **results}))
    sys.stdout.flush()


if __name__ == "__main__":
    main()

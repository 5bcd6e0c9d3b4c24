"""Benchmark: the allocator against the exact optimum (small) and FIFO-nearest (large).

(a) Small instances (at most 8 robots x 8 tasks, generated in this run, plus the shared
    r2_t4, r2_t8 and r3_t12) are solved exactly (fleet_server.dispatch.exact) and by the
    allocator; we report cost / optimum (target <= 1.02), worst and mean.
(b) Large instances (a generated 100 robots x 500 missions site, plus the shared r5_t20,
    r10_t50, r10_t100, r20_t200, r50_t500) are solved by the allocator and by the
    FIFO-nearest-robot baseline (fleet_server.dispatch.baseline); we report cost / FIFO
    (target <= 0.8) and the allocator's wall-clock solve time (target < 1 s).
(c) Constructions compared under the same search budget, on (a) and (b): the evidence
    for the default.

Where bench/data/allocation/reference_results.json has them, our cost is also set against
rmf_task's greedy and optimal planners and the exact optimum: those are reference numbers
measured on another machine (only the costs are comparable, on the same travel matrix).

    .venv/bin/python bench/scheduler.py [--json] [--small 30] [--seed 1] [--budget 0.5]

With --json the last output line is one JSON object with all numbers.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra

from fleet_server.dispatch import (
    Allocation,
    AllocationConfig,
    AllocationProblem,
    Priority,
    Robot,
    Task,
    solve_allocation,
)
from fleet_server.dispatch.baseline import fifo_nearest
from fleet_server.dispatch.exact import solve_exact
from fleet_server.dispatch.instances import load_instance, load_travel_matrix

ROOT = Path(__file__).resolve().parents[1]

DATA = ROOT / "bench" / "data" / "allocation"
MATRIX = DATA / "travel_matrix_grid10x10.json"
SMALL_SHARED = ("r2_t4", "r2_t8", "r3_t12")
LARGE_SHARED = ("r5_t20", "r10_t50", "r10_t100", "r20_t200", "r50_t500")
CONSTRUCTIONS = ("regret", "cheapest", "rounds")
KINDS = ("patrol", "uv_disinfection", "guidance")


@dataclass
class Row:
    """One instance's numbers."""

    name: str
    group: str
    robots: int
    tasks: int
    ours_cost: float
    ours_s: float
    ours_assigned: int
    baseline: str
    baseline_cost: float
    baseline_s: float
    baseline_assigned: int
    stopped_by: str
    reference: dict[str, float] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        """Our cost over the baseline's (inf if we assigned fewer tasks)."""
        if self.ours_assigned < self.baseline_assigned:
            return float("inf")
        return self.ours_cost / self.baseline_cost if self.baseline_cost else 1.0


# -- instances ---------------------------------------------------------------------------


def grid_deliveries(seed: int, robots: int, tasks: int, travel: np.ndarray) -> AllocationProblem:
    """rmf_task-style deliveries (the shared instances' generator rule) on a matrix."""
    rng = random.Random(seed)
    size = travel.shape[0]
    fleet = [
        Robot(f"r{i}", w, frozenset({"delivery"}))
        for i, w in enumerate(rng.sample(range(size), robots))
    ]
    jobs = []
    for j in range(tasks):
        pickup = rng.randrange(size)
        dropoff = rng.choice([w for w in range(size) if w != pickup])
        jobs.append(Task(f"t{j}", "delivery", pickup, float(travel[pickup, dropoff]), exit=dropoff))
    return AllocationProblem(fleet, jobs, travel)


def mixed_missions(seed: int, robots: int, tasks: int, travel: np.ndarray) -> AllocationProblem:
    """Service-robot missions: capabilities, priorities, time windows, deadlines, battery."""
    rng = random.Random(seed)
    size = travel.shape[0]
    fleet = []
    for i, w in enumerate(rng.sample(range(size), robots)):
        kinds = frozenset(rng.sample(KINDS, rng.choice((1, 1, 2, 3))))
        fleet.append(
            Robot(
                f"r{i}",
                w,
                kinds,
                battery=rng.uniform(0.35, 1.0),
                drain_per_s=rng.uniform(5e-5, 2e-4),
                reserve=0.2,
                available_from_s=rng.choice((0.0, 0.0, 0.0, rng.uniform(0.0, 300.0))),
                charger=rng.randrange(size),
            )
        )
    jobs = []
    for j in range(tasks):
        entry, exit_ = rng.randrange(size), rng.randrange(size)
        earliest = rng.choice((0.0,) * 4 + (rng.uniform(0.0, 1800.0),))
        jobs.append(
            Task(
                f"t{j}",
                rng.choice(KINDS),
                entry,
                float(travel[entry, exit_]) + rng.uniform(30.0, 240.0),
                exit=exit_,
                priority=rng.choices(list(Priority), weights=(1, 3, 12, 4))[0],
                earliest_start_s=earliest,
                deadline_s=rng.choice((None,) * 4 + (earliest + rng.uniform(300.0, 3600.0),)),
                waiting_s=rng.choice((0.0, 0.0, rng.uniform(0.0, 1800.0))),
            )
        )
    return AllocationProblem(fleet, jobs, travel)


def generated_site(side: int, seed: int) -> np.ndarray:
    """Travel times on a side x side lattice (10 m pitch) with slow corridors: shortest paths."""
    rng = np.random.default_rng(seed)
    n = side * side
    rows, cols, times = [], [], []
    for r in range(side):
        for c in range(side):
            here = r * side + c
            for dr, dc in ((0, 1), (1, 0)):
                rr, cc = r + dr, c + dc
                if rr < side and cc < side:
                    there = rr * side + cc
                    seconds = 10.0 / rng.choice((1.0, 1.0, 1.0, 0.5))
                    rows += [here, there]
                    cols += [there, here]
                    times += [seconds, seconds]
    graph = coo_matrix((times, (rows, cols)), shape=(n, n)).tocsr()
    return np.asarray(dijkstra(graph, directed=True))


# -- running -----------------------------------------------------------------------------


def timed(solve: Callable[[], Allocation]) -> tuple[Allocation, float]:
    began = time.perf_counter()
    plan = solve()
    return plan, time.perf_counter() - began


def compare(
    name: str,
    group: str,
    problem: AllocationProblem,
    config: AllocationConfig,
    baseline: str,
    reference: dict[str, Any] | None = None,
) -> Row:
    ours, ours_s = timed(lambda: solve_allocation(problem, config))
    if baseline == "exact":
        other, other_s = timed(lambda: solve_exact(problem, config))
    else:
        other, other_s = timed(lambda: fifo_nearest(problem, config))
    refs: dict[str, float] = {}
    for key, label in (
        ("exact_optimum_cost", "exact optimum"),
        ("rmf_task_greedy", "rmf_task greedy"),
        ("rmf_task_optimal", "rmf_task optimal"),
    ):
        value = (reference or {}).get(key)
        if isinstance(value, dict):
            value = value.get("cost")
        if value is not None:
            refs[label] = float(value)
    return Row(
        name=name,
        group=group,
        robots=len(problem.robots),
        tasks=len(problem.tasks),
        ours_cost=ours.cost,
        ours_s=ours_s,
        ours_assigned=len(ours.planned),
        baseline=baseline,
        baseline_cost=other.cost,
        baseline_s=other_s,
        baseline_assigned=len(other.planned),
        stopped_by=ours.stats.stopped_by,
        reference=refs,
    )


def small_instances(
    count: int, seed: int, travel: np.ndarray
) -> list[tuple[str, AllocationProblem]]:
    rng = random.Random(seed)
    found = []
    for i in range(count):
        robots, tasks = rng.randint(2, 8), rng.randint(4, 8)
        make = grid_deliveries if i % 2 == 0 else mixed_missions
        kind = "deliv" if i % 2 == 0 else "mixed"
        found.append(
            (f"{kind}_r{robots}_t{tasks}_{i}", make(seed * 1000 + i, robots, tasks, travel))
        )
    for name in SMALL_SHARED:
        found.append((name, load_instance(DATA / f"{name}.json", MATRIX)))
    return found


def large_instances(seed: int) -> list[tuple[str, AllocationProblem]]:
    site = generated_site(25, seed)
    found = [
        ("gen_mixed_r100_t500", mixed_missions(seed, 100, 500, site)),
        ("gen_deliv_r100_t500", grid_deliveries(seed + 1, 100, 500, site)),
    ]
    for name in LARGE_SHARED:
        found.append((name, load_instance(DATA / f"{name}.json", MATRIX)))
    return found


def print_rows(rows: list[Row], title: str, against: str) -> None:
    print(f"\n{title}")
    print(
        f"{'instance':<24}{'R x T':>10}{'ours':>12}{'time s':>8}"
        f"{against:>13}{'time s':>9}{'ratio':>8}  reference (other machine): ours / ref"
    )
    for row in rows:
        refs = ", ".join(f"{k} {row.ours_cost / v:.3f}" for k, v in row.reference.items())
        print(
            f"{row.name:<24}{f'{row.robots} x {row.tasks}':>10}{row.ours_cost:>12.1f}"
            f"{row.ours_s:>8.3f}{row.baseline_cost:>13.1f}{row.baseline_s:>9.3f}"
            f"{row.ratio:>8.4f}  {refs}"
        )


def construction_table(
    small: list[tuple[str, AllocationProblem]],
    large: list[tuple[str, AllocationProblem]],
    optimum: dict[str, float],
    fifo: dict[str, float],
    budget: float | None,
    iterations: int,
) -> dict[str, Any]:
    """Each construction under the same search settings: the evidence for the default."""
    print(
        "\n(c) constructions under the same search settings "
        "(small: cost / optimum; large: cost / FIFO, construction + relocation only "
        "-> with search, solve time)"
    )
    found: dict[str, Any] = {}
    for construction in CONSTRUCTIONS:
        config = AllocationConfig(
            construction=construction, iterations=iterations, time_budget_s=budget
        )
        bare = AllocationConfig(construction=construction, iterations=0, time_budget_s=None)
        ratios = [solve_allocation(p, config).cost / optimum[n] for n, p in small]
        entry: dict[str, Any] = {
            "small_worst_ratio_to_optimum": max(ratios),
            "small_mean_ratio_to_optimum": statistics.fmean(ratios),
            "small_optimal_count": sum(r <= 1.0 + 1e-9 for r in ratios),
        }
        print(
            f"  {construction:<9} small: worst {max(ratios):.4f}, mean "
            f"{statistics.fmean(ratios):.4f}, optimal {entry['small_optimal_count']}/{len(ratios)}"
        )
        for name, problem in large:
            built, built_s = timed(lambda problem=problem, b=bare: solve_allocation(problem, b))
            plan, plan_s = timed(lambda problem=problem, c=config: solve_allocation(problem, c))
            entry[name] = {
                "construction_ratio": built.cost / fifo[name],
                "construction_s": built_s,
                "ratio": plan.cost / fifo[name],
                "s": plan_s,
            }
            print(
                f"  {construction:<9} {name:<22} {built.cost / fifo[name]:.4f} ({built_s:.3f} s)"
                f" -> {plan.cost / fifo[name]:.4f} ({plan_s:.3f} s)"
            )
        found[construction] = entry
    return found


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--json", action="store_true", help="print a JSON summary as the last line")
    parser.add_argument("--small", type=int, default=30, help="random small instances (default 30)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--budget", type=float, default=None, help="time budget s (default: config)"
    )
    parser.add_argument("--no-constructions", action="store_true", help="skip table (c)")
    args = parser.parse_args()
    defaults = AllocationConfig()
    budget = defaults.time_budget_s if args.budget is None else args.budget
    config = AllocationConfig(time_budget_s=budget)
    reference = json.loads((DATA / "reference_results.json").read_text(encoding="utf-8"))
    grid, _drain = load_travel_matrix(MATRIX)
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}, "
        f"construction {config.construction}, iterations {config.iterations}, "
        f"time budget {budget} s, seed {args.seed}"
    )

    small = small_instances(args.small, args.seed, grid)
    small_rows = [compare(n, "small", p, config, "exact", reference.get(n)) for n, p in small]
    print_rows(small_rows, "(a) small instances: ours vs exact optimum (same run)", "optimum")
    large = large_instances(args.seed)
    large_rows = [compare(n, "large", p, config, "fifo", reference.get(n)) for n, p in large]
    print_rows(large_rows, "(b) large instances: ours vs FIFO-nearest (same run)", "FIFO")

    small_ratios = [row.ratio for row in small_rows]
    large_ratios = [row.ratio for row in large_rows]
    result: dict[str, Any] = {
        "small_cost_ratio_to_optimum": max(small_ratios),
        "small_cost_ratio_to_optimum_mean": statistics.fmean(small_ratios),
        "small_optimal_count": sum(r <= 1.0 + 1e-9 for r in small_ratios),
        "large_cost_ratio_to_fifo": max(large_ratios),
        "large_cost_ratio_to_fifo_mean": statistics.fmean(large_ratios),
        "large_solve_s": max(row.ours_s for row in large_rows),
        "instance_seed": args.seed,
        "config": {
            "construction": config.construction,
            "iterations": config.iterations,
            "time_budget_s": budget,
            "seed": config.seed,
        },
        "instances": [
            {
                "name": row.name,
                "group": row.group,
                "robots": row.robots,
                "tasks": row.tasks,
                "ours_cost": round(row.ours_cost, 3),
                "ours_s": round(row.ours_s, 4),
                "baseline": row.baseline,
                "baseline_cost": round(row.baseline_cost, 3),
                "baseline_s": round(row.baseline_s, 4),
                "ratio": round(row.ratio, 5),
                "stopped_by": row.stopped_by,
                "reference_other_machine": {k: round(v, 3) for k, v in row.reference.items()},
            }
            for row in small_rows + large_rows
        ],
    }
    print(
        f"\nsmall: worst {result['small_cost_ratio_to_optimum']:.4f}, mean "
        f"{result['small_cost_ratio_to_optimum_mean']:.4f} x optimum "
        f"({result['small_optimal_count']}/{len(small_rows)} optimal; target <= 1.02)"
    )
    print(
        f"large: worst {result['large_cost_ratio_to_fifo']:.4f}, mean "
        f"{result['large_cost_ratio_to_fifo_mean']:.4f} x FIFO (target <= 0.8); "
        f"slowest solve {result['large_solve_s']:.3f} s (target < 1 s)"
    )
    if not args.no_constructions:
        optimum = {row.name: row.baseline_cost for row in small_rows}
        fifo = {row.name: row.baseline_cost for row in large_rows}
        result["constructions"] = construction_table(
            small, large, optimum, fifo, budget, config.iterations
        )
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

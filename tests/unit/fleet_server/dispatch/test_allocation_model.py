"""The problem model: bad input named, instance files, objective weights, baseline."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from fleet_server.dispatch import (
    AllocationConfig,
    AllocationInputError,
    AllocationProblem,
    Priority,
    Robot,
    Task,
    UnassignedReason,
    solve_allocation,
)
from fleet_server.dispatch.baseline import fifo_nearest
from fleet_server.dispatch.instances import load_instance
from tests.unit.fleet_server.dispatch.dispatch_support import FAST, MATRIX, SHARED

LINE = [[0.0, 10.0, 20.0], [10.0, 0.0, 10.0], [20.0, 10.0, 0.0]]
PATROL = frozenset({"patrol"})


@pytest.mark.parametrize(
    ("robots", "tasks", "travel", "message"),
    [
        ([Robot("r", 3, PATROL)], [], LINE, r"robots\[0\].location: 3 is not a location"),
        ([Robot("r", 0, PATROL, charger=-1)], [], LINE, r"robots\[0\].charger"),
        ([Robot("r", 0, PATROL, battery=1.5)], [], LINE, r"robots\[0\].battery"),
        ([Robot("r", 0, PATROL, drain_per_s=-1)], [], LINE, r"robots\[0\].drain_per_s"),
        (
            [Robot("r", 0, PATROL, available_from_s=math.nan)],
            [],
            LINE,
            r"robots\[0\].available_from_s: must be finite",
        ),
        ([Robot("r", 0, PATROL), Robot("r", 1, PATROL)], [], LINE, r"robots\[1\].id: duplicate"),
        ([], [Task("t", "patrol", 0, -1.0)], LINE, r"tasks\[0\].duration_s"),
        ([], [Task("t", "patrol", 0, 1.0, exit=7)], LINE, r"tasks\[0\].exit: 7"),
        ([], [Task("t", "patrol", 0, 1.0, deadline_s=math.inf)], LINE, r"tasks\[0\].deadline_s"),
        ([], [Task("t", "patrol", 0, 1.0, priority="urgent")], LINE, r"tasks\[0\].priority"),  # type: ignore[arg-type]
        ([], [], [[0.0, 1.0]], r"travel_s: must be a non-empty square matrix"),
        ([], [], [[0.0, -1.0], [1.0, 0.0]], r"travel_s: contains negative"),
        ([], [], [[0.0, math.nan], [1.0, 0.0]], r"travel_s: contains NaN"),
        ([], [], [["a"]], r"travel_s: not a numeric matrix"),
    ],
)
def test_bad_input_names_the_element(
    robots: list[Robot], tasks: list[Task], travel: object, message: str
) -> None:
    with pytest.raises(AllocationInputError, match=message):
        AllocationProblem(robots, tasks, travel)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"priority_weights": {Priority.NORMAL: 1.0}},
            r"config.priority_weights\['emergency'\]",
        ),
        ({"aging_s": 0.0}, "config.aging_s"),
        ({"construction": "magic"}, "config.construction"),
        ({"time_budget_s": -1.0}, "config.time_budget_s"),
    ],
)
def test_bad_config_names_the_setting(config: dict[str, object], message: str) -> None:
    with pytest.raises(AllocationInputError, match=message):
        AllocationConfig(**config)  # type: ignore[arg-type]


def test_travel_matrix_is_copied_and_read_only() -> None:
    matrix = np.array(LINE)
    problem = AllocationProblem([], [], matrix)
    matrix[0, 1] = 99.0
    assert problem.travel_s[0, 1] == 10.0
    assert not problem.travel_s.flags.writeable


def test_shared_instance_cost_is_rmf_task_cost() -> None:
    problem = load_instance(SHARED / "r2_t4.json", MATRIX)
    travel = problem.travel_s
    plan = solve_allocation(problem, FAST)
    # rmf_task: finish(x) = finish(prev) + D[prev][pickup] + D[pickup][dropoff], from t = 0.
    raw = json.loads((SHARED / "r2_t4.json").read_text(encoding="utf-8"))
    starts = {str(r["id"]): r["start_waypoint"] for r in raw["robots"]}
    deliveries = {t["id"]: (t["pickup_waypoint"], t["dropoff_waypoint"]) for t in raw["tasks"]}
    total = 0.0
    for robot_id, queue in plan.queues.items():
        clock, here = 0.0, starts[robot_id]
        for task_id in queue:
            pickup, dropoff = deliveries[task_id]
            clock += travel[here, pickup] + travel[pickup, dropoff]
            total += clock
            here = dropoff
    assert plan.cost == pytest.approx(total)


def test_bad_instance_file_names_file_and_field(tmp_path: Path) -> None:
    raw = json.loads((SHARED / "r2_t4.json").read_text(encoding="utf-8"))
    del raw["tasks"][2]["pickup_waypoint"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(
        AllocationInputError, match=r"bad.json: tasks\[2\].pickup_waypoint: missing"
    ):
        load_instance(bad, MATRIX)
    raw = json.loads((SHARED / "r2_t4.json").read_text(encoding="utf-8"))
    raw["robots"][1]["start_waypoint"] = 100
    bad.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(AllocationInputError, match=r"bad.json: robots\[1\].location: 100"):
        load_instance(bad, MATRIX)
    bad.write_text("{", encoding="utf-8")
    with pytest.raises(AllocationInputError, match=r"bad\.json: cannot read JSON"):
        load_instance(bad, MATRIX)


def test_waiting_ages_a_low_task_ahead_of_a_fresh_normal_one() -> None:
    robot = Robot("r", 0, PATROL)
    fresh = Task("fresh", "patrol", 1, 10.0)
    old_low = Task("old", "patrol", 1, 10.0, priority=Priority.LOW)
    config = AllocationConfig(iterations=20, time_budget_s=None, aging_s=600.0)
    plan = solve_allocation(AllocationProblem([robot], [fresh, old_low], LINE), config)
    assert plan.queues["r"] == ("fresh", "old")
    aged = Task("old", "patrol", 1, 10.0, priority=Priority.LOW, waiting_s=1800.0)
    plan = solve_allocation(AllocationProblem([robot], [fresh, aged], LINE), config)
    assert plan.queues["r"] == ("old", "fresh")


def test_deadline_pulls_a_task_forward_and_lateness_is_reported() -> None:
    robot = Robot("r", 0, PATROL)
    near = Task("near", "patrol", 1, 10.0)
    far = Task("far", "patrol", 2, 10.0, deadline_s=35.0)
    plan = solve_allocation(AllocationProblem([robot], [near, far], LINE), FAST)
    assert plan.queues["r"] == ("far", "near")
    assert plan.lateness_s == {"far": 0.0, "near": 0.0}
    tight = Task("far", "patrol", 2, 10.0, deadline_s=20.0)
    plan = solve_allocation(AllocationProblem([robot], [near, tight], LINE), FAST)
    assert plan.lateness_s["far"] == pytest.approx(10.0)


def test_unassignable_tasks_say_why() -> None:
    robots = [Robot("r", 0, PATROL, battery=0.5, drain_per_s=0.01, reserve=0.2)]
    travel = [[0.0, 10.0, math.inf], [10.0, 0.0, math.inf], [math.inf, math.inf, 0.0]]
    tasks = [
        Task("uv", "uv", 0, 1.0),
        Task("island", "patrol", 2, 1.0),
        Task("long", "patrol", 1, 40.0),
        Task("a", "patrol", 1, 8.0),
        Task("b", "patrol", 1, 8.0),
    ]
    plan = solve_allocation(AllocationProblem(robots, tasks, travel), FAST)
    # 30 s of charge: a or b (10 + 8 + 10 back = 28 s) but not both (36 s).
    assert plan.unassigned["uv"] is UnassignedReason.NO_CAPABLE_ROBOT
    assert plan.unassigned["island"] is UnassignedReason.UNREACHABLE
    assert plan.unassigned["long"] is UnassignedReason.BATTERY
    assert len(plan.queues["r"]) == 1
    left = "b" if plan.queues["r"] == ("a",) else "a"
    assert plan.unassigned[left] is UnassignedReason.BATTERY_COMMITTED


def test_fifo_nearest_appends_to_the_robot_that_finishes_first() -> None:
    robots = [Robot("a", 0, PATROL), Robot("b", 2, PATROL)]
    tasks = [
        Task("t0", "patrol", 0, 5.0),
        Task("t1", "patrol", 0, 5.0),
        Task("t2", "patrol", 2, 5.0),
    ]
    plan = fifo_nearest(AllocationProblem(robots, tasks, LINE))
    # t1: a frees at 5 (done 10) beats b driving 20 s (done 25).
    assert dict(plan.queues) == {"a": ("t0", "t1"), "b": ("t2",)}
    assert plan.cost == pytest.approx(5.0 + 10.0 + 5.0)


def test_empty_fleet_or_no_missions() -> None:
    plan = solve_allocation(AllocationProblem([], [Task("t", "patrol", 0, 1.0)], LINE), FAST)
    assert plan.unassigned == {"t": UnassignedReason.NO_CAPABLE_ROBOT}
    assert plan.cost == 0.0
    plan = solve_allocation(AllocationProblem([Robot("r", 0, PATROL)], [], LINE), FAST)
    assert dict(plan.queues) == {"r": ()}
    assert not plan.planned

"""Read task-allocation benchmark instances in the shared Open-RMF format.

The format (see bench/data/allocation/README.md): an instance file with robots (start and
charger waypoint, state of charge) and delivery tasks (pickup, dropoff, waits, earliest
start), plus a travel-matrix file with rmf_task's travel times (`duration_s`) and battery
drain (`soc_drain`) between every pair of waypoints. A delivery becomes a task with entry
= pickup, exit = dropoff and duration = travel pickup → dropoff + both waits, so the cost
of a plan equals rmf_task's (sum of finish times).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from fleet_server.dispatch.problem import AllocationInputError, AllocationProblem, Robot, Task

DELIVERY = "delivery"


def load_travel_matrix(path: Path) -> tuple[np.ndarray, float]:
    """Travel times and the highest battery drain per second of travel found in the file."""
    data = _read_json(path)
    durations = np.array(_field(data, "duration_s", path), dtype=np.float64)
    drain = np.array(_field(data, "soc_drain", path), dtype=np.float64)
    if durations.shape != drain.shape or durations.ndim != 2:
        raise AllocationInputError(
            f"{path}: duration_s and soc_drain must be equal square matrices"
        )
    moving = durations > 0
    rate = float((drain[moving] / durations[moving]).max()) if moving.any() else 0.0
    return durations, rate


def load_instance(instance_path: Path, matrix_path: Path) -> AllocationProblem:
    """An AllocationProblem for an `r{R}_t{T}.json` instance and its travel matrix."""
    travel, drain_per_s = load_travel_matrix(matrix_path)
    data = _read_json(instance_path)
    battery = _field(data, "battery", instance_path)
    reserve = float(_field(battery, "threshold_soc", instance_path, "battery"))
    robots = [
        _robot(item, f"robots[{i}]", instance_path, drain_per_s, reserve)
        for i, item in enumerate(_field(data, "robots", instance_path))
    ]
    tasks = [
        _task(item, f"tasks[{i}]", instance_path, travel)
        for i, item in enumerate(_field(data, "tasks", instance_path))
    ]
    try:
        return AllocationProblem(robots, tasks, travel)
    except AllocationInputError as exc:
        raise AllocationInputError(f"{instance_path}: {exc}") from exc


def _read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AllocationInputError(f"{path}: cannot read JSON ({exc})") from exc


def _field(data: Any, name: str, path: Path, where: str = "") -> Any:
    label = f"{where}.{name}" if where else name
    if not isinstance(data, dict) or name not in data:
        raise AllocationInputError(f"{path}: {label}: missing")
    return data[name]


def _robot(item: Any, where: str, path: Path, drain_per_s: float, reserve: float) -> Robot:
    return Robot(
        id=str(_field(item, "id", path, where)),
        location=_int(_field(item, "start_waypoint", path, where), f"{where}.start_waypoint", path),
        capabilities=frozenset({DELIVERY}),
        battery=float(_field(item, "battery_soc", path, where)),
        drain_per_s=drain_per_s,
        reserve=reserve,
        charger=_int(
            _field(item, "charger_waypoint", path, where), f"{where}.charger_waypoint", path
        ),
    )


def _task(item: Any, where: str, path: Path, travel: np.ndarray) -> Task:
    kind = _field(item, "type", path, where)
    if kind != DELIVERY:
        raise AllocationInputError(f"{path}: {where}.type: {kind!r} is not supported (delivery)")
    pickup = _int(_field(item, "pickup_waypoint", path, where), f"{where}.pickup_waypoint", path)
    dropoff = _int(_field(item, "dropoff_waypoint", path, where), f"{where}.dropoff_waypoint", path)
    size = travel.shape[0]
    for name, value in (("pickup_waypoint", pickup), ("dropoff_waypoint", dropoff)):
        if not 0 <= value < size:
            raise AllocationInputError(f"{path}: {where}.{name}: {value} is not a waypoint")
    waits = float(_field(item, "pickup_wait_s", path, where)) + float(
        _field(item, "dropoff_wait_s", path, where)
    )
    return Task(
        id=str(_field(item, "id", path, where)),
        capability=DELIVERY,
        entry=pickup,
        exit=dropoff,
        duration_s=float(travel[pickup, dropoff]) + waits,
        earliest_start_s=float(_field(item, "earliest_start_s", path, where)),
    )


def _int(value: Any, where: str, path: Path) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise AllocationInputError(f"{path}: {where}: {value!r} is not an integer")
    return value

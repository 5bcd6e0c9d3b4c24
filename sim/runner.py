"""The world side of a scenario run: world, robots, agents, faults and robot-side KPIs.

`build_run(scenario, options)` makes everything a run needs on the robot side: the world
on the scenario's map with its people, the robots placed at their start waypoints, one
real agent per robot (configured from its model) on the simulation clock, and the fleet
that steps them and applies the fault plan. The part that submits the scenario's missions
to a fleet server and collects mission KPIs sits on top of this.

`KpiAccumulator` turns the world's counters into robot-side KPIs: distance, energy,
charging time, utilisation (share of time with an order, moving, riding or working).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from missions.sites import Site, Waypoint
from robot_agent.config import AgentConfig
from sim.clock import ManualClock, SimClock
from sim.faults import FaultSpec
from sim.fleet import PHYSICS_DT_S, SimFleet, SimulatedRobot
from sim.people import VisitorBehaviour
from sim.scenario import RobotGroup, Scenario
from sim.world import World, WorldSettings

MANUFACTURER = "fleetsim"


@dataclass(frozen=True)
class RunOptions:
    """How to run a scenario's robots."""

    broker_url: str = "mqtt://127.0.0.1:1883"
    interface: str = "uagv"
    manufacturer: str = MANUFACTURER
    robots: int | None = None
    """Total robots (spread over the scenario's groups in proportion); None: as written."""
    seed: int | None = None
    """Overrides the scenario's seed (world, people and random faults)."""
    time_scale: float = 1.0
    physics_dt_s: float = PHYSICS_DT_S
    agent_tick_s: float | None = None
    """Extra agent ticks every this many simulated seconds; None: 1 s above 10x real time."""
    state_interval_s: float = 5.0
    keepalive_s: int = 10
    reconnect_max_s: float = 5.0
    """paho's reconnect back-off runs on real time; keep it short at high time scales."""
    faults: bool = True


def scaled_counts(groups: Sequence[RobotGroup], total: int | None) -> list[int]:
    """Robots per group when the run asks for `total` robots (largest remainder)."""
    counts = [g.count for g in groups]
    if total is None:
        return counts
    if total < len(groups):
        raise ValueError(f"robots: need at least {len(groups)} (one per robot group), got {total}")
    written = sum(counts)
    shares = [total * c / written for c in counts]
    scaled = [max(1, math.floor(s)) for s in shares]
    order = sorted(
        range(len(groups)), key=lambda k: shares[k] - math.floor(shares[k]), reverse=True
    )
    k = 0
    while sum(scaled) < total:
        scaled[order[k % len(order)]] += 1
        k += 1
    while sum(scaled) > total:
        largest = max(range(len(scaled)), key=lambda j: scaled[j])
        scaled[largest] -= 1
    return scaled


def start_spots(site: Site) -> list[Waypoint]:
    """Where robots start by default: chargers, parking spots, holding points, lane ends."""
    on_lanes = {end for lvl in site.levels for lane in lvl.lanes for end in (lane.start, lane.end)}

    def rank(wp: Waypoint) -> int:
        if wp.is_charger:
            return 0
        if wp.is_parking_spot:
            return 1
        return 2 if wp.is_holding_point else 3

    spots = sorted(
        (wp for wp in site.all_waypoints() if wp.id in on_lanes or rank(wp) < 3),
        key=lambda wp: (rank(wp), wp.level, wp.id),
    )
    seen: set[tuple[str, float, float]] = set()
    unique = []
    for wp in spots:
        key = (wp.level, round(wp.x, 2), round(wp.y, 2))
        if key not in seen:
            seen.add(key)
            unique.append(wp)
    return unique


@dataclass
class PlacedRobot:
    """A robot of the run: its serial, group and where it starts."""

    serial: str
    group: RobotGroup
    start: Waypoint


def place_robots(scenario: Scenario, total: int | None) -> list[PlacedRobot]:
    """Every robot of the run with its start waypoint (no two share a default spot)."""
    groups = scenario.file.robots
    counts = scaled_counts(groups, total)
    by_ref = {wp.id: wp for wp in scenario.site.all_waypoints()}
    by_ref.update({wp.name: wp for wp in scenario.site.all_waypoints() if wp.name})
    spots = iter(start_spots(scenario.site))
    placed = []
    for group, count in zip(groups, counts, strict=True):
        for k, serial in enumerate(group.serials(count)):
            if isinstance(group.start, list):
                start: Waypoint | None = by_ref[group.start[k % len(group.start)]]
            else:
                start = next(spots, None)
            if start is None:
                raise ValueError(
                    f"robots: map {scenario.site.name} has too few start spots for {serial}"
                )
            placed.append(PlacedRobot(serial, group, start))
    return placed


class KpiAccumulator:
    """Robot-side KPIs from the world's counters since the accumulator was made."""

    def __init__(self, world: World) -> None:
        self.world = world
        r = world.r
        self._t0 = world.t
        self._odometer = r.odometer_m.copy()
        self._energy = r.energy_wh.copy()
        self._charge = r.charge_s.copy()
        self._busy = r.busy_s.copy()
        self._battery_min = self._battery_pct()

    def _battery_pct(self) -> np.ndarray:
        r = self.world.r
        return np.asarray(100.0 * r.battery_wh / r.capacity_wh)

    def sample(self) -> None:
        """Track what counters do not keep (the lowest battery so far)."""
        self._battery_min = np.minimum(self._battery_min, self._battery_pct())

    def per_robot(self) -> list[dict[str, Any]]:
        """KPIs of each robot."""
        self.sample()
        r, world = self.world.r, self.world
        elapsed = max(world.t - self._t0, 1e-9)
        battery = self._battery_pct()
        rows = []
        for i, name in enumerate(world.names):
            model = world.models[i]
            rows.append(
                {
                    "robot": name,
                    "kind": model.kind if model else "",
                    "distance_m": round(float(r.odometer_m[i] - self._odometer[i]), 3),
                    "energy_wh": round(float(r.energy_wh[i] - self._energy[i]), 3),
                    "charging_s": round(float(r.charge_s[i] - self._charge[i]), 3),
                    "utilisation": round(float(r.busy_s[i] - self._busy[i]) / elapsed, 4),
                    "battery_end_pct": round(float(battery[i]), 2),
                    "battery_min_pct": round(float(self._battery_min[i]), 2),
                }
            )
        return rows

    def summary(self) -> dict[str, Any]:
        """Totals over the fleet and per kind, plus each robot."""
        rows = self.per_robot()
        kinds: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            kinds.setdefault(row["kind"], []).append(row)
        return {
            "sim_seconds": round(self.world.t - self._t0, 3),
            "fleet": _totals(rows),
            "by_kind": {kind: _totals(group) for kind, group in sorted(kinds.items())},
            "robots": rows,
        }


def _totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    n = max(len(rows), 1)
    return {
        "robots": len(rows),
        "distance_m": round(sum(r["distance_m"] for r in rows), 3),
        "energy_wh": round(sum(r["energy_wh"] for r in rows), 3),
        "charging_s": round(sum(r["charging_s"] for r in rows), 3),
        "utilisation": round(sum(r["utilisation"] for r in rows) / n, 4),
    }


@dataclass
class SimRun:
    """The robot side of one scenario run."""

    scenario: Scenario
    options: RunOptions
    seed: int
    world: World
    clock: SimClock | ManualClock
    robots: list[SimulatedRobot]
    faults: list[FaultSpec]
    fleet: SimFleet
    kpis: KpiAccumulator
    placed: list[PlacedRobot] = field(default_factory=list)


def build_world(scenario: Scenario, seed: int) -> World:
    """The scenario's world with its people, and no robots yet."""
    odds = scenario.file.people.odds()
    settings = WorldSettings(visitors=VisitorBehaviour(odds=odds))
    world = World(scenario.site, start=scenario.file.start, seed=seed, settings=settings)
    flows = [f.flow() for f in scenario.file.people.flows]
    if flows:
        world.add_people(flows)
    return world


def build_run(
    scenario: Scenario,
    options: RunOptions | None = None,
    *,
    clock: SimClock | ManualClock | None = None,
    broker_restart: Callable[[float], None] | None = None,
) -> SimRun:
    """World, robots, agents and fleet for a scenario (nothing runs until `fleet.run`)."""
    options = options or RunOptions()
    seed = scenario.file.seed if options.seed is None else options.seed
    world = build_world(scenario, seed)
    clock = clock or SimClock(options.time_scale, start=scenario.file.start)
    placed = place_robots(scenario, options.robots)
    robots = []
    for robot in placed:
        model = scenario.models[robot.group.kind]
        view = world.add_robot(
            robot.serial,
            model=model,
            x=robot.start.x,
            y=robot.start.y,
            level=robot.start.level,
            battery_pct=robot.group.battery_pct,
        )
        config = AgentConfig(
            manufacturer=options.manufacturer,
            serial_number=robot.serial,
            broker_url=options.broker_url,
            interface=options.interface,
            state_interval_s=options.state_interval_s,
            keepalive_s=options.keepalive_s,
            reconnect_min_s=min(0.5, options.reconnect_max_s),
            reconnect_max_s=options.reconnect_max_s,
            robot=model.description(),
        )
        robots.append(SimulatedRobot(config=config, body=view))
    serials = [p.serial for p in placed]
    faults = scenario.plan_faults(serials, seed) if options.faults else []
    tick = options.agent_tick_s
    if tick is None and options.time_scale > 10:
        tick = 1.0
    fleet = SimFleet(
        robots,
        world=world,
        clock=clock,
        physics_dt_s=options.physics_dt_s,
        agent_tick_s=tick,
        faults=faults,
        broker_restart=broker_restart,
    )
    kpis = KpiAccumulator(world)
    fleet.observers.append(kpis.sample)
    return SimRun(scenario, options, seed, world, clock, robots, faults, fleet, kpis, placed)

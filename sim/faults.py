"""Faults that happen in the field, scheduled or drawn at random from a seed.

World faults change the world's arrays directly: a robot stuck (it stalls, or its goal
fails as on a blocked lane), a battery fault (a sudden drop, faster drain, or a charger
that does not charge), a patrol anomaly (smoke, high temperature, an intruder in a closed
zone, a door left open: sensor values near a place), a door stuck shut, a lift out of
service. Process and network faults go through `FaultHooks`, which the fleet runner
implements: an agent process crash and restart, a robot's network cut and restored, a
broker restart.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from sim.world import Anomaly, LiftState, World

log = logging.getLogger(__name__)

FaultKind = Literal[
    "agent_crash",
    "network_cut",
    "broker_restart",
    "robot_stuck",
    "battery_fault",
    "patrol_anomaly",
    "door_stuck",
    "lift_out_of_service",
]
AnomalyKind = Literal["smoke", "high_temperature", "intruder", "door_open"]

ROBOT_FAULTS = frozenset({"agent_crash", "network_cut", "robot_stuck", "battery_fault"})
TIMED_FAULTS = frozenset(
    {
        "agent_crash",
        "network_cut",
        "robot_stuck",
        "patrol_anomaly",
        "door_stuck",
        "lift_out_of_service",
    }
)
PROCESS_FAULTS = frozenset({"agent_crash", "network_cut"})
"""Faults that need the robot's MQTT traffic to pass through a cuttable link."""

ANOMALY_VALUES: dict[str, float] = {
    "smoke": 1.0,
    "high_temperature": 65.0,
    "intruder": 1.0,
    "door_open": 1.0,
}


class FaultFields(BaseModel):
    """What a fault does, shared by scheduled and random faults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: FaultKind
    mode: Literal["stall", "fail"] = "stall"
    """robot_stuck: stand still, or fail the goal at once (a blocked lane)."""
    drop_to_pct: float | None = Field(default=None, ge=0, le=100)
    drain_factor: float | None = Field(default=None, gt=0, le=100)
    no_charge: bool = False
    anomaly: AnomalyKind | None = None
    waypoint: str | None = None
    """Where a patrol anomaly is (waypoint id or unique name)."""
    radius_m: float = Field(default=3.0, gt=0, le=100)
    value: float | None = None
    door: str | None = None
    lift: str | None = None

    @model_validator(mode="after")
    def _fields_for_kind(self) -> FaultFields:
        need: dict[str, tuple[str, ...]] = {
            "patrol_anomaly": ("anomaly", "waypoint"),
            "door_stuck": ("door",),
            "lift_out_of_service": ("lift",),
        }
        for name in need.get(self.kind, ()):
            if getattr(self, name) is None:
                raise ValueError(f"{name}: required for a {self.kind} fault")
        battery = (self.drop_to_pct, self.drain_factor)
        if self.kind == "battery_fault" and battery == (None, None) and not self.no_charge:
            raise ValueError("battery_fault: give drop_to_pct, drain_factor or no_charge: true")
        return self


class FaultSpec(FaultFields):
    """One fault at a moment of the run (seconds from the start)."""

    at_s: float = Field(ge=0)
    duration_s: float | None = Field(default=None, gt=0)
    robot: str | None = None

    @model_validator(mode="after")
    def _robot_and_duration(self) -> FaultSpec:
        if self.kind in ROBOT_FAULTS and self.robot is None:
            raise ValueError(f"robot: required for a {self.kind} fault")
        if self.kind in TIMED_FAULTS and self.duration_s is None:
            raise ValueError(f"duration_s: required for a {self.kind} fault")
        return self

    @property
    def end_s(self) -> float:
        """When the fault is over (inf for lasting or instantaneous ones)."""
        return math.inf if self.duration_s is None else self.at_s + self.duration_s


class RandomFaults(FaultFields):
    """Faults of one kind arriving at random (Poisson, `per_hour`) on random robots."""

    per_hour: float = Field(gt=0, le=3600)
    duration_s: tuple[float, float] = (10.0, 120.0)
    robots: tuple[str, ...] = ()
    """Robots it may hit; empty: any."""

    @model_validator(mode="after")
    def _duration_range(self) -> RandomFaults:
        lo, hi = self.duration_s
        if not 0 < lo <= hi:
            raise ValueError("duration_s: need 0 < min <= max")
        return self

    def draw(
        self, rng: np.random.Generator, horizon_s: float, robots: Sequence[str]
    ) -> list[FaultSpec]:
        """The faults of one run of `horizon_s` seconds."""
        pool = list(self.robots) or list(robots)
        if not pool and self.kind in ROBOT_FAULTS:
            return []
        faults: list[FaultSpec] = []
        t = 0.0
        rate_per_s = self.per_hour / 3600.0
        common = self.model_dump(exclude={"per_hour", "duration_s", "robots"})
        while True:
            t += float(rng.exponential(1.0 / rate_per_s))
            if t >= horizon_s:
                return faults
            lo, hi = self.duration_s
            robot = pool[int(rng.integers(len(pool)))] if self.kind in ROBOT_FAULTS else None
            faults.append(
                FaultSpec(**common, at_s=t, duration_s=float(rng.uniform(lo, hi)), robot=robot)
            )


def fault_plan(
    scheduled: Sequence[FaultSpec],
    random: Sequence[RandomFaults],
    *,
    seed: int,
    horizon_s: float,
    robots: Sequence[str],
) -> list[FaultSpec]:
    """Scheduled faults plus random ones drawn with `seed`, in time order."""
    streams = np.random.SeedSequence(seed).spawn(max(1, len(random)))
    drawn = [
        spec.draw(np.random.default_rng(stream), horizon_s, robots)
        for spec, stream in zip(random, streams, strict=False)
    ]
    plan = [*scheduled, *(f for faults in drawn for f in faults)]
    return sorted(plan, key=lambda f: (f.at_s, f.kind, f.robot or ""))


class FaultHooks(Protocol):
    """Process and network faults, carried out by whoever runs the agents."""

    def crash_agent(self, robot: str) -> None:
        """Kill the robot's agent without a goodbye."""
        ...

    def restart_agent(self, robot: str) -> None:
        """Start a fresh agent process for the robot."""
        ...

    def cut_network(self, robot: str) -> None:
        """Drop the robot's connection and refuse new ones."""
        ...

    def restore_network(self, robot: str) -> None:
        """Let the robot connect again."""
        ...

    def restart_broker(self, downtime_s: float) -> None:
        """Stop the broker, wait `downtime_s` simulated seconds, start it again."""
        ...


@dataclass(frozen=True)
class FaultEvent:
    """A fault starting or ending, for the run's log and report."""

    t: float
    kind: str
    robot: str | None
    phase: Literal["start", "end"]


class FaultInjector:
    """Applies a fault plan to a world (and through hooks to agents) as time passes."""

    def __init__(self, plan: Sequence[FaultSpec], world: World, hooks: FaultHooks | None) -> None:
        self.world = world
        self.hooks = hooks
        self._pending = sorted(plan, key=lambda f: f.at_s)
        self._active: list[FaultSpec] = []
        self.events: list[FaultEvent] = []
        for n, fault in enumerate(self._pending):
            self._check(n, fault)

    def _check(self, n: int, fault: FaultSpec) -> None:
        where = f"faults[{n}] ({fault.kind} at {fault.at_s:.0f} s)"
        if fault.robot is not None and fault.robot not in self.world.names:
            raise ValueError(f"{where}: robot: no robot called {fault.robot!r}")
        if fault.kind in ("agent_crash", "network_cut", "broker_restart") and self.hooks is None:
            raise ValueError(f"{where}: needs agents (a fleet runner) to act on")
        if fault.door is not None and fault.door not in self.world.doors:
            raise ValueError(f"{where}: door: no door called {fault.door!r}")
        if fault.lift is not None and fault.lift not in {lf.name for lf in self.world.lifts}:
            raise ValueError(f"{where}: lift: no lift called {fault.lift!r}")
        if fault.waypoint is not None:
            self._place(fault, where)

    def _place(self, fault: FaultSpec, where: str) -> tuple[int, float, float]:
        site = self.world.site
        if site is None or fault.waypoint is None:
            raise ValueError(f"{where}: waypoint: needs a site")
        matches = [wp for wp in site.all_waypoints() if fault.waypoint in (wp.id, wp.name)]
        if len(matches) != 1:
            problem = "no such waypoint" if not matches else "ambiguous name"
            raise ValueError(f"{where}: waypoint: {fault.waypoint!r}: {problem}")
        wp = matches[0]
        return self.world.level_index[wp.level], wp.x, wp.y

    @property
    def active(self) -> list[FaultSpec]:
        """Faults under way now."""
        return list(self._active)

    def tick(self) -> list[FaultEvent]:
        """Start and end whatever is due at the world's time; returns what happened."""
        t = self.world.t
        happened: list[FaultEvent] = []
        while self._pending and self._pending[0].at_s <= t:
            fault = self._pending.pop(0)
            self._start(fault)
            happened.append(FaultEvent(t, fault.kind, fault.robot, "start"))
            if fault.end_s < math.inf:
                self._active.append(fault)
        for fault in [f for f in self._active if f.end_s <= t]:
            self._active.remove(fault)
            self._end(fault)
            happened.append(FaultEvent(t, fault.kind, fault.robot, "end"))
        for event in happened:
            log.info("fault %s %s %s at %.1f s", event.kind, event.phase, event.robot or "", t)
        self.events.extend(happened)
        return happened

    def _start(self, fault: FaultSpec) -> None:
        world, r = self.world, self.world.r
        i = world.index_of(fault.robot) if fault.robot is not None else -1
        if fault.kind == "robot_stuck":
            r.stuck_until[i] = fault.end_s
            r.stuck_fails[i] = fault.mode == "fail"
        elif fault.kind == "battery_fault":
            if fault.drop_to_pct is not None:
                r.battery_wh[i] = min(r.battery_wh[i], r.capacity_wh[i] * fault.drop_to_pct / 100)
            if fault.drain_factor is not None:
                r.drain_factor[i] = fault.drain_factor
            r.charge_blocked[i] = fault.no_charge or bool(r.charge_blocked[i])
        elif fault.kind == "patrol_anomaly" and fault.anomaly is not None:
            level, x, y = self._place(fault, fault.kind)
            value = fault.value if fault.value is not None else ANOMALY_VALUES[fault.anomaly]
            world.anomalies.append(
                Anomaly(fault.anomaly, level, x, y, fault.radius_m, value, fault.at_s, fault.end_s)
            )
        elif fault.kind == "door_stuck" and fault.door is not None:
            world.doors[fault.door].stuck = True
        elif fault.kind == "lift_out_of_service":
            self._lift(fault).out_of_service = True
        else:
            self._start_process_fault(fault)

    def _start_process_fault(self, fault: FaultSpec) -> None:
        hooks = self.hooks
        if hooks is None:
            return
        if fault.kind == "agent_crash" and fault.robot is not None:
            hooks.crash_agent(fault.robot)
        elif fault.kind == "network_cut" and fault.robot is not None:
            hooks.cut_network(fault.robot)
        elif fault.kind == "broker_restart":
            hooks.restart_broker(fault.duration_s or 0.0)

    def _end(self, fault: FaultSpec) -> None:
        r = self.world.r
        i = self.world.index_of(fault.robot) if fault.robot is not None else -1
        if fault.kind == "battery_fault":
            r.drain_factor[i] = 1.0
            r.charge_blocked[i] = False
        elif fault.kind == "door_stuck" and fault.door is not None:
            self.world.doors[fault.door].stuck = False
        elif fault.kind == "lift_out_of_service":
            self._lift(fault).out_of_service = False
        elif self.hooks is not None and fault.robot is not None:
            if fault.kind == "agent_crash":
                self.hooks.restart_agent(fault.robot)
            elif fault.kind == "network_cut":
                self.hooks.restore_network(fault.robot)

    def _lift(self, fault: FaultSpec) -> LiftState:
        return next(lf for lf in self.world.lifts if lf.name == fault.lift)

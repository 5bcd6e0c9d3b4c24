"""Charging: when a robot goes to a charger, which charger, the trip there, when it stops.

Per robot class (the registered robot's `kind`) a `ChargingClass` says below which charge
an idle robot goes to charge (`threshold_pct`), the charge at which it stops and takes
work again (`resume_pct`), the charge every plan keeps in hand on the way back to a
charger (`reserve_pct`) and the drain the dispatcher plans with (`drain_pct_per_h` of
travel or work). Classes come from the settings (`FLEET_CHARGING_CLASSES`, a JSON object
by kind); a kind without an entry uses `FLEET_CHARGING_DEFAULT` (defaults below).

A charger is a site waypoint flagged `is_charger`. `ChargerBook` reserves one robot per
charger: a robot is sent only to a charger nobody holds and no other robot stands on.
The trip is an order to the charger whose last node carries `startCharging` (VDA 5050
§6.8.1: an action that may run on a node), so charging starts on arrival; it goes out
through traffic control like a mission's. The runtime sends `stopCharging` as an instant
action once the robot reports `resume_pct`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from fleet_server.fleet.live_state import RobotKey
from missions.compiler import CompiledMission, RobotProfile, StartPose, compile_mission
from missions.sites import Site
from missions.types import Capability, parse_mission
from missions.vda5050 import Action, BlockingType

CHARGER_REACH_M = 0.5
"""A robot this close to a charger stands on it (the simulator's charger radius)."""


class ChargingClass(BaseModel):
    """When robots of one class charge, and the battery figures the dispatcher plans with."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    threshold_pct: float = Field(25.0, ge=0, le=100)
    """An idle robot below this charge goes to a charger and gets no normal work."""
    resume_pct: float = Field(90.0, ge=0, le=100)
    """Charging stops at this charge; the robot then takes work again."""
    reserve_pct: float = Field(15.0, ge=0, le=100)
    """Charge left on arrival back at a charger after any planned mission."""
    drain_pct_per_h: float = Field(40.0, ge=0, le=10_000)
    """Charge used per hour of travel or work (the simulator's robot: 0.01 %/m at 1 m/s
    plus idle drain, about 40 %/h)."""

    @model_validator(mode="after")
    def _ordered(self) -> ChargingClass:
        if self.resume_pct <= self.threshold_pct:
            raise ValueError("resume_pct: must be above threshold_pct")
        if self.reserve_pct > self.threshold_pct:
            raise ValueError("reserve_pct: must not be above threshold_pct")
        return self

    @property
    def drain_pct_per_s(self) -> float:
        """Charge used per second of travel or work."""
        return self.drain_pct_per_h / 3600.0


@dataclass(frozen=True)
class ChargingPolicy:
    """Charging classes by robot kind, with a default."""

    default: ChargingClass = dataclasses.field(default_factory=ChargingClass)
    classes: Mapping[str, ChargingClass] = dataclasses.field(default_factory=dict)

    def for_kind(self, kind: str) -> ChargingClass:
        """The class of robots of `kind`."""
        return self.classes.get(kind, self.default)


def needs_charge(battery_pct: float | None, charging: ChargingClass) -> bool:
    """Below the class's threshold (an unknown charge never is)."""
    return battery_pct is not None and battery_pct < charging.threshold_pct


def charged(battery_pct: float | None, charging: ChargingClass) -> bool:
    """At or above the class's resume level."""
    return battery_pct is not None and battery_pct >= charging.resume_pct


class ChargerBook:
    """Which robot holds which charger (one robot per charger)."""

    def __init__(self) -> None:
        self._holder: dict[tuple[str, str], RobotKey] = {}
        """(site id, charger waypoint id) → robot."""

    def holder(self, site_id: str, charger: str) -> RobotKey | None:
        """The robot holding a charger, if any."""
        return self._holder.get((site_id, charger))

    def charger_of(self, robot: RobotKey) -> tuple[str, str] | None:
        """(site id, charger) the robot holds, if any."""
        for place, holder in self._holder.items():
            if holder == robot:
                return place
        return None

    def reserve(self, site_id: str, charger: str, robot: RobotKey) -> None:
        """Give the charger to `robot` (it gives up any other); refuses a held one."""
        current = self._holder.get((site_id, charger))
        if current is not None and current != robot:
            raise ValueError(f"charger {charger}: held by {current[1]}")
        self.release(robot)
        self._holder[(site_id, charger)] = robot

    def release(self, robot: RobotKey) -> None:
        """The robot gives up its charger."""
        for place in [p for p, holder in self._holder.items() if holder == robot]:
            del self._holder[place]

    def reservations(self, site_id: str) -> dict[str, RobotKey]:
        """Charger waypoint → robot, for one site."""
        return {c: robot for (s, c), robot in self._holder.items() if s == site_id}


def site_chargers(site: Site) -> list[str]:
    """Waypoint ids of the site's chargers."""
    return [wp.id for wp in site.all_waypoints() if wp.is_charger]


def occupied_chargers(
    site: Site, poses: Iterable[tuple[RobotKey, float, float, str]]
) -> dict[str, RobotKey]:
    """Chargers some robot stands on: waypoint id → robot."""
    chargers = [wp for wp in site.all_waypoints() if wp.is_charger]
    found: dict[str, RobotKey] = {}
    for robot, x, y, level in poses:
        for wp in chargers:
            if wp.level == level and math.hypot(wp.x - x, wp.y - y) <= CHARGER_REACH_M:
                found.setdefault(wp.id, robot)
    return found


def pick_charger(
    robot: RobotKey,
    travel_s: Mapping[str, float],
    site_id: str,
    book: ChargerBook,
    occupied: Mapping[str, RobotKey],
) -> str | None:
    """The nearest charger (by `travel_s`, charger → seconds) free for `robot`."""
    free = [
        (seconds, charger)
        for charger, seconds in travel_s.items()
        if math.isfinite(seconds)
        and book.holder(site_id, charger) in (None, robot)
        and occupied.get(charger) in (None, robot)
    ]
    return min(free)[1] if free else None


class TripPhase(StrEnum):
    """Where a charging trip is."""

    GOING = "going"
    CHARGING = "charging"


@dataclass
class ChargeTrip:
    """A robot sent to a charger."""

    site_id: str
    charger: str
    order_id: str
    final_node: tuple[str, int]
    phase: TripPhase = TripPhase.GOING
    sent_at: float = 0.0
    """Monotonic time the order went out."""


def charge_plan(
    site: Site, profile: RobotProfile, start: StartPose, charger: str, order_id: str
) -> CompiledMission:
    """The way to `charger` as a plan whose last node carries `startCharging`."""
    spec = parse_mission(
        {
            "kind": "patrol",
            "site": site.name,
            "checkpoints": [{"waypoint": charger, "dwell_s": 0, "checks": []}],
            "dwell_s": 0,
            "checks": [],
        }
    )
    # The way there is routed like a one-stop patrol; the stop's check becomes the charge.
    driver = profile.model_copy(update={"capabilities": (*profile.capabilities, Capability.PATROL)})
    compiled = compile_mission(spec, site, driver, start=start, order_id=order_id)
    last = compiled.nodes[-1]
    kept = [a for a in last.actions if a.action_type != "patrolCheck"]
    charge = Action(
        action_type="startCharging",
        action_id=f"{order_id}-startCharging",
        blocking_type=BlockingType.HARD,
    )
    nodes = (*compiled.nodes[:-1], last.model_copy(update={"actions": [*kept, charge]}))
    return dataclasses.replace(compiled, nodes=nodes, _releases=[])


def final_node(compiled: CompiledMission) -> tuple[str, int]:
    """(nodeId, sequenceId) of a plan's last node: where the robot reports it arrived."""
    last = compiled.nodes[-1]
    return (last.node_id, last.sequence_id)

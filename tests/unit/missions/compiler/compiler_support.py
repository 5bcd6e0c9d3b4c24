"""Helpers for the mission compiler tests: robots, sites with rooms, orders as JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from missions.compiler import RobotProfile
from missions.sites import Site, Zone, ZoneKind
from missions.vda5050 import Order, encode

RMF = Path(__file__).resolve().parents[3] / "fixtures" / "maps" / "rmf"

ALL_CAPABILITIES = ["patrol", "uv_disinfection", "spray_disinfection", "guidance"]

TREATMENT_ROOM_1 = ((7.6, -11.6), (11.7, -11.6), (11.7, -15.8), (7.6, -15.8))
"""A room drawn around L1_left_treatment_1 (waypoint L1:384 at 10.1, -13.6) on the clinic's
L1; its door (L1_left_treatment_1) is at x = 11.8."""

WARD_L2 = ((23.5, -13.0), (29.5, -13.0), (29.5, -19.0), (23.5, -19.0))
"""An empty rectangle on the clinic's L2 with no waypoint inside."""


def make_robot(**overrides: Any) -> RobotProfile:
    """A robot that can do everything, with the HERO21-like lamp; fields overridable."""
    fields: dict[str, Any] = {
        "manufacturer": "acme",
        "serial_number": "r1",
        "kind": "service_robot",
        "capabilities": ALL_CAPABILITIES,
        "max_speed_m_s": 1.0,
        "uv_irradiance_at_1m_mw_cm2": 2.67,
    }
    fields.update(overrides)
    return RobotProfile.model_validate(fields)


def with_zones(site: Site, zones: dict[str, list[Zone]]) -> Site:
    """A copy of ``site`` with extra zones on the named levels."""
    return edit_levels(site, lambda level: {"zones": (*level.zones, *zones.get(level.name, []))})


def edit_levels(site: Site, change: Any) -> Site:
    """A copy of ``site`` where each level is updated with ``change(level)`` (a dict)."""
    levels = [level.model_copy(update=change(level)) for level in site.levels]
    return Site.model_validate(
        {**site.model_dump(), "levels": [level.model_dump() for level in levels]}
    )


def clinic_with_rooms(clinic: Site) -> Site:
    """The clinic with two rooms drawn in as zones (the Open-RMF file has none)."""
    return with_zones(
        clinic,
        {
            "L1": [Zone(name="treatment_1", kind=ZoneKind.UV_ALLOWED, polygon=TREATMENT_ROOM_1)],
            "L2": [Zone(name="ward_l2", kind=ZoneKind.QUIET, polygon=WARD_L2)],
        },
    )


def wire(order: Order) -> dict[str, Any]:
    """The order as the JSON a robot receives."""
    body: dict[str, Any] = json.loads(encode(order))
    return body

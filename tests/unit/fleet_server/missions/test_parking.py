"""Parking for emergency mode: distinct spots with the least total travel, and the order."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from fleet_server.fleet.live_state import LivePose
from fleet_server.missions.parking import assign_spots, parking_order, parking_spots, spot_times
from missions.compiler import RobotProfile
from missions.sites import Site, import_site
from missions.types import Capability

RMF = Path(__file__).resolve().parents[3] / "fixtures" / "maps" / "rmf"


@pytest.fixture(scope="module")
def clinic() -> Site:
    return import_site(RMF / "clinic.building.yaml", kind="hospital")


def _uv_robot(serial: str) -> RobotProfile:
    # A robot without the patrol capability: parking needs none.
    return RobotProfile(
        manufacturer="m", serial_number=serial, capabilities=(Capability.UV_DISINFECTION,)
    )


def test_assignment_is_distinct_and_optimal() -> None:
    times = {
        ("m", "a"): {"s1": 1.0, "s2": 2.0, "s3": 9.0},
        ("m", "b"): {"s1": 1.5, "s2": 8.0, "s3": 9.0},
        ("m", "c"): {"s1": 3.0, "s3": 4.0},
    }
    chosen = assign_spots(times, ["s1", "s2", "s3"])
    assert len(set(chosen.values())) == 3
    best = min(
        sum(times[r][s] for r, s in zip(times, perm, strict=True))
        for perm in itertools.permutations(["s1", "s2", "s3"])
        if all(s in times[r] for r, s in zip(times, perm, strict=True))
    )
    assert sum(times[r][s] for r, s in chosen.items()) == best


def test_a_robot_with_no_reachable_free_spot_gets_none() -> None:
    chosen = assign_spots({("m", "a"): {"s1": 1.0}, ("m", "b"): {"s1": 2.0}}, ["s1"])
    assert chosen == {("m", "a"): "s1"}
    assert assign_spots({("m", "a"): {}}, ["s1"]) == {}


def test_order_to_the_nearest_spot_keeps_only_driving_actions(clinic: Site) -> None:
    robot = _uv_robot("u1")
    pose = LivePose(20.0, -12.0, 0.0, "L1")
    times = spot_times(clinic, robot, pose, parking_spots(clinic))
    nearest = min(times, key=lambda s: times[s])
    order = parking_order(clinic, robot, pose, nearest, "park-1")
    assert order.order_id == "park-1" and order.nodes[-1].node_id == nearest
    kinds = {a.action_type for n in order.nodes for a in n.actions}
    assert kinds <= {"callLift", "openDoor"}
    assert len(order.edges) == len(order.nodes) - 1


def test_a_spot_on_another_level_is_reached_by_lift(clinic: Site) -> None:
    robot = _uv_robot("u2")
    pose = LivePose(20.0, -12.0, 0.0, "L1")
    upstairs = [s for s in parking_spots(clinic) if s.startswith("L2")]
    times = spot_times(clinic, robot, pose, upstairs)
    assert times, "some L2 spot must be reachable"
    order = parking_order(clinic, robot, pose, min(times, key=lambda s: times[s]), "park-2")
    assert "callLift" in {a.action_type for n in order.nodes for a in n.actions}
    assert order.nodes[-1].node_position is not None
    assert order.nodes[-1].node_position.map_id == "L2"

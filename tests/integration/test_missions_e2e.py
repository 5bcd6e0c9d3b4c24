"""Missions end to end: REST API → dispatcher → VDA 5050 orders → simulated robots → reports.

Real Mosquitto, a real SQLite database, the clinic map, and four simulated robots each
running the real onboard agent.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from missions.types import Capability
from tests.support.fleet_world import World, fleet_world
from tests.support.mqtt import wait_until

TIME_SCALE = 5.0
"""The robots' simulated time (driving, dwelling, dosing, lifts) runs this much faster."""
ROBOTS = {
    "e2e-patrol": ("L1_left_nurse_center", [Capability.PATROL]),
    "e2e-uv": ("L1_sub_waiting_area_2", [Capability.UV_DISINFECTION]),
    "e2e-guide": ("L1_sub_waiting_area_5", [Capability.GUIDANCE]),
    "e2e-patrol-2": ("L1_right_nurse_center", [Capability.PATROL]),
}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with fleet_world(tmp_path, ROBOTS, time_scale=TIME_SCALE) as running:
        yield running


def _await_state(world: World, mission_id: str, states: set[str], timeout: float) -> str:
    return world.await_state(mission_id, states, timeout)


def test_patrol_disinfection_guidance_complete_and_a_cancelled_mission_stops(world: World) -> None:
    patrol = world.create(
        {
            "kind": "patrol",
            "site": "clinic",
            "checkpoints": ["L1_left_treatment_1", "L1_sub_waiting_area_3"],
            "dwell_s": 1.0,
            "checks": ["door_closed"],
            "preferred_robot": "e2e-patrol",
        }
    )
    uv = world.create(
        {
            "kind": "disinfection",
            "site": "clinic",
            "method": "uv",
            "target_dose_mj_cm2": 10,
            "targets": [
                {"waypoint": "L1_left_negative_air_pressure"},
                {"waypoint": "L1_sub_waiting_area_1"},
            ],
        }
    )
    guide = world.create(
        {
            "kind": "guidance",
            "site": "clinic",
            "from": "L1_sub_waiting_area_5",
            "to": "L2_north_counter",
            "language": "en",
            "max_speed_m_s": 1.0,
            "wait_for_person_timeout_s": 30,
        }
    )
    long_patrol = world.create(
        {
            "kind": "patrol",
            "site": "clinic",
            "rounds": 5,
            "dwell_s": 0.5,
            "checkpoints": ["L1_right_treatment", "L1_sub_waiting_area_8", "L1_right_procedure"],
            "preferred_robot": "e2e-patrol-2",
        }
    )
    _await_state(world, long_patrol, {"active"}, 20)
    time.sleep(1.0)
    cancelled = world.client.post(f"/api/v1/missions/{long_patrol}/cancel", headers=world.headers)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state"] == "cancelled"
    body = world.bodies["e2e-patrol-2"]
    assert wait_until(lambda: body.goal is None and body.speed == 0, 5), "robot did not stop"
    x, y = body.x, body.y
    time.sleep(1.0)
    if (body.x, body.y) != (x, y):
        # Moving again only on another order: traffic control sends an idle robot out of
        # the way of others (`<serial>-way-<n>`); the cancelled patrol never goes on.
        def order_now() -> str:
            live = world.services.live.get("fleetsim", "e2e-patrol-2")
            return live.state.order_id if live is not None and live.state is not None else ""

        assert wait_until(lambda: order_now().startswith("e2e-patrol-2-way-"), 2), (
            world.robot_summary("e2e-patrol-2")
        )

    for mission_id in (patrol, uv, guide):
        assert (
            _await_state(world, mission_id, {"completed", "failed", "cancelled"}, 120)
            == "completed"
        )

    report = world.client.get(f"/api/v1/missions/{uv}/report", headers=world.headers)
    assert report.status_code == 200, report.text
    points = report.json()["points"]
    assert len(points) == 2
    for point in points:
        assert point["passed"], point
        assert point["unit"] == "mJ/cm²"
        assert point["delivered"] >= point["target"] == 10
    html = world.client.get(
        f"/api/v1/missions/{uv}/report?format=html&language=en", headers=world.headers
    )
    assert html.status_code == 200 and "<html" in html.text.lower()

    events = world.client.get(f"/api/v1/missions/{guide}/events", headers=world.headers).json()
    assert [e["to_state"] for e in events] == [
        "pending",
        "assigned",
        "dispatched",
        "active",
        "completed",
    ]
    assert world.bodies["e2e-guide"].map_id == "L2"

    page = world.client.get("/api/v1/missions?state=completed", headers=world.headers).json()
    assert {m["id"] for m in page["items"]} == {patrol, uv, guide}

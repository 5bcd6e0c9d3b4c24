"""The dispatcher end to end: preemption and charging on real Mosquitto with simulated robots.

An emergency that finds no free robot preempts a normal patrol, which pauses, waits and
later finishes from the round it was in; a robot below its charging threshold goes to a
charger, starts charging there, is passed over for normal work, and takes work again once
charged to the resume level. `GET /api/v1/sites/{id}/plan` shows the charger it holds.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from missions.types import Capability
from tests.support.fleet_world import World, fleet_world
from tests.support.mqtt import wait_until

DONE = {"completed", "failed", "cancelled"}
TIME_SCALE = 6.0
"""Robots drive and dwell six times faster than real time."""


def _plan(world: World) -> dict[str, Any]:
    response = world.client.get("/api/v1/sites/clinic/plan", headers=world.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_an_emergency_preempts_a_patrol_which_resumes_and_completes(tmp_path: Path) -> None:
    robots = {"pre-a": ("L1_left_nurse_center", [Capability.PATROL])}
    with fleet_world(tmp_path, robots, time_scale=TIME_SCALE) as world:
        normal = world.create(
            {
                "kind": "patrol",
                "site": "clinic",
                "rounds": 2,
                "dwell_s": 1.0,
                "checkpoints": ["L1_left_treatment_1", "L1_sub_waiting_area_3"],
            }
        )
        world.await_state(normal, {"active"}, 20)
        time.sleep(1.0)
        emergency = world.create(
            {
                "kind": "patrol",
                "site": "clinic",
                "priority": "emergency",
                "dwell_s": 0.5,
                "checkpoints": ["L1_sub_waiting_area_5"],
            }
        )
        assert world.await_state(emergency, DONE, 60) == "completed"
        assert world.mission(emergency)["robot"] == "pre-a"
        assert world.await_state(normal, DONE, 90) == "completed"

        events = world.events(normal)
        transitions = [(e["from_state"], e["to_state"]) for e in events]
        assert ("active", "paused") in transitions
        assert ("paused", "pending") in transitions
        assert transitions[-1] == ("active", "completed")
        causes = [e["cause"] for e in events]
        assert any(f"preempted by emergency mission {emergency}" in c for c in causes), causes
        assert any("waits for a robot" in c and "rounds done" in c for c in causes), causes
        # The emergency ran while the patrol waited: it finished first.
        assert world.mission(emergency)["finished_at"] < world.mission(normal)["finished_at"]
        assert not any(e["to_state"] == "pending" for e in world.events(emergency)[1:]), (
            "the emergency was never queued behind the patrol"
        )


def test_a_low_robot_charges_and_gets_no_normal_work_until_charged(tmp_path: Path) -> None:
    robots = {
        "bat-low": ("L1_sub_waiting_area_2", [Capability.PATROL]),
        "bat-ok": ("L1_right_nurse_center", [Capability.PATROL]),
    }
    with fleet_world(tmp_path, robots, time_scale=TIME_SCALE) as world:
        body = world.bodies["bat-low"]
        body.charge_pct_per_s = 0.0
        body.battery_pct = 20.0  # below the default 25 % threshold

        def holds_charger(phase: str | None = None) -> bool:
            return any(
                c["serial_number"] == "bat-low" and (phase is None or c["phase"] == phase)
                for c in _plan(world)["chargers"]
            )

        assert wait_until(holds_charger, 10), _plan(world)
        mission = world.create(
            {
                "kind": "patrol",
                "site": "clinic",
                "dwell_s": 0.5,
                "checkpoints": ["L1_sub_waiting_area_3"],
                "preferred_robot": "bat-low",
            }
        )
        world.await_state(mission, {"active", *DONE}, 20)
        assert world.mission(mission)["robot"] == "bat-ok"
        assert wait_until(lambda: body.charging, 30), world.robot_summary("bat-low")
        assert wait_until(lambda: holds_charger("charging"), 5), _plan(world)
        assert world.await_state(mission, DONE, 60) == "completed"

        body.charge_pct_per_s = 25.0  # a fast charger: from 20 % to the 90 % resume level
        assert wait_until(lambda: not body.charging, 20), world.robot_summary("bat-low")
        assert body.battery_pct >= 90.0
        assert wait_until(lambda: not holds_charger(), 5), _plan(world)
        # The server plans from what the robot reported: wait until it says it stopped
        # charging (a busy machine delivers that state later than the body changed).
        live = world.services.live
        assert wait_until(
            lambda: (robot := live.get("fleetsim", "bat-low")) is not None and not robot.charging,
            10,
        ), world.robot_summary("bat-low")
        again = world.create(
            {
                "kind": "patrol",
                "site": "clinic",
                "dwell_s": 0.5,
                "checkpoints": ["L1_sub_waiting_area_3"],
                "preferred_robot": "bat-low",
            }
        )
        assert world.await_state(again, DONE, 60) == "completed"
        assert world.mission(again)["robot"] == "bat-low"

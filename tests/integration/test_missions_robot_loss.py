"""A robot lost mid-mission: the mission pauses, then goes to another robot and finishes."""

from __future__ import annotations

from pathlib import Path

from missions.types import Capability
from tests.support.fleet_world import fleet_world
from tests.support.mqtt import wait_until


def test_killed_agent_mission_is_paused_then_reassigned_and_completed(tmp_path: Path) -> None:
    robots = {
        "loss-a": ("L1_left_nurse_center", [Capability.PATROL]),
        "loss-b": ("L1_right_nurse_center", [Capability.PATROL]),
    }
    with fleet_world(tmp_path, robots, time_scale=4.0, mission_reassign_after_s=3.0) as world:
        mission = world.create(
            {
                "kind": "patrol",
                "site": "clinic",
                "dwell_s": 3.0,
                "preferred_robot": "loss-a",
                "checkpoints": ["L1_sub_waiting_area_3", "L1_right_procedure"],
            }
        )
        world.await_state(mission, {"active"}, 20)
        assert world.mission(mission)["robot"] == "loss-a"
        world.sims["loss-a"].stop()  # the agent dies (clean disconnect: it said OFFLINE)
        world.await_state(mission, {"paused"}, 5)
        assert wait_until(lambda: world.mission(mission)["robot"] == "loss-b", 15)
        assert world.await_state(mission, {"completed", "failed", "cancelled"}, 90) == "completed"
        transitions = [(e["from_state"], e["to_state"]) for e in world.events(mission)]
        assert ("active", "paused") in transitions
        assert ("paused", "pending") in transitions
        assert transitions[-1] == ("active", "completed")
        causes = " ".join(e["cause"] for e in world.events(mission))
        assert "robot offline" in causes and "reassigning" in causes

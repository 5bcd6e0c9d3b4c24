"""Site emergency mode with ten simulated robots: all to distinct parking spots, missions
paused and new ones held while it lasts; after clearing, every mission runs to completion."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from fleet_server.feeds.signing import verify
from missions.sites import import_site
from missions.types import Capability
from tests.support.fleet_world import RMF, World, fleet_world
from tests.support.mqtt import wait_until
from tests.support.webhook_receiver import Receiver, webhook_receiver

# Nine robots away from parking, one already standing on a spot (L1_left_nurse_center).
STARTS = (
    "L1_left_treatment_1",
    "L1_left_negative_air_pressure",
    "L1_sub_waiting_area_2",
    "L1_sub_waiting_area_3",
    "L1_right_procedure",
    "L1_right_treatment",
    "L1_right_negative_air_pressure",
    "L1_sub_waiting_area_7",
    "deliveryRobot_1_charger",
    "L1_left_nurse_center",
)
ROBOTS = {f"em{i:02d}": (start, [Capability.PATROL]) for i, start in enumerate(STARTS)}
TIME_SCALE = 4.0
"""The robots' simulated time runs this much faster than real time."""
DWELL_S = 40.0
"""Each robot checks the place it starts at (simulated seconds): every robot is mid-mission
(dwelling) when the alarm goes off, and after clearing drives back there from its parking
spot."""


def _status(world: World) -> dict[str, Any]:
    response = world.client.get("/api/v1/sites/clinic/emergency", headers=world.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _patrol(serial: str | None, checkpoint: str, dwell_s: float = DWELL_S) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "patrol",
        "site": "clinic",
        "dwell_s": dwell_s,
        "checkpoints": [checkpoint],
    }
    if serial is not None:
        body["preferred_robot"] = serial
    return body


def test_emergency_parks_every_robot_and_missions_resume_after_clearing(tmp_path: Path) -> None:
    site = import_site(RMF / "clinic.building.yaml", kind="hospital")
    spots = {wp.id: wp for wp in site.all_waypoints() if wp.is_parking_spot}
    assert len(spots) >= len(ROBOTS), "the clinic needs a parking spot per robot"
    with (
        fleet_world(tmp_path, ROBOTS, time_scale=TIME_SCALE) as world,
        webhook_receiver() as receiver,
    ):
        hook = world.client.post(
            "/api/v1/webhooks",
            json={
                "name": "city-brain",
                "url": receiver.url("/clinic"),
                "event_types": ["mission.transition", "alarm.raised", "site.emergency.started"],
                "site_id": "clinic",
            },
            headers=world.headers,
        )
        assert hook.status_code == 201, hook.text
        missions = {
            serial: world.create(_patrol(serial, start)) for serial, (start, _) in ROBOTS.items()
        }
        for mission in missions.values():
            world.await_state(mission, {"active"}, 20)

        started = world.client.post(
            "/api/v1/sites/clinic/emergency",
            json={"reason": "fire alarm, east wing"},
            headers=world.headers,
        )
        assert started.status_code == 201, started.text
        again = world.client.post(
            "/api/v1/sites/clinic/emergency", json={"reason": "twice"}, headers=world.headers
        )
        assert again.status_code == 409

        # Every robot reaches a parking spot of its own.
        def parked() -> bool:
            robots = _status(world)["robots"]
            return len(robots) == len(ROBOTS) and all(r["phase"] == "parked" for r in robots)

        assert wait_until(parked, 45, interval_s=0.5), _status(world)
        status = _status(world)
        taken = [r["spot"] for r in status["robots"]]
        assert len(set(taken)) == len(ROBOTS)
        for entry in status["robots"]:
            serial = entry["robot"].split("/")[1]
            pose = world.services.live.get("fleetsim", serial).pose  # type: ignore[union-attr]
            spot = spots[entry["spot"]]
            assert pose is not None and pose.map_id == spot.level
            assert math.hypot(pose.x - spot.x, pose.y - spot.y) < 0.6, (serial, pose, spot)
        # The robot that stood on a spot keeps it.
        assert any(
            e["robot"] == "fleetsim/em09" and spots[e["spot"]].name == "L1_left_nurse_center"
            for e in status["robots"]
        )
        # Missions are paused, off their robots; a new mission is held.
        for mission in missions.values():
            assert world.state(mission) == "paused"
        assert sorted(status["suspended_missions"]) == sorted(missions.values())
        held = world.create(_patrol(None, "L1_sub_waiting_area_3", dwell_s=1.0))
        assert not wait_until(lambda: world.state(held) != "pending", 2.0)
        # The alarm is raised.
        alarms = world.client.get(
            "/api/v1/alarms",
            params={"site_id": "clinic", "code": "site.emergency"},
            headers=world.headers,
        ).json()["items"]
        assert [a["active"] for a in alarms] == [True]
        # The operations centre heard it all, signed: the emergency, its alarm, the pauses.
        assert wait_until(lambda: _paused_events(receiver) >= len(ROBOTS), 10)
        received = receiver.at("/clinic")
        assert all(
            verify(hook.json()["secret"], r.body, r.headers["x-fleet-signature"]) for r in received
        )
        kinds = {json.loads(r.body)["type"] for r in received}
        assert {"site.emergency.started", "alarm.raised", "mission.transition"} <= kinds

        cleared = world.client.delete("/api/v1/sites/clinic/emergency", headers=world.headers)
        assert cleared.status_code == 200, cleared.text
        assert wait_until(lambda: _status(world)["state"] == "none", 20)
        for mission in [*missions.values(), held]:
            assert (
                world.await_state(mission, {"completed", "failed", "cancelled"}, 60) == "completed"
            )
        for mission in missions.values():
            moves = [(e["from_state"], e["to_state"]) for e in world.events(mission)]
            assert ("active", "paused") in moves and ("paused", "pending") in moves
        alarms = world.client.get(
            "/api/v1/alarms",
            params={"site_id": "clinic", "code": "site.emergency"},
            headers=world.headers,
        ).json()["items"]
        assert [a["active"] for a in alarms] == [False]


def _paused_events(receiver: Receiver) -> int:
    events = [json.loads(r.body) for r in receiver.at("/clinic")]
    return sum(
        e["type"] == "mission.transition" and e["data"]["to_state"] == "paused" for e in events
    )

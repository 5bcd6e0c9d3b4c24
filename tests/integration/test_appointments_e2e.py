"""Health-platform appointments end to end: a FHIR Appointment becomes a guidance mission
that a simulated guide robot completes (the visitor follows it), and a cancelled
appointment stops the mission another robot is running.

Real Mosquitto, real SQLite, the clinic map, two simulated robots running the real agent.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from missions.sites import import_site, resolve_waypoint
from missions.types import Capability
from tests.support.fleet_world import RMF, World, fleet_world
from tests.support.mqtt import wait_until

ENTRANCE = "L1_sub_waiting_area_5"
DEPARTMENT = "L1_sub_waiting_sucks_6"  # 13.5 m from the entrance
FAR_DEPARTMENT = "L1_left_treatment_1"
ROBOTS = {
    "fhir-guide-1": (ENTRANCE, [Capability.GUIDANCE]),
    "fhir-guide-2": ("L1_right_nurse_center", [Capability.GUIDANCE]),
}
LEAD_TIME_S = 600


def _appointment(
    fhir_id: str, location: str, start: datetime, status: str = "booked"
) -> dict[str, Any]:
    return {
        "resourceType": "Appointment",
        "id": fhir_id,
        "status": status,
        "start": start.isoformat(),
        "participant": [
            {"actor": {"reference": "Patient/visitor"}, "status": "accepted"},
            {"actor": {"reference": f"Location/{location}"}, "status": "accepted"},
        ],
    }


def _post(world: World, body: dict[str, Any]) -> dict[str, Any]:
    response = world.client.post(
        "/api/v1/sites/clinic/fhir/Appointment", json=body, headers=world.headers
    )
    assert response.status_code in (200, 201), response.text
    result: dict[str, Any] = response.json()
    return result


def test_appointment_guides_the_visitor_and_cancellation_stops_the_robot(tmp_path: Path) -> None:
    with fleet_world(tmp_path, ROBOTS) as world:
        routing = {
            "entrance": ENTRANCE,
            "lead_time_s": LEAD_TIME_S,
            "language": "en",
            "wait_for_person_timeout_s": 30,
            "max_speed_m_s": 1.0,
            "destinations": [
                {"match": "Location/waiting-6", "waypoint": DEPARTMENT},
                {"match": "Location/treatment-1", "waypoint": FAR_DEPARTMENT},
            ],
        }
        response = world.client.put(
            "/api/v1/sites/clinic/appointment-routing", json=routing, headers=world.headers
        )
        assert response.status_code == 200, response.text

        # Due now: the appointment starts within the lead time.
        soon = datetime.now(UTC) + timedelta(seconds=LEAD_TIME_S - 5)
        guided = _post(world, _appointment("visit-guided", "waiting-6", soon))
        stopped = _post(world, _appointment("visit-stopped", "treatment-1", soon))
        # Not due for hours: it waits, and its cancellation never reaches a robot.
        later = _post(world, _appointment("visit-later", "waiting-6", soon + timedelta(hours=3)))

        world.await_state(stopped["mission_id"], {"active"}, 20)
        robot = world.mission(stopped["mission_id"])["robot"]
        cancelled = _post(world, _appointment("visit-stopped", "treatment-1", soon, "cancelled"))
        assert cancelled["action"] == "cancelled"
        assert world.state(stopped["mission_id"]) == "cancelled"
        body = world.bodies[robot]
        assert wait_until(lambda: body.goal is None and body.speed == 0, 5), "robot did not stop"

        assert world.await_state(
            guided["mission_id"], {"completed", "failed", "cancelled"}, 45
        ) == ("completed")
        guide = world.mission(guided["mission_id"])
        assert guide["robot"] != robot
        site = import_site(RMF / "clinic.building.yaml", kind="hospital")
        target = resolve_waypoint(site, DEPARTMENT)
        walker = world.bodies[guide["robot"]]
        assert math.hypot(walker.x - target.x, walker.y - target.y) < 0.5
        causes = [e["cause"] for e in world.events(guided["mission_id"])]
        assert [e["to_state"] for e in world.events(guided["mission_id"])][-1] == "completed", (
            causes
        )

        assert world.state(later["mission_id"]) == "pending"
        withdrawn = world.client.delete(
            "/api/v1/sites/clinic/fhir/Appointment/visit-later", headers=world.headers
        )
        assert withdrawn.status_code == 200 and withdrawn.json()["action"] == "cancelled"
        assert world.state(later["mission_id"]) == "cancelled"

"""Quiet hours end to end: a simulated robot on real Mosquitto gets no speech for a quiet
room, and a spray mission for it waits until the quiet hours are lifted, then runs."""

from __future__ import annotations

import json
import time
from pathlib import Path

from fleet_server.db.models import Site as SiteRow
from missions.sites import Site
from missions.types import Capability
from tests.support.fleet_world import fleet_world
from tests.support.mqtt import Recorder
from tests.unit.missions.compiler.compiler_support import clinic_with_rooms

DONE = {"completed", "failed", "cancelled"}
ALL_DAY = [
    {"zones": ["treatment_1"], "start": "00:00", "end": "12:00"},
    {"zones": ["treatment_1"], "start": "12:00", "end": "00:00"},
]
"""Quiet around the clock in the room drawn around L1_left_treatment_1."""


def _spoken(recorder: Recorder) -> set[str]:
    texts = set()
    for message in recorder.snapshot():
        order = json.loads(message.payload)
        for node in order["nodes"]:
            for action in node.get("actions", []):
                if action["actionType"] == "speak":
                    params = {p["key"]: p["value"] for p in action["actionParameters"]}
                    texts.add(str(params["text"]))
    return texts


def test_a_quiet_room_hears_nothing_and_is_sprayed_only_after_its_quiet_hours(
    tmp_path: Path,
) -> None:
    caps = [Capability.PATROL, Capability.SPRAY_DISINFECTION]
    with fleet_world(
        tmp_path, {"quiet-1": ("L1_left_nurse_center", caps)}, time_scale=6.0
    ) as world:
        with world.services.db.session() as session:
            row = session.get(SiteRow, "clinic")
            assert row is not None
            rooms = clinic_with_rooms(Site.model_validate(row.site_map))
            row.site_map = rooms.model_dump(mode="json")
            session.commit()
        quiet = world.client.patch(
            "/api/v1/sites/clinic", json={"quiet_hours": ALL_DAY}, headers=world.headers
        )
        assert quiet.status_code == 200, quiet.text
        port = world.services.settings.mqtt_endpoint().port
        recorder = Recorder(port, "uagv/v2/fleetsim/quiet-1/order")
        try:
            patrol = world.create(
                {
                    "kind": "patrol",
                    "site": "clinic",
                    "dwell_s": 0.5,
                    "checkpoints": [
                        {"waypoint": "L1_right_nurse_center", "speak_on_arrival": "outside"},
                        {"waypoint": "L1_left_treatment_1", "speak_on_arrival": "inside"},
                    ],
                }
            )
            assert world.await_state(patrol, DONE, 60) == "completed"
            assert _spoken(recorder) == {"outside"}

            spray = world.create(
                {
                    "kind": "disinfection",
                    "site": "clinic",
                    "method": "spray",
                    "agent": "hydrogen_peroxide_3pct",
                    "rate_ml_per_m3": 8,
                    "room_volume_m3": 2,
                    "contact_time_s": 1,
                    "re_entry_time_s": 1,
                    "targets": [{"room": "treatment_1"}],
                }
            )
            time.sleep(3.0)  # a few dispatch rounds with the robot idle
            assert world.state(spray) == "pending"
            lifted = world.client.patch(
                "/api/v1/sites/clinic", json={"quiet_hours": []}, headers=world.headers
            )
            assert lifted.status_code == 200, lifted.text
            assert world.await_state(spray, DONE, 60) == "completed"
        finally:
            recorder.close()

"""Stop the app and start a new one on the same database: missions and their events survive."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet_server.broker import MosquittoBroker
from tests.integration.api.cast import ADMIN_PASSWORD, app_settings, running_app, sign_in
from tests.unit.fleet_server.db.databases import BACKENDS, temporary_database

RMF = Path(__file__).resolve().parents[2] / "fixtures" / "maps" / "rmf"


@pytest.mark.parametrize("backend", BACKENDS)
def test_missions_and_events_survive_a_restart(
    backend: str, module_broker: MosquittoBroker, tmp_path: Path
) -> None:
    with temporary_database(backend, tmp_path) as url:
        settings = app_settings(module_broker.port, url, tmp_path)
        with running_app(settings) as first:
            admin = sign_in(first, "admin", ADMIN_PASSWORD)
            files = [
                ("map_file", ("office.building.yaml", (RMF / "office.building.yaml").read_bytes())),
                ("images", ("office.png", (RMF / "office.png").read_bytes())),
            ]
            site = first.post("/api/v1/sites", files=files, data={"kind": "bank"}, headers=admin)
            assert site.status_code == 201, site.text
            site_id = site.json()["id"]
            graph = first.get(f"/api/v1/sites/{site_id}/graph", headers=admin).json()
            names = [w["name"] for w in graph["levels"][0]["waypoints"] if w["name"]]
            body = {
                "kind": "patrol",
                "site": site_id,
                "checkpoints": names[:2],
                "priority": "high",
            }
            kept = first.post("/api/v1/missions", json=body, headers=admin).json()
            dropped = first.post("/api/v1/missions", json=body, headers=admin).json()
            first.post(f"/api/v1/missions/{dropped['id']}/cancel", headers=admin)
            before = {
                m["id"]: (m, first.get(f"/api/v1/missions/{m['id']}/events", headers=admin).json())
                for m in (kept, dropped)
            }

        with running_app(settings) as second:
            admin = sign_in(second, "admin", ADMIN_PASSWORD)
            for mission_id, (mission, events) in before.items():
                again = second.get(f"/api/v1/missions/{mission_id}", headers=admin).json()
                assert again["spec"] == mission["spec"]
                assert again["priority"] == "high"
                after = second.get(f"/api/v1/missions/{mission_id}/events", headers=admin).json()
                assert after[: len(events)] == events
            assert second.get(f"/api/v1/missions/{dropped['id']}", headers=admin).json()[
                "state"
            ] == ("cancelled")
            assert second.get(f"/api/v1/missions/{kept['id']}", headers=admin).json()["state"] == (
                "pending"
            )

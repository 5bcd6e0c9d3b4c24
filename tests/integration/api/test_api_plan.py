"""GET /api/v1/sites/{id}/plan × every role, on SQLite and PostgreSQL.

Site `north` gets the clinic map and a patrol mission but no robot: the plan lists the
mission as unassigned, with why, and is visible to north's roles only.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet_server.db.models import Site as SiteRow
from missions.sites import import_site
from tests.integration.api.cast import ROLES, Api
from tests.support.mqtt import wait_until

RMF = Path(__file__).resolve().parents[2] / "fixtures" / "maps" / "rmf"
NORTH_STAFF = {"admin", "admin_north", "manager_north", "dispatcher_north", "viewer_north"}
PATROL = {"kind": "patrol", "site": "north", "checkpoints": ["L1_left_nurse_center"]}


@pytest.fixture(scope="module")
def north_mission(api: Api) -> str:
    site = import_site(RMF / "clinic.building.yaml", kind="hospital")
    with api.services.db.session() as session:
        row = session.get(SiteRow, "north")
        assert row is not None
        row.site_map = site.model_dump(mode="json")
        session.commit()
    created = api.client.post("/api/v1/missions", json=PATROL, headers=api.as_("admin"))
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


@pytest.mark.parametrize("role", ROLES)
def test_the_plan_is_for_the_sites_roles(api: Api, north_mission: str, role: str) -> None:
    response = api.client.get("/api/v1/sites/north/plan", headers=api.as_(role))
    expected = 401 if role == "anonymous" else 200 if role in NORTH_STAFF else 403
    assert response.status_code == expected, response.text


def test_a_mission_no_robot_can_take_is_unassigned_with_its_reason(
    api: Api, north_mission: str
) -> None:
    admin = api.as_("admin")

    def unassigned() -> dict[str, str]:
        body = api.client.get("/api/v1/sites/north/plan", headers=admin).json()
        return {u["mission_id"]: u["reason"] for u in body["unassigned"]}

    assert wait_until(lambda: north_mission in unassigned(), 10)
    assert unassigned()[north_mission] == "no_capable_robot"
    body = api.client.get("/api/v1/sites/north/plan", headers=admin).json()
    assert body["site_id"] == "north"
    assert body["robots"] == [] and body["chargers"] == []
    assert isinstance(body["reservations"], list)
    assert body["planned_at"] is not None


def test_an_unknown_site_is_404(api: Api) -> None:
    response = api.client.get("/api/v1/sites/atlantis/plan", headers=api.as_("admin"))
    assert response.status_code == 404

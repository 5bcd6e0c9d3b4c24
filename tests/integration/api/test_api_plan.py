"""GET /api/v1/sites/{id}/plan × every role, on SQLite and PostgreSQL.

Site `north` gets the clinic map and a patrol mission but no robot: the plan lists the
mission as unassigned, with why, and is visible to north's roles only.
"""

from __future__ import annotations

import pytest

from tests.integration.api.cast import NORTH_STAFF, ROLES, Api
from tests.support.mqtt import wait_until


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

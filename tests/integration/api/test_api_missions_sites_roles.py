"""Sites and missions routes × every role, on SQLite and PostgreSQL.

Site `north` gets the clinic map; a mission at `north` is visible to north's roles only
(404 elsewhere, so other sites' missions are not revealed) and commanded by its
dispatchers and above.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest

from tests.integration.api.cast import (
    ANY_ROLE,
    NORTH_DISPATCH,
    NORTH_STAFF,
    PATROL_AT_NORTH,
    ROLES,
    Api,
    status_for,
)

Call = Callable[[Api, str, str], httpx.Response]


@dataclass(frozen=True)
class Case:
    name: str
    call: Call
    expect: Callable[[str], int]


def _get(path: str) -> Call:
    return lambda api, role, mid: api.client.get(path.format(mid=mid), headers=api.as_(role))


def _post(path: str, body: object | None = None) -> Call:
    return lambda api, role, mid: api.client.post(
        path.format(mid=mid), json=body, headers=api.as_(role)
    )


CASES = [
    Case("GET /sites", _get("/api/v1/sites"), status_for(ANY_ROLE, 200, 403)),
    Case("GET /sites/north", _get("/api/v1/sites/north"), status_for(NORTH_STAFF, 200, 403)),
    Case(
        "GET /sites/north/graph",
        _get("/api/v1/sites/north/graph"),
        status_for(NORTH_STAFF, 200, 403),
    ),
    Case(
        "GET /sites/north/geojson",
        _get("/api/v1/sites/north/geojson"),
        status_for(NORTH_STAFF, 200, 403),
    ),
    Case(
        "GET /sites/north/route",
        _get("/api/v1/sites/north/route?from=L1_left_nurse_center&to=L2_north_counter"),
        status_for(NORTH_STAFF, 200, 403),
    ),
    Case(
        "POST /missions",
        _post("/api/v1/missions", PATROL_AT_NORTH),
        status_for(NORTH_DISPATCH, 201, 403),
    ),
    Case("GET /missions", _get("/api/v1/missions"), status_for(ANY_ROLE, 200, 403)),
    Case("GET /missions/{id}", _get("/api/v1/missions/{mid}"), status_for(NORTH_STAFF, 200, 404)),
    Case(
        "GET /missions/{id}/events",
        _get("/api/v1/missions/{mid}/events"),
        status_for(NORTH_STAFF, 200, 404),
    ),
    # A pending mission cannot be paused or resumed: those allowed get 409 with its state.
    Case(
        "POST /missions/{id}/pause",
        _post("/api/v1/missions/{mid}/pause"),
        status_for(NORTH_DISPATCH, 409, 404),
    ),
    Case(
        "POST /missions/{id}/resume",
        _post("/api/v1/missions/{mid}/resume"),
        status_for(NORTH_DISPATCH, 409, 404),
    ),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_route_allows_exactly_its_roles(
    api: Api, north_mission: str, case: Case, role: str
) -> None:
    response = case.call(api, role, north_mission)
    assert response.status_code == case.expect(role), response.text
    if response.status_code == 409:
        assert response.json()["current_state"] == "pending"


def test_viewers_list_only_their_sites_missions(api: Api, north_mission: str) -> None:
    south = api.client.get("/api/v1/missions", headers=api.as_("viewer_south")).json()
    assert all(m["site_id"] == "south" for m in south["items"])
    north = api.client.get("/api/v1/missions", headers=api.as_("viewer_north")).json()
    assert north_mission in {m["id"] for m in north["items"]}


@pytest.mark.parametrize("role", sorted(ROLES))
def test_cancel_is_for_north_dispatchers(api: Api, north_mission: str, role: str) -> None:
    created = api.client.post(
        "/api/v1/missions", json=PATROL_AT_NORTH, headers=api.as_("admin")
    ).json()
    response = api.client.post(f"/api/v1/missions/{created['id']}/cancel", headers=api.as_(role))
    assert response.status_code == status_for(NORTH_DISPATCH, 200, 404)(role), response.text
    if response.status_code == 200:
        assert response.json()["state"] == "cancelled"
        again = api.client.post(f"/api/v1/missions/{created['id']}/cancel", headers=api.as_(role))
        assert again.status_code == 409 and again.json()["current_state"] == "cancelled"


def test_mission_body_errors_name_the_field(api: Api, north_mission: str) -> None:
    admin = api.as_("admin")
    unknown = {**PATROL_AT_NORTH, "checkpoints": ["L1_left_nurse_center", "nowhere"]}
    response = api.client.post("/api/v1/missions", json=unknown, headers=admin)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "checkpoints.1"
    no_site = {**PATROL_AT_NORTH, "site": "atlantis"}
    response = api.client.post("/api/v1/missions", json=no_site, headers=admin)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "site"
    bad_cursor = api.client.get("/api/v1/missions?cursor=zzz", headers=admin)
    assert bad_cursor.status_code == 422


def test_cursor_pages_cover_every_mission_once_newest_first(api: Api, north_mission: str) -> None:
    admin = api.as_("admin")
    for _ in range(5):
        api.client.post("/api/v1/missions", json=PATROL_AT_NORTH, headers=admin)
    everything = api.client.get("/api/v1/missions?limit=200", headers=admin).json()["items"]
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.client.get("/api/v1/missions", params=params, headers=admin).json()
        seen += [m["id"] for m in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [m["id"] for m in everything]
    assert len(set(seen)) == len(seen) >= 6
    stamps = [m["created_at"] for m in everything]
    assert stamps == sorted(stamps, reverse=True)

"""Schedules routes × every role, field-naming validation, DST-correct previews, restart.

On SQLite and PostgreSQL through the shared `api` fixture; site `north` gets the clinic
map, so mission templates are checked against real places.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from fleet_server.broker import MosquittoBroker
from fleet_server.db.models import Site as SiteRow
from tests.integration.api.cast import (
    ADMIN_PASSWORD,
    ANY_ROLE,
    NORTH_MANAGERS,
    NORTH_STAFF,
    ROLES,
    Api,
    app_settings,
    clinic_map,
    give_clinic_map,
    running_app,
    services_of,
    sign_in,
    status_for,
)
from tests.unit.fleet_server.db.databases import BACKENDS, temporary_database

PATROL = {"kind": "patrol", "checkpoints": ["L1_left_nurse_center", "L2_north_counter"]}


def _body(**changes: Any) -> dict[str, Any]:
    return {
        "name": f"night patrol {uuid.uuid4().hex[:6]}",
        "site_id": "north",
        "rrule": "FREQ=DAILY;BYHOUR=22,23,0,1,2,3,4,5",
        "mission_template": PATROL,
        **changes,
    }


@pytest.fixture(scope="module")
def clinic(api: Api) -> None:
    give_clinic_map(api, "north")


def _create(api: Api, role: str = "admin", **changes: Any) -> httpx.Response:
    response: httpx.Response = api.client.post(
        "/api/v1/schedules", json=_body(**changes), headers=api.as_(role)
    )
    return response


def _fresh(api: Api) -> int:
    created = _create(api)
    assert created.status_code == 201, created.text
    schedule_id: int = created.json()["id"]
    return schedule_id


Call = Callable[[Api, str], httpx.Response]
URL = "/api/v1/schedules/{id}"
CASES: list[tuple[str, Call, Callable[[str], int]]] = [
    ("POST /schedules", lambda api, role: _create(api, role), status_for(NORTH_MANAGERS, 201, 403)),
    (
        "GET /schedules",
        lambda api, role: api.client.get("/api/v1/schedules", headers=api.as_(role)),
        status_for(ANY_ROLE, 200, 403),
    ),
    (
        "GET /schedules/{id}",
        lambda api, role: api.client.get(URL.format(id=_fresh(api)), headers=api.as_(role)),
        status_for(NORTH_STAFF, 200, 404),
    ),
    (
        "PATCH /schedules/{id}",
        lambda api, role: api.client.patch(
            URL.format(id=_fresh(api)), json={"enabled": False}, headers=api.as_(role)
        ),
        status_for(NORTH_MANAGERS, 200, 404),
    ),
    (
        "PUT /schedules/{id}",
        lambda api, role: api.client.put(
            URL.format(id=_fresh(api)), json=_body(), headers=api.as_(role)
        ),
        status_for(NORTH_MANAGERS, 200, 404),
    ),
    (
        "DELETE /schedules/{id}",
        lambda api, role: api.client.delete(URL.format(id=_fresh(api)), headers=api.as_(role)),
        status_for(NORTH_MANAGERS, 204, 404),
    ),
    (
        "GET /schedules/{id}/preview",
        lambda api, role: api.client.get(
            URL.format(id=_fresh(api)) + "/preview", headers=api.as_(role)
        ),
        status_for(NORTH_STAFF, 200, 404),
    ),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("name", "call", "expect"), CASES, ids=[c[0] for c in CASES])
def test_route_allows_exactly_its_roles(
    api: Api, clinic: None, name: str, call: Call, expect: Callable[[str], int], role: str
) -> None:
    response = call(api, role)
    assert response.status_code == expect(role), response.text


def test_a_created_schedule_is_normalised_and_knows_its_next_occurrence(
    api: Api, clinic: None
) -> None:
    created = _create(api, rrule="byhour=22;freq=daily", timezone="Europe/Berlin")
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["rrule"] == "FREQ=DAILY;BYHOUR=22"
    assert body["dtstart"].endswith("T00:00:00")
    assert body["timezone"] == "Europe/Berlin" and body["enabled"] is True
    assert body["mission_template"]["site"] == "north"
    assert body["next_occurrence"][11:19] == "22:00:00"
    assert _create(api).json()["timezone"] == "Asia/Shanghai"  # the default
    listed = api.client.get("/api/v1/schedules?site_id=north", headers=api.as_("viewer_north"))
    assert body["id"] in {s["id"] for s in listed.json()}
    assert api.client.get("/api/v1/schedules", headers=api.as_("viewer_south")).json() == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"rrule": "FREQ=DAILY;BYHOUR=25"}, "rrule"),
        ({"rrule": "FREQ=SECONDLY"}, "rrule"),
        ({"rrule": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"}, "rrule"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        (
            {
                "dtstart": "2025-03-01T22:00:00",
                "rrule": "DTSTART:20250301T000000\nRRULE:FREQ=DAILY",
            },
            "dtstart",
        ),
        ({"dtstart": "1850-01-01T00:00:00"}, "dtstart"),
        ({"exdates": ["2025-03-01T22:00:00", "1900-01-01T00:00:00"]}, "exdates[1]"),
        ({"until": "1900-01-01T00:00:00Z"}, "until"),
        (
            {
                "mission_template": {
                    "kind": "patrol",
                    "checkpoints": ["L1_left_nurse_center", "nowhere"],
                }
            },
            "mission_template.checkpoints.1",
        ),
        ({"mission_template": {"checkpoints": ["L1_left_nurse_center"]}}, "mission_template.kind"),
        ({"mission_template": {**PATROL, "site": "south"}}, "mission_template.site"),
        (
            {"mission_template": {**PATROL, "earliest_start": "2025-03-01T22:00:00Z"}},
            "mission_template.earliest_start",
        ),
        ({"site_id": "atlantis"}, "site_id"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_schedules_are_refused_naming_the_field(
    api: Api, clinic: None, changes: dict[str, Any], field: str
) -> None:
    response = _create(api, **changes)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field


def test_names_are_unique_per_site(api: Api, clinic: None) -> None:
    assert _create(api, name="uv round").status_code == 201
    again = _create(api, name="uv round")
    assert again.status_code == 409 and "uv round" in again.json()["detail"]


def test_preview_is_dst_correct_in_the_schedules_zone(api: Api, clinic: None) -> None:
    created = _create(
        api,
        rrule="FREQ=DAILY;BYHOUR=22",
        dtstart="2025-03-01T00:00:00",
        timezone="Europe/Berlin",
        exdates=["2025-03-29T22:00:00"],
    ).json()
    preview = api.client.get(
        URL.format(id=created["id"]) + "/preview",
        params={"count": 4, "after": "2025-03-27T12:00:00Z"},
        headers=api.as_("viewer_north"),
    )
    assert preview.status_code == 200, preview.text
    assert preview.json()["occurrences"] == [
        "2025-03-27T22:00:00+01:00",
        "2025-03-28T22:00:00+01:00",
        # the 29th is an exdate; on the 30th Berlin is on summer time
        "2025-03-30T22:00:00+02:00",
        "2025-03-31T22:00:00+02:00",
    ]
    bad = api.client.get(
        URL.format(id=created["id"]) + "/preview", params={"count": 0}, headers=api.as_("admin")
    )
    assert bad.status_code == 422


def test_changes_keep_what_they_leave_out(api: Api, clinic: None) -> None:
    created = _create(
        api, dtstart="2025-03-01T06:30:00", until="2030-01-01T00:00:00Z", timezone="Asia/Shanghai"
    ).json()
    url, admin = URL.format(id=created["id"]), api.as_("admin")
    changed = api.client.patch(url, json={"rrule": "FREQ=WEEKLY;BYDAY=MO"}, headers=admin).json()
    assert changed["dtstart"] == "2025-03-01T06:30:00" and changed["until"] is not None
    moved = api.client.patch(url, json={"dtstart": "2025-04-01T07:00:00"}, headers=admin).json()
    assert (moved["dtstart"], moved["rrule"]) == ("2025-04-01T07:00:00", "FREQ=WEEKLY;BYDAY=MO")
    unbounded = api.client.patch(url, json={"until": None, "enabled": False}, headers=admin).json()
    assert unbounded["until"] is None and unbounded["enabled"] is False
    assert unbounded["next_occurrence"] is None  # disabled
    null_name = api.client.patch(url, json={"name": None}, headers=admin)
    assert null_name.status_code == 422 and null_name.json()["errors"][0]["field"] == "name"
    elsewhere = api.client.patch(url, json={"site_id": "south"}, headers=api.as_("manager_north"))
    assert elsewhere.status_code == 403
    replaced = api.client.put(url, json=_body(name="replaced", rrule="FREQ=DAILY"), headers=admin)
    assert replaced.status_code == 200 and replaced.json()["name"] == "replaced"
    assert replaced.json()["dtstart"] == "2025-04-01T07:00:00"
    assert replaced.json()["until"] is None


@pytest.mark.parametrize("backend", BACKENDS)
def test_schedules_survive_a_restart(
    backend: str, module_broker: MosquittoBroker, tmp_path: Path
) -> None:
    with temporary_database(backend, tmp_path) as url:
        settings = app_settings(module_broker.port, url, tmp_path)
        with running_app(settings) as first:
            with services_of(first).db.session() as session:
                session.add(
                    SiteRow(
                        id="north",
                        name="North",
                        kind="hospital",
                        site_map=clinic_map(),
                    )
                )
                session.commit()
            admin = sign_in(first, "admin", ADMIN_PASSWORD)
            body = _body(timezone="Europe/Berlin", exdates=["2030-01-01T22:00:00"])
            created = first.post("/api/v1/schedules", json=body, headers=admin)
            assert created.status_code == 201, created.text
            before = first.get("/api/v1/schedules", headers=admin).json()
        with running_app(settings) as second:
            admin = sign_in(second, "admin", ADMIN_PASSWORD)
            after = second.get("/api/v1/schedules", headers=admin).json()

    # next_occurrence moves on with the clock; everything stored must be as it was.
    def stored(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in s.items() if k != "next_occurrence"} for s in items]

    assert stored(after) == stored(before) and len(after) == 1
    assert after[0]["exdates"] == ["2030-01-01T22:00:00"]


def test_schedule_changes_reach_the_sites_live_stream(api: Api, clinic: None) -> None:
    token = api.as_("viewer_north")["Authorization"].split()[1]
    seen: list[dict[str, Any]] = []
    arrived = threading.Event()
    with api.client.websocket_connect(f"/api/v1/live?token={token}") as ws:
        assert ws.receive_json()["type"] == "ready"
        ws.send_json({"type": "subscribe", "sites": ["north"]})
        while ws.receive_json()["type"] != "snapshot":
            pass
        created = _fresh(api)
        deleted = api.client.delete(URL.format(id=created), headers=api.as_("admin"))
        assert deleted.status_code == 204

        def read() -> None:
            with contextlib.suppress(Exception):  # the socket closes when the test ends
                while not arrived.is_set():
                    frame = ws.receive_json()
                    seen.extend(frame.get("schedules") or [])
                    if any(s.get("id") == created and s.get("deleted") for s in seen):
                        arrived.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        got = arrived.wait(5)
        ws.close()
    assert got, seen
    assert all(s["site"] == "north" for s in seen)

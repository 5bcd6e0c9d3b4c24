"""Scheduled missions through the API: site time zone and quiet hours, occurrences made,
withdrawn on change, and missed while the server was down.

On SQLite and PostgreSQL through the shared `api` fixture; site `north` gets the clinic map
with two rooms drawn in, so quiet hours name real zones.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from fleet_server.db.models import Site as SiteRow
from fleet_server.schedules.materialise import (
    OCCURRENCE_MISSED,
    ScheduleMaterialiser,
    ScheduleTiming,
)
from missions.sites import import_site
from tests.integration.api.cast import Api
from tests.support.mqtt import wait_until
from tests.unit.missions.compiler.compiler_support import RMF, clinic_with_rooms

PATROL = {"kind": "patrol", "checkpoints": ["L1_left_nurse_center", "L2_north_counter"]}
NIGHT = {"zones": ["treatment_1"], "start": "22:00", "end": "06:00"}


@pytest.fixture(scope="module")
def clinic(api: Api) -> None:
    site = clinic_with_rooms(import_site(RMF / "clinic.building.yaml", kind="hospital"))
    with api.services.db.session() as session:
        row = session.get(SiteRow, "north")
        assert row is not None
        row.site_map = site.model_dump(mode="json")
        session.commit()


def _patch_site(api: Api, body: dict[str, Any], role: str = "manager_north") -> httpx.Response:
    response: httpx.Response = api.client.patch(
        "/api/v1/sites/north", json=body, headers=api.as_(role)
    )
    return response


def _schedule(api: Api, **changes: Any) -> dict[str, Any]:
    body = {
        "name": f"round {uuid.uuid4().hex[:6]}",
        "site_id": "north",
        "rrule": "FREQ=HOURLY",
        "mission_template": PATROL,
        **changes,
    }
    created = api.client.post("/api/v1/schedules", json=body, headers=api.as_("manager_north"))
    assert created.status_code == 201, created.text
    result: dict[str, Any] = created.json()
    return result


def _occurrences(api: Api, schedule_id: int, **params: str) -> list[dict[str, Any]]:
    response = api.client.get(
        f"/api/v1/schedules/{schedule_id}/occurrences",
        params=params,
        headers=api.as_("viewer_north"),
    )
    assert response.status_code == 200, response.text
    result: list[dict[str, Any]] = response.json()
    return result


@pytest.mark.parametrize(
    ("role", "status"),
    [("manager_north", 200), ("admin", 200), ("dispatcher_north", 403), ("anonymous", 401)],
)
def test_only_site_managers_set_the_site_calendar(
    api: Api, clinic: None, role: str, status: int
) -> None:
    assert _patch_site(api, {"timezone": "Asia/Shanghai"}, role).status_code == status


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        (
            {"quiet_hours": [{**NIGHT, "zones": ["treatment_1", "attic"]}]},
            "quiet_hours[0].zones[1]",
        ),
        ({"quiet_hours": [{**NIGHT, "end": "22:00"}]}, "quiet_hours[0].end"),
        ({"quiet_hours": [{**NIGHT, "start": "24:00"}]}, "quiet_hours[0].start"),
        ({"quiet_hours": [{**NIGHT, "days": ["XX"]}]}, "quiet_hours[0].days[0]"),
        ({"quiet_hours": [{**NIGHT, "zones": []}]}, "quiet_hours[0].zones"),
        ({"opening_hours": []}, "opening_hours"),
    ],
)
def test_a_bad_calendar_is_refused_naming_the_field_and_nothing_changes(
    api: Api, clinic: None, body: dict[str, Any], field: str
) -> None:
    before = api.client.get("/api/v1/sites/north", headers=api.as_("viewer_north")).json()
    response = _patch_site(api, body)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field
    after = api.client.get("/api/v1/sites/north", headers=api.as_("viewer_north")).json()
    assert (after["timezone"], after["quiet_hours"]) == (before["timezone"], before["quiet_hours"])


def test_the_site_time_zone_is_the_default_of_its_schedules(api: Api, clinic: None) -> None:
    changed = _patch_site(api, {"timezone": "Europe/Berlin"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["timezone"] == "Europe/Berlin"
    try:
        assert _schedule(api, enabled=False)["timezone"] == "Europe/Berlin"
        assert _schedule(api, enabled=False, timezone="Asia/Tokyo")["timezone"] == "Asia/Tokyo"
    finally:
        _patch_site(api, {"timezone": "Asia/Shanghai"})


def test_quiet_hours_are_stored_shown_and_handed_to_the_compiler(api: Api, clinic: None) -> None:
    response = _patch_site(api, {"quiet_hours": [NIGHT, {**NIGHT, "days": ["SA", "SU"]}]})
    assert response.status_code == 200, response.text
    shown = api.client.get("/api/v1/sites/north", headers=api.as_("viewer_north")).json()
    assert shown["quiet_hours"][0] == {**NIGHT, "days": None}
    assert shown["quiet_hours"][1]["days"] == ["SA", "SU"]
    book = api.services.quiet_hours
    assert book is not None
    option = book.option("north")
    assert option is not None and set(option.windows) == {"treatment_1"}
    assert _patch_site(api, {"quiet_hours": []}).status_code == 200
    assert book.option("north") is None


def test_occurrences_become_missions_and_a_change_withdraws_them(api: Api, clinic: None) -> None:
    schedule = _schedule(api)  # every full hour: the next one is within the 1 h horizon
    assert wait_until(lambda: len(_occurrences(api, schedule["id"])) == 1, 10)
    (first,) = _occurrences(api, schedule["id"])
    assert first["status"] == "materialised" and first["mission_state"] == "pending"
    mission = api.client.get(
        f"/api/v1/missions/{first['mission_id']}", headers=api.as_("viewer_north")
    ).json()
    occurs_at = datetime.fromisoformat(first["occurs_at"])
    assert datetime.fromisoformat(mission["spec"]["earliest_start"]) == occurs_at
    assert occurs_at.utcoffset() == timedelta(hours=8)  # shown in the schedule's zone
    assert mission["created_by"] == "scheduler"

    moved = api.client.patch(
        f"/api/v1/schedules/{schedule['id']}",
        json={"rrule": "FREQ=HOURLY;BYMINUTE=30"},
        headers=api.as_("manager_north"),
    )
    assert moved.status_code == 200, moved.text
    cancelled = api.client.get(
        f"/api/v1/missions/{first['mission_id']}", headers=api.as_("viewer_north")
    ).json()
    assert cancelled["state"] == "cancelled"
    assert wait_until(lambda: len(_occurrences(api, schedule["id"])) == 1, 10)
    (again,) = _occurrences(api, schedule["id"])
    assert datetime.fromisoformat(again["occurs_at"]).minute == 30
    assert again["mission_id"] != first["mission_id"]


def test_missed_occurrences_are_listed_and_raised_once(api: Api, clinic: None) -> None:
    schedule = _schedule(api)
    services = api.services
    later = datetime.now(UTC) + timedelta(hours=5)  # as if the server was down 5 hours
    timing = ScheduleTiming(horizon=timedelta(hours=1), lateness=timedelta(minutes=10), tick_s=1)
    for _ in range(2):  # a second start finds nothing new to report
        restarted = ScheduleMaterialiser(
            services.db,
            services.sites,
            timing,
            announce_alarm=services.alarms.announce_from_thread,
            now=lambda: later,
        )
        restarted.settle_missed()
        restarted.tick()
    created = datetime.fromisoformat(schedule["created_at"])
    hours = [
        created.replace(minute=0, second=0, microsecond=0) + timedelta(hours=h) for h in range(1, 8)
    ]
    threshold = later - timing.lateness
    missed = _occurrences(api, schedule["id"], status="missed")
    assert [datetime.fromisoformat(o["occurs_at"]) for o in reversed(missed)] == [
        h for h in hours if h < threshold
    ]
    assert all("not running" in o["detail"] for o in missed)
    # The first may have been made before the outage: then it is cancelled, not run late.
    assert missed[-1]["mission_state"] in (None, "cancelled")
    assert all(o["mission_id"] is None for o in missed[:-1])
    made = _occurrences(api, schedule["id"], status="materialised")
    assert [datetime.fromisoformat(o["occurs_at"]) for o in reversed(made)] == [
        h for h in hours if threshold <= h <= later + timing.horizon
    ]
    assert {o["mission_state"] for o in made} == {"pending"}
    alarms = api.client.get(
        "/api/v1/alarms", params={"code": OCCURRENCE_MISSED}, headers=api.as_("viewer_north")
    ).json()["items"]
    ours = [a for a in alarms if schedule["name"] in a["message"]]
    assert 1 <= len(ours) <= 2 and sum("occurrence" in a["message"] for a in ours) == len(ours)

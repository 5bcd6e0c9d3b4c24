"""Health-platform appointments through the API on SQLite and PostgreSQL: routing table,
Appointment -> guidance mission, re-post updates, cancellation, Bundles, 422s naming the
FHIR element, and who may do what. No robot runs here, so missions stay pending."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.integration.api.cast import Api, upload_clinic

BASE = "/api/v1/sites/clinic"
SNOMED = "http://snomed.info/sct"
ROUTING = {
    "entrance": "L1_sub_waiting_area_5",
    "lead_time_s": 300,
    "language": "en",
    "wait_for_person_timeout_s": 120,
    "max_speed_m_s": 0.8,
    "destinations": [
        {"match": "Location/cardio", "waypoint": "L2_north_counter"},
        {"match": f"{SNOMED}|394537008", "waypoint": "L1_left_treatment_1"},
    ],
}


def appointment(fhir_id: str, start: datetime, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Appointment",
        "id": fhir_id,
        "status": "booked",
        "start": start.isoformat(),
        "participant": [
            {"actor": {"reference": "Patient/p1"}, "status": "accepted"},
            {"actor": {"reference": "Location/cardio"}, "status": "accepted"},
        ],
    }
    body.update(changes)
    return body


def _later(hours: float = 2.0) -> datetime:
    return (datetime.now(UTC) + timedelta(hours=hours)).replace(microsecond=0)


@pytest.fixture(scope="module")
def clinic(api: Api) -> str:
    upload_clinic(api)
    unrouted = _post(api, appointment("early", _later()))
    assert unrouted.status_code == 409, unrouted.text
    assert "appointment-routing" in unrouted.json()["detail"]
    response = api.client.put(f"{BASE}/appointment-routing", json=ROUTING, headers=api.as_("admin"))
    assert response.status_code == 200, response.text
    return "clinic"


def _post(api: Api, body: dict[str, Any], role: str = "admin") -> Any:
    return api.client.post(f"{BASE}/fhir/Appointment", json=body, headers=api.as_(role))


def _mission(api: Api, mission_id: str) -> dict[str, Any]:
    response = api.client.get(f"/api/v1/missions/{mission_id}", headers=api.as_("admin"))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"entrance": "nowhere"}, "entrance"),
        (
            {"destinations": [*ROUTING["destinations"], {"match": "Location/x", "waypoint": "?"}]},
            "destinations[2].waypoint",
        ),
        (
            {"destinations": [{"match": "cardiology", "waypoint": "L2_north_counter"}]},
            "destinations[0].match",
        ),
        ({"destinations": [ROUTING["destinations"][0]] * 2}, "destinations[1].match"),
    ],
)
def test_routing_places_must_be_on_the_map(
    api: Api, clinic: str, change: dict[str, Any], field: str
) -> None:
    response = api.client.put(
        f"{BASE}/appointment-routing", json=ROUTING | change, headers=api.as_("admin")
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field
    stored = api.client.get(f"{BASE}/appointment-routing", headers=api.as_("admin")).json()
    assert stored == ROUTING  # the refused table did not replace the stored one


def test_an_appointment_becomes_one_guidance_mission_that_updates_and_cancels(
    api: Api, clinic: str
) -> None:
    start = _later()
    created = _post(api, appointment("visit-1", start))
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["action"] == "created" and body["destination"] == "L2_north_counter"
    assert created.headers["location"].endswith("/fhir/Appointment/visit-1")
    mission = _mission(api, body["mission_id"])
    assert mission["kind"] == "guidance" and mission["state"] == "pending"
    spec = mission["spec"]
    assert (spec["from"], spec["to"], spec["language"], spec["max_speed_m_s"]) == (
        "L1_sub_waiting_area_5",
        "L2_north_counter",
        "en",
        0.8,
    )
    assert datetime.fromisoformat(spec["earliest_start"]) == start - timedelta(seconds=300)

    again = _post(api, appointment("visit-1", start))
    assert again.status_code == 200 and again.json()["action"] == "unchanged"
    assert again.json()["mission_id"] == body["mission_id"]

    moved = _post(api, appointment("visit-1", start + timedelta(hours=1)))
    assert moved.status_code == 200 and moved.json()["action"] == "replaced"
    assert _mission(api, body["mission_id"])["state"] == "cancelled"
    replacement = moved.json()["mission_id"]
    assert replacement != body["mission_id"]

    cancelled = _post(api, appointment("visit-1", start, status="cancelled"))
    assert cancelled.status_code == 200 and cancelled.json()["action"] == "cancelled"
    assert _mission(api, replacement)["state"] == "cancelled"
    link = api.client.get(f"{BASE}/fhir/Appointment/visit-1", headers=api.as_("viewer_north"))
    assert link.status_code == 403
    link = api.client.get(f"{BASE}/fhir/Appointment/visit-1", headers=api.as_("admin")).json()
    assert link["status"] == "cancelled" and link["mission_state"] == "cancelled"

    rebooked = _post(api, appointment("visit-1", start))
    assert rebooked.json()["action"] == "replaced"
    assert _mission(api, rebooked.json()["mission_id"])["state"] == "pending"
    deleted = api.client.delete(f"{BASE}/fhir/Appointment/visit-1", headers=api.as_("admin"))
    assert deleted.status_code == 200 and deleted.json()["action"] == "cancelled"
    assert _mission(api, rebooked.json()["mission_id"])["state"] == "cancelled"
    missions = api.client.get(
        "/api/v1/missions", params={"site_id": "clinic", "limit": 200}, headers=api.as_("admin")
    ).json()["items"]
    assert sum(m["spec"].get("name") == "appointment visit-1" for m in missions) == 3


def test_a_booked_appointment_already_over_gets_no_guide_an_arrived_visitor_does(
    api: Api, clinic: str
) -> None:
    over = _post(api, appointment("visit-past", _later(-2)))
    assert over.status_code == 201, over.text
    assert (over.json()["action"], over.json()["mission_id"]) == ("recorded", None)
    assert over.json()["destination"] == "L2_north_counter"
    # Started ten minutes ago but not over yet: still guided.
    running = _later(-1 / 6)
    body = appointment("visit-now", running, end=(running + timedelta(minutes=30)).isoformat())
    assert _post(api, body).json()["action"] == "created"
    # The late visitor arrives after all: guided now, whatever the time.
    arrived = _post(api, appointment("visit-past", _later(-2), status="arrived"))
    assert arrived.status_code == 200 and arrived.json()["action"] == "created"
    assert _mission(api, arrived.json()["mission_id"])["state"] in ("pending", "assigned")


def test_a_coded_service_maps_and_fhir_json_is_accepted(api: Api, clinic: str) -> None:
    body = appointment(
        "visit-2",
        _later(),
        participant=[{"actor": {"reference": "Patient/p1"}, "status": "accepted"}],
        serviceType=[{"coding": [{"system": SNOMED, "code": "394537008"}]}],
    )
    response = api.client.put(
        f"{BASE}/fhir/Appointment/visit-2",
        content=json.dumps(body),
        headers={**api.as_("dispatcher_north"), "Content-Type": "application/fhir+json"},
    )
    assert response.status_code == 403  # a dispatcher at another site
    response = api.client.put(
        f"{BASE}/fhir/Appointment/visit-2",
        content=json.dumps(body),
        headers={**api.as_("admin"), "Content-Type": "application/fhir+json"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["destination"] == "L1_left_treatment_1"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        (
            {"participant": [{"actor": {"reference": "Location/radiology"}, "status": "accepted"}]},
            "participant[0].actor.reference",
        ),
        ({"status": "confirmed"}, "status"),
        ({"start": "soon"}, "start"),
        (
            {
                "participant": [{"actor": {"reference": "Patient/p"}, "status": "accepted"}],
                "specialty": [{"coding": [{"system": "urn:x", "code": "1"}]}],
            },
            "specialty[0].coding[0]",
        ),
    ],
)
def test_mapping_failures_are_422_naming_the_element_and_store_nothing(
    api: Api, clinic: str, changes: dict[str, Any], field: str
) -> None:
    response = _post(api, appointment("refused", _later()) | changes)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"][0]["field"] == field
    assert (
        api.client.get(f"{BASE}/fhir/Appointment/refused", headers=api.as_("admin")).status_code
        == 404
    )


def test_put_id_must_match_and_unknown_delete_is_404(api: Api, clinic: str) -> None:
    response = api.client.put(
        f"{BASE}/fhir/Appointment/other",
        json=appointment("visit-3", _later()),
        headers=api.as_("admin"),
    )
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "id"
    gone = api.client.delete(f"{BASE}/fhir/Appointment/never", headers=api.as_("admin"))
    assert gone.status_code == 404


def test_bundles_apply_as_a_whole_or_not_at_all(api: Api, clinic: str) -> None:
    url = f"{BASE}/fhir"
    good = [
        {
            "resource": appointment("b-1", _later()),
            "request": {"method": "PUT", "url": "Appointment/b-1"},
        },
        {"resource": appointment("b-2", _later(3))},
    ]
    bad = {
        "resource": appointment(
            "b-3",
            _later(),
            participant=[{"actor": {"reference": "Location/zz"}, "status": "accepted"}],
        )
    }
    refused = api.client.post(
        url,
        json={"resourceType": "Bundle", "type": "transaction", "entry": [*good, bad]},
        headers=api.as_("admin"),
    )
    assert refused.status_code == 422
    assert (
        refused.json()["errors"][0]["field"] == "entry[2].resource.participant[0].actor.reference"
    )
    assert (
        api.client.get(f"{BASE}/fhir/Appointment/b-1", headers=api.as_("admin")).status_code == 404
    )

    done = api.client.post(
        url,
        json={"resourceType": "Bundle", "type": "batch", "entry": good},
        headers=api.as_("admin"),
    )
    assert done.status_code == 200, done.text
    assert done.json()["type"] == "batch-response"
    assert [e["response"] for e in done.json()["entry"]] == [
        {"status": "201 Created", "location": "Appointment/b-1"},
        {"status": "201 Created", "location": "Appointment/b-2"},
    ]
    b1 = api.client.get(f"{BASE}/fhir/Appointment/b-1", headers=api.as_("admin")).json()
    assert b1["mission_state"] == "pending"
    cancel = api.client.post(
        url,
        json={
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [{"request": {"method": "DELETE", "url": "Appointment/b-1"}}],
        },
        headers=api.as_("admin"),
    )
    assert cancel.status_code == 200, cancel.text
    assert _mission(api, b1["mission_id"])["state"] == "cancelled"


@pytest.mark.parametrize(("role", "status"), [("viewer_north", 403), ("anonymous", 401)])
def test_only_dispatchers_of_the_site_post(api: Api, clinic: str, role: str, status: int) -> None:
    assert _post(api, appointment("x", _later()), role=role).status_code == status
    routing = api.client.put(f"{BASE}/appointment-routing", json=ROUTING, headers=api.as_(role))
    assert routing.status_code == status

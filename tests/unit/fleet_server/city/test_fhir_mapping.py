"""FHIR Appointments and Bundles: validation and destination mapping, every refusal naming
the FHIR element path."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from fleet_server.city.fhir import (
    FhirFieldError,
    appointment_start,
    choose_destination,
    element_path,
    parse_appointment,
    parse_bundle,
)

SNOMED = "http://snomed.info/sct"
TABLE = {
    "Location/cardio": "L2_north_counter",
    f"{SNOMED}|394579002": "L2_north_counter",  # cardiology
    f"{SNOMED}|394537008": "L1_left_treatment_1",  # paediatrics
}


def appointment(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Appointment",
        "id": "appt-1",
        "status": "booked",
        "start": "2026-11-29T10:00:00+08:00",
        "end": "2026-11-29T10:30:00+08:00",
        "participant": [
            {"actor": {"reference": "Patient/p1"}, "status": "accepted"},
            {
                "actor": {"reference": "Location/cardio", "display": "Cardiology"},
                "status": "accepted",
            },
        ],
    }
    body.update(changes)
    return body


def _refused(fn: Any, *args: Any) -> FhirFieldError:
    with pytest.raises(FhirFieldError) as caught:
        fn(*args)
    return caught.value


def test_a_good_appointment_maps_its_location_participant() -> None:
    parsed = parse_appointment(appointment())
    destination = choose_destination(parsed, TABLE)
    assert destination.waypoint == "L2_north_counter"
    assert destination.match == "Location/cardio"
    assert destination.path == "participant[1].actor.reference"
    assert appointment_start(parsed) == datetime(2026, 11, 29, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "reference",
    [
        "Location/cardio",
        "https://his.example.org/fhir/Location/cardio",
        "Location/cardio/_history/3",
    ],
)
def test_absolute_and_versioned_location_references_map_too(reference: str) -> None:
    body = appointment(participant=[{"actor": {"reference": reference}, "status": "accepted"}])
    assert choose_destination(parse_appointment(body), TABLE).waypoint == "L2_north_counter"


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"status": "confirmed"}, "status"),
        ({"start": "tomorrow"}, "start"),
        ({"id": None}, "id"),
        ({"id": "has space"}, "id"),
        ({"resourceType": "Patient"}, "resourceType"),
        ({"participant": [{"actor": {"reference": "Location/x"}}]}, "participant[0].status"),
        (
            {"participant": [{"actor": {"reference": 7}, "status": "accepted"}]},
            "participant[0].actor.reference",
        ),
        ({"minutesDuration": "long"}, "minutesDuration"),
        ({"colour": "blue"}, "colour"),
        ({"contained": [{"resourceType": "Unheard"}]}, "contained[0].resourceType"),
    ],
)
def test_invalid_resources_are_refused_naming_the_element(
    changes: dict[str, Any], path: str
) -> None:
    body = {k: v for k, v in appointment(**changes).items() if v is not None}
    assert _refused(parse_appointment, body).path == path


def test_an_unmapped_location_names_its_reference_even_when_a_service_would_map() -> None:
    body = appointment(
        participant=[{"actor": {"reference": "Location/radiology"}, "status": "accepted"}],
        serviceType=[{"coding": [{"system": SNOMED, "code": "394579002"}]}],
    )
    error = _refused(choose_destination, parse_appointment(body), TABLE)
    assert error.path == "participant[0].actor.reference"
    assert "Location/radiology" in error.message


def test_without_a_location_the_first_mapped_service_or_specialty_coding_decides() -> None:
    body = appointment(
        participant=[{"actor": {"reference": "Patient/p1"}, "status": "accepted"}],
        serviceType=[
            {"coding": [{"system": "urn:local", "code": "x"}]},
            {
                "coding": [
                    {"system": "urn:local", "code": "y"},
                    {"system": SNOMED, "code": "394537008"},
                ]
            },
        ],
        specialty=[{"coding": [{"system": SNOMED, "code": "394579002"}]}],
    )
    destination = choose_destination(parse_appointment(body), TABLE)
    assert destination.waypoint == "L1_left_treatment_1"
    assert destination.path == "serviceType[1].coding[1]"
    only_specialty = appointment(
        participant=[{"actor": {"reference": "Patient/p1"}, "status": "accepted"}],
        specialty=[{"coding": [{"system": SNOMED, "code": "394579002"}]}],
    )
    assert choose_destination(parse_appointment(only_specialty), TABLE).path == (
        "specialty[0].coding[0]"
    )


def test_unmapped_codings_name_the_first_and_nothing_to_map_names_participant() -> None:
    coded = appointment(
        participant=[{"actor": {"reference": "Patient/p1"}, "status": "accepted"}],
        specialty=[{"coding": [{"system": "urn:local", "code": "zz"}]}],
    )
    error = _refused(choose_destination, parse_appointment(coded), TABLE, "entry[3].resource")
    assert error.path == "entry[3].resource.specialty[0].coding[0]"
    assert "urn:local|zz" in error.message
    bare = appointment(participant=[{"actor": {"reference": "Patient/p1"}, "status": "accepted"}])
    assert _refused(choose_destination, parse_appointment(bare), TABLE).path == "participant"


def test_a_guided_appointment_needs_its_start() -> None:
    body = appointment()
    del body["start"]
    del body["end"]
    assert _refused(appointment_start, parse_appointment(body)).path == "start"


def _bundle(*entries: dict[str, Any], kind: str = "transaction") -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


def test_bundle_entries_come_back_in_order_with_deletes() -> None:
    second = appointment(id="appt-2")
    entries = parse_bundle(
        _bundle(
            {"resource": appointment(), "request": {"method": "POST", "url": "Appointment"}},
            {"resource": second, "request": {"method": "PUT", "url": "Appointment/appt-2"}},
            {"request": {"method": "DELETE", "url": "Appointment/appt-0"}},
            {"resource": appointment(id="appt-3")},
        )
    )
    assert [e.path for e in entries] == ["entry[0]", "entry[1]", "entry[2]", "entry[3]"]
    assert [e.appointment.id if e.appointment else None for e in entries] == [
        "appt-1",
        "appt-2",
        None,
        "appt-3",
    ]
    assert entries[2].delete_id == "appt-0"
    assert parse_bundle(_bundle(kind="batch")) == []


@pytest.mark.parametrize(
    ("bundle", "path"),
    [
        (
            _bundle({"resource": {"resourceType": "Patient", "id": "p"}}),
            "entry[0].resource.resourceType",
        ),
        (
            _bundle({"resource": {"resourceType": "Unheard", "id": "p"}}),
            "entry[0].resource.resourceType",
        ),
        (
            _bundle({"resource": appointment()}, {"resource": appointment(status="soon")}),
            "entry[1].resource.status",
        ),
        (
            _bundle(
                {"resource": appointment(participant=[{"actor": {"reference": "Location/x"}}])}
            ),
            "entry[0].resource.participant[0].status",
        ),
        (_bundle({"resource": appointment()}, kind="searchset"), "type"),
        (
            _bundle(
                {
                    "resource": appointment(),
                    "request": {"method": "PUT", "url": "Appointment/other"},
                }
            ),
            "entry[0].request.url",
        ),
        (_bundle({"request": {"method": "DELETE", "url": "Patient/p"}}), "entry[0].request.url"),
        (_bundle({"request": {"method": "POST", "url": "Appointment"}}), "entry[0].resource"),
        (
            _bundle(
                {
                    "resource": appointment(),
                    "request": {"method": "DELETE", "url": "Appointment/appt-1"},
                }
            ),
            "entry[0].resource",
        ),
        ({"resourceType": "Appointment"}, "resourceType"),
        (
            _bundle({"resource": appointment(contained=[{"resourceType": "Nope"}])}),
            "entry[0].resource.contained[0].resourceType",
        ),
        ({"resourceType": "Bundle", "type": "batch", "entry": {"resource": {}}}, "entry"),
    ],
)
def test_bad_bundles_are_refused_naming_the_entry_element(
    bundle: dict[str, Any], path: str
) -> None:
    assert _refused(parse_bundle, copy.deepcopy(bundle)).path == path


def test_element_paths_read_like_fhir() -> None:
    assert (
        element_path(("participant", 0, "actor", "reference")) == "participant[0].actor.reference"
    )
    assert (
        element_path(("start__ext", "url"), "entry[1].resource") == "entry[1].resource._start.url"
    )
    assert element_path(("resource_type",)) == "resourceType"

"""HL7 FHIR R4 Appointments from a health platform: validation and destination mapping.

Resources are validated with the `fhir.resources` R4B models (R4B's Appointment has the
same elements as R4 4.0.1's). Every refusal is a :class:`FhirFieldError` naming the FHIR
element path (`participant[0].actor.reference`, `entry[2].resource.start`), which the API
returns as a 422 problem.

Where the visitor goes (docs/city.md, "Which department"): the first participant whose
actor is a `Location` decides, looked up as `Location/<id>` in the site's mapping table;
without one, the first coding of `serviceType`, then of `specialty`, found in the table
as `<system>|<code>`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.appointment import Appointment
from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError

# The R4 value set http://hl7.org/fhir/ValueSet/appointmentstatus (required binding).
APPOINTMENT_STATUSES = frozenset(
    {
        "proposed",
        "pending",
        "booked",
        "arrived",
        "fulfilled",
        "cancelled",
        "noshow",
        "entered-in-error",
        "checked-in",
        "waitlist",
    }
)
GUIDED_STATUSES = frozenset({"booked", "arrived", "checked-in"})
"""Confirmed appointments whose visitor needs a guide."""
KEEP_STATUSES = frozenset({"fulfilled"})
"""The visit took place: a guidance mission under way is left to finish."""
BUNDLE_TYPES = frozenset({"batch", "transaction", "collection"})
_FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_LOCATION_REFERENCE = re.compile(r"(?:^|/)Location/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")
_APPOINTMENT_URL = re.compile(r"^(?:.*/)?Appointment/([A-Za-z0-9\-.]{1,64})$")


class FhirFieldError(ValueError):
    """A resource that cannot be used, with the FHIR path of the element at fault."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


def element_path(loc: Sequence[int | str], prefix: str = "") -> str:
    """A pydantic error location as a FHIR element path: ('participant', 0, 'actor') ->
    `participant[0].actor`; `x__ext` is the primitive's extension element `_x`."""
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
            continue
        name = "resourceType" if part == "resource_type" else part
        if name.endswith("__ext"):
            name = "_" + name.removesuffix("__ext")
        path += f".{name}" if path else name
    return path


def _first_error(exc: ValidationError, prefix: str) -> FhirFieldError:
    error = exc.errors(include_url=False)[0]
    return FhirFieldError(
        element_path(error["loc"], prefix) or prefix or "(resource)", error["msg"]
    )


def _require_type(data: Any, resource_type: str, prefix: str) -> Mapping[str, Any]:
    where = f"{prefix}.resourceType" if prefix else "resourceType"
    if not isinstance(data, Mapping):
        raise FhirFieldError(prefix or "(resource)", f"expected a {resource_type} resource")
    if data.get("resourceType") != resource_type:
        raise FhirFieldError(where, f"expected {resource_type!r}, got {data.get('resourceType')!r}")
    return data


def _check_contained(data: Mapping[str, Any], at: str) -> None:
    # The models fail with a KeyError on a contained resource of an unknown type.
    contained = data.get("contained")
    if not isinstance(contained, list):
        return
    for i, resource in enumerate(contained):
        if isinstance(resource, Mapping) and "resourceType" in resource:
            try:
                get_fhir_model_class(str(resource["resourceType"]))
            except ValueError as exc:
                raise FhirFieldError(
                    f"{at}contained[{i}].resourceType", "not a FHIR R4 resource type"
                ) from exc


def parse_appointment(data: Any, prefix: str = "") -> Appointment:
    """Validate an Appointment (structure, status code, id); FhirFieldError otherwise."""
    at = f"{prefix}." if prefix else ""
    _check_contained(_require_type(data, "Appointment", prefix), at)
    try:
        appointment = Appointment.model_validate(data)
    except ValidationError as exc:
        raise _first_error(exc, prefix) from exc
    if appointment.status not in APPOINTMENT_STATUSES:
        raise FhirFieldError(
            f"{at}status",
            f"{appointment.status!r} is not an appointment status "
            f"({', '.join(sorted(APPOINTMENT_STATUSES))})",
        )
    if appointment.id is None or not _FHIR_ID.match(appointment.id):
        raise FhirFieldError(
            f"{at}id", "the platform's Appointment.id is required to match later updates"
        )
    return appointment


@dataclass(frozen=True)
class BundleEntry:
    """One entry of a Bundle: an Appointment to store, or the id of one to delete."""

    path: str
    appointment: Appointment | None
    delete_id: str | None = None


def parse_bundle(data: Any) -> list[BundleEntry]:
    """Validate a batch/transaction/collection Bundle of Appointments (entries in order)."""
    _require_type(data, "Bundle", "")
    entries = data.get("entry") or []
    if not isinstance(entries, list):
        raise FhirFieldError("entry", "expected a list of entries")
    for i, entry in enumerate(entries):
        # Checked first: the models fail with a KeyError on an unknown resourceType.
        if isinstance(entry, Mapping) and entry.get("resource") is not None:
            where = f"entry[{i}].resource"
            _check_contained(_require_type(entry["resource"], "Appointment", where), f"{where}.")
    try:
        bundle = Bundle.model_validate(data)
    except ValidationError as exc:
        raise _first_error(exc, "") from exc
    if bundle.type not in BUNDLE_TYPES:
        raise FhirFieldError("type", f"expected one of {', '.join(sorted(BUNDLE_TYPES))}")
    parsed = bundle.entry or []
    return [_entry(i, parsed[i], raw) for i, raw in enumerate(entries)]


def _entry(i: int, entry: Any, raw: Mapping[str, Any]) -> BundleEntry:
    path = f"entry[{i}]"
    request = entry.request
    method = request.method if request is not None else None
    url_id = None
    if request is not None and request.url:
        matched = _APPOINTMENT_URL.match(request.url)
        url_id = matched.group(1) if matched else None
        if matched is None and method in ("PUT", "DELETE"):
            raise FhirFieldError(f"{path}.request.url", "expected Appointment/<id>")
    if method == "DELETE":
        if entry.resource is not None:
            raise FhirFieldError(f"{path}.resource", "a DELETE entry carries no resource")
        return BundleEntry(path, None, url_id)
    if entry.resource is None:
        raise FhirFieldError(f"{path}.resource", "an Appointment is required")
    appointment = parse_appointment(raw["resource"], f"{path}.resource")
    if method == "PUT" and url_id is not None and url_id != appointment.id:
        raise FhirFieldError(
            f"{path}.request.url", f"names Appointment/{url_id}, the resource is {appointment.id}"
        )
    return BundleEntry(path, appointment)


@dataclass(frozen=True)
class Destination:
    """The waypoint an appointment leads to, and the element that chose it."""

    waypoint: str
    match: str
    path: str


def _location_candidates(appointment: Appointment) -> list[tuple[str, str]]:
    found = []
    for i, participant in enumerate(appointment.participant or []):
        actor = participant.actor
        reference = actor.reference if actor is not None else None
        if reference is None:
            continue
        matched = _LOCATION_REFERENCE.search(reference)
        if matched:
            found.append((f"Location/{matched.group(1)}", f"participant[{i}].actor.reference"))
    return found


def _coding_candidates(appointment: Appointment) -> list[tuple[str, str]]:
    found = []
    for element in ("serviceType", "specialty"):
        for i, concept in enumerate(getattr(appointment, element) or []):
            for j, coding in enumerate(concept.coding or []):
                if coding.code is not None:
                    key = f"{coding.system or ''}|{coding.code}"
                    found.append((key, f"{element}[{i}].coding[{j}]"))
    return found


def choose_destination(
    appointment: Appointment, table: Mapping[str, str], prefix: str = ""
) -> Destination:
    """The waypoint the site's mapping table gives the appointment (module docstring)."""
    at = f"{prefix}." if prefix else ""
    locations = _location_candidates(appointment)
    if locations:
        match, path = locations[0]
        if match not in table:
            raise FhirFieldError(
                f"{at}{path}", f"{match} is not in this site's appointment destinations"
            )
        return Destination(table[match], match, f"{at}{path}")
    codings = _coding_candidates(appointment)
    for match, path in codings:
        if match in table:
            return Destination(table[match], match, f"{at}{path}")
    if codings:
        match, path = codings[0]
        raise FhirFieldError(
            f"{at}{path}",
            f"none of the serviceType/specialty codings ({', '.join(m for m, _ in codings)}) "
            "is in this site's appointment destinations",
        )
    raise FhirFieldError(
        f"{at}participant",
        "no Location participant, serviceType or specialty coding to find the department by",
    )


def appointment_start(appointment: Appointment, prefix: str = "") -> datetime:
    """Appointment.start, which a guided appointment must have."""
    if appointment.start is None:
        at = f"{prefix}." if prefix else ""
        raise FhirFieldError(f"{at}start", "a booked appointment needs its start time")
    start: datetime = appointment.start
    return start

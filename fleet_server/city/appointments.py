"""Appointments become guidance missions: per-site routing, planning, and keeping them in step.

A guided appointment (booked, arrived, checked-in) gets one guidance mission from the site's
entrance to its department, due `lead_time_s` before the start. The appointment id is
remembered with its mission, so a re-post with the same id updates rather than duplicates:
unchanged, nothing happens; changed place or time, the old mission is cancelled and a new
one made; cancelled, no-show or entered-in-error (or a DELETE), the mission is cancelled.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from fhir.resources.R4B.appointment import Appointment as FhirAppointment
from pydantic import ValidationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from fleet_server.city.fhir import (
    GUIDED_STATUSES,
    KEEP_STATUSES,
    Destination,
    FhirFieldError,
    appointment_start,
    choose_destination,
)
from fleet_server.db.models import Appointment, AppointmentDestination, AppointmentRouting, Mission
from fleet_server.errors import Conflict, InvalidInput
from fleet_server.missions.queries import create_mission
from fleet_server.missions.runtime import MissionRuntime
from fleet_server.missions.site_check import check_mission_against_site
from fleet_server.missions.states import TERMINAL_STATES, MissionState
from fleet_server.sites.store import SiteStore
from missions.sites import RouteNotFoundError, Site, resolve_waypoint
from missions.types import GuidanceMission, Language, dump_mission

Action = Literal["created", "replaced", "unchanged", "cancelled", "recorded"]
_MATCH = re.compile(r"^(Location/[A-Za-z0-9\-.]{1,64}|[^|\s]*\|[^|\s]+)$")


@dataclass(frozen=True)
class DestinationRule:
    """One mapping-table row."""

    match: str
    waypoint: str


@dataclass(frozen=True)
class Routing:
    """How a site turns appointments into guidance missions."""

    entrance: str
    lead_time_s: float
    language: Language
    wait_for_person_timeout_s: float
    max_speed_m_s: float
    destinations: tuple[DestinationRule, ...]

    def table(self) -> dict[str, str]:
        """Match key -> waypoint."""
        return {rule.match: rule.waypoint for rule in self.destinations}


def check_routing(routing: Routing, site: Site) -> None:
    """Refuse a routing whose places are not on the site's map (InvalidInput naming the field)."""
    places = [("entrance", routing.entrance)]
    places += [
        (f"destinations[{i}].waypoint", r.waypoint) for i, r in enumerate(routing.destinations)
    ]
    for field, ref in places:
        try:
            resolve_waypoint(site, ref)
        except RouteNotFoundError as exc:
            raise InvalidInput(field, str(exc)) from exc
    seen: dict[str, int] = {}
    for i, rule in enumerate(routing.destinations):
        if not _MATCH.match(rule.match):
            raise InvalidInput(
                f"destinations[{i}].match",
                "expected Location/<id> or <system>|<code> (a coding of serviceType or specialty)",
            )
        if rule.match in seen:
            raise InvalidInput(
                f"destinations[{i}].match", f"repeats destinations[{seen[rule.match]}]"
            )
        seen[rule.match] = i


def load_routing(session: Session, site_id: str) -> Routing | None:
    """The site's routing, or None when it has none."""
    row = session.get(AppointmentRouting, site_id)
    if row is None:
        return None
    rules = session.scalars(
        select(AppointmentDestination)
        .where(AppointmentDestination.site_id == site_id)
        .order_by(AppointmentDestination.id)
    )
    return Routing(
        entrance=row.entrance,
        lead_time_s=row.lead_time_s,
        language=Language(row.language),
        wait_for_person_timeout_s=row.wait_for_person_timeout_s,
        max_speed_m_s=row.max_speed_m_s,
        destinations=tuple(DestinationRule(r.match, r.waypoint) for r in rules),
    )


def store_routing(session: Session, site_id: str, routing: Routing) -> None:
    """Replace the site's routing and mapping table (the caller commits)."""
    row = session.get(AppointmentRouting, site_id)
    if row is None:
        row = AppointmentRouting(site_id=site_id)
        session.add(row)
    row.entrance = routing.entrance
    row.lead_time_s = routing.lead_time_s
    row.language = routing.language.value
    row.wait_for_person_timeout_s = routing.wait_for_person_timeout_s
    row.max_speed_m_s = routing.max_speed_m_s
    session.execute(delete(AppointmentDestination).where(AppointmentDestination.site_id == site_id))
    session.add_all(
        AppointmentDestination(site_id=site_id, match=r.match, waypoint=r.waypoint)
        for r in routing.destinations
    )


@dataclass(frozen=True)
class AppointmentPlan:
    """A validated appointment and the guidance mission it wants (None: no guide)."""

    fhir_id: str
    status: str
    resource: dict[str, object]
    start: datetime | None
    destination: Destination | None
    spec: GuidanceMission | None
    over: bool = False
    """A booked appointment whose time is over: no new guide; one under way is left be."""


@dataclass(frozen=True)
class Outcome:
    """What receiving an appointment did."""

    appointment: Appointment
    mission: Mission | None
    action: Action
    created: bool


def _guidance(
    site_id: str, fhir_id: str, routing: Routing, destination: Destination, start: datetime
) -> GuidanceMission:
    earliest = start - timedelta(seconds=routing.lead_time_s)
    try:
        return GuidanceMission.model_validate(
            {
                "site": site_id,
                "name": f"appointment {fhir_id}",
                "from": routing.entrance,
                "to": destination.waypoint,
                "earliest_start": earliest,
                "language": routing.language,
                "wait_for_person_timeout_s": routing.wait_for_person_timeout_s,
                "max_speed_m_s": routing.max_speed_m_s,
            }
        )
    except ValidationError as exc:
        raise FhirFieldError(destination.path, exc.errors(include_url=False)[0]["msg"]) from exc


class AppointmentDesk:
    """Plans appointments against a site's routing and keeps their missions in step."""

    def __init__(self, sites: SiteStore, runtime: MissionRuntime) -> None:
        self.sites = sites
        self.runtime = runtime

    def plan(
        self, session: Session, site_id: str, appointment: FhirAppointment, prefix: str = ""
    ) -> AppointmentPlan:
        """Validate against the site: FhirFieldError naming the element, Conflict without a
        routing or when the routing no longer fits the site's map."""
        fhir_id = str(appointment.id)
        resource = appointment.model_dump(mode="json", by_alias=True, exclude_none=True)
        status = str(appointment.status)
        if status not in GUIDED_STATUSES:
            start = appointment.start if isinstance(appointment.start, datetime) else None
            return AppointmentPlan(fhir_id, status, resource, start, None, None)
        routing = load_routing(session, site_id)
        if routing is None:
            raise Conflict(
                f"site {site_id!r} has no appointment routing; "
                f"set it with PUT /api/v1/sites/{site_id}/appointment-routing"
            )
        destination = choose_destination(appointment, routing.table(), prefix)
        start = appointment_start(appointment, prefix)
        if _over(appointment, start):
            return AppointmentPlan(fhir_id, status, resource, start, destination, None, over=True)
        spec = _guidance(site_id, fhir_id, routing, destination, start)
        try:
            check_mission_against_site(self.sites, session, spec)
        except InvalidInput as exc:
            field = exc.extra["errors"][0]["field"]
            if field == "to":
                raise FhirFieldError(destination.path, exc.detail) from exc
            raise Conflict(f"the appointment routing of site {site_id!r}: {exc.detail}") from exc
        return AppointmentPlan(fhir_id, status, resource, start, destination, spec)

    def apply(self, session: Session, site_id: str, plan: AppointmentPlan, actor: str) -> Outcome:
        """Store the appointment and create, keep, replace or cancel its mission."""
        link = _link(session, site_id, plan.fhir_id)
        created = link is None
        if link is None:
            link = Appointment(site_id=site_id, fhir_id=plan.fhir_id)
            session.add(link)
        was_guided = link.status in GUIDED_STATUSES
        # The row is complete before anything below flushes the session.
        link.status = plan.status
        link.start = plan.start
        link.destination = plan.destination.waypoint if plan.destination else None
        link.resource = plan.resource
        mission = session.get(Mission, link.mission_id) if link.mission_id is not None else None
        running = mission is not None and MissionState(mission.state) not in TERMINAL_STATES
        action: Action = "recorded"
        if plan.spec is None:
            if (
                running
                and mission is not None
                and not plan.over
                and plan.status not in KEEP_STATUSES
            ):
                self.runtime.cancel(session, mission, actor)
                action = "cancelled"
        else:
            wanted = dump_mission(plan.spec)
            same = mission is not None and mission.spec == wanted
            if same and (running or was_guided):
                action = "unchanged"  # also: a finished guide for the same visit stays done
            else:
                if running and mission is not None:
                    self.runtime.cancel(session, mission, actor)
                action = "replaced" if mission is not None else "created"
                mission = create_mission(session, plan.spec, site_id, actor)
                link.mission_id = mission.id
        return Outcome(link, mission, action, created)

    def cancel(self, session: Session, site_id: str, fhir_id: str, actor: str) -> Outcome:
        """The appointment was deleted at the platform: cancel its mission if it still runs."""
        link = _link(session, site_id, fhir_id)
        if link is None:
            raise LookupError(fhir_id)
        mission = session.get(Mission, link.mission_id) if link.mission_id is not None else None
        action: Action = "recorded"
        if mission is not None and MissionState(mission.state) not in TERMINAL_STATES:
            self.runtime.cancel(session, mission, actor)
            action = "cancelled"
        link.status = "cancelled"
        return Outcome(link, mission, action, False)


def _over(appointment: FhirAppointment, start: datetime) -> bool:
    """A booked appointment whose end (its start, without one) has passed needs no guide.

    A visitor who has arrived or checked in is guided whatever the time (a late arrival
    still has to find the department).
    """
    if str(appointment.status) != "booked":
        return False
    end = appointment.end if isinstance(appointment.end, datetime) else start
    return end < datetime.now(UTC)


def _link(session: Session, site_id: str, fhir_id: str) -> Appointment | None:
    return session.scalar(
        select(Appointment).where(Appointment.site_id == site_id, Appointment.fhir_id == fhir_id)
    )


def find_appointment(session: Session, site_id: str, fhir_id: str) -> Appointment | None:
    """The stored appointment with that id at the site."""
    return _link(session, site_id, fhir_id)

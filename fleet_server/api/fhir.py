"""Health platform: FHIR R4 Appointments in, guidance missions out; the per-site routing.

FHIR-shaped URLs under the site (docs/city.md): `POST …/fhir/Appointment` (create or
update by Appointment.id), `PUT …/fhir/Appointment/{id}`, `DELETE …/fhir/Appointment/{id}`,
`GET …/fhir/Appointment/{id}`, and `POST …/fhir` with a batch/transaction Bundle.
Bodies may be sent as application/fhir+json or application/json.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from fleet_server.auth.audit import Actor, record_audit
from fleet_server.auth.roles import Principal, Role
from fleet_server.city.appointments import (
    AppointmentDesk,
    Outcome,
    check_routing,
    find_appointment,
    load_routing,
    store_routing,
)
from fleet_server.city.fhir import FhirFieldError, parse_appointment, parse_bundle
from fleet_server.city.schemas import AppointmentPublic, RoutingBody
from fleet_server.db.models import Appointment, Mission
from fleet_server.deps import ActorDep, ServicesDep, SessionDep, require_role
from fleet_server.errors import InvalidInput, NotFound
from fleet_server.sites.store import SiteMapUnavailable, SiteNotFound
from missions.sites import Site

router = APIRouter(prefix="/api/v1/sites/{site_id}", tags=["health platform"])

SiteId = Annotated[str, Path(max_length=64)]
FhirId = Annotated[str, Path(pattern=r"^[A-Za-z0-9\-.]{1,64}$")]
SiteViewer = Annotated[Principal, Depends(require_role(Role.VIEWER, site_param="site_id"))]
SiteDispatcher = Annotated[Principal, Depends(require_role(Role.DISPATCHER, site_param="site_id"))]
SiteManager = Annotated[Principal, Depends(require_role(Role.SITE_MANAGER, site_param="site_id"))]
FhirBody = Annotated[dict[str, Any], Body(media_type="application/fhir+json")]


def _public(session: Session, link: Appointment, action: str | None = None) -> AppointmentPublic:
    mission = session.get(Mission, link.mission_id) if link.mission_id is not None else None
    return AppointmentPublic(
        id=link.fhir_id,
        site_id=link.site_id,
        status=link.status,
        start=link.start,
        destination=link.destination,
        mission_id=link.mission_id,
        mission_state=str(mission.state.value) if mission is not None else None,
        action=action,
        updated_at=link.updated_at,
    )


def _require_site(services: ServicesDep, session: Session, site_id: str) -> Site:
    try:
        return services.sites.load(session, site_id)
    except SiteNotFound as exc:
        raise NotFound(str(exc)) from exc
    except SiteMapUnavailable as exc:
        raise InvalidInput("site_id", str(exc)) from exc


def _audit(session: Session, actor: Actor, site_id: str, outcome: Outcome) -> None:
    record_audit(
        session,
        actor,
        "appointment.receive",
        target=f"appointment:{site_id}/{outcome.appointment.fhir_id}",
        site_id=site_id,
        detail={
            "status": outcome.appointment.status,
            "action": outcome.action,
            "mission": str(outcome.mission.id) if outcome.mission is not None else None,
        },
    )


def _receive(
    services: ServicesDep,
    session: Session,
    actor: Actor,
    site_id: str,
    resource: dict[str, Any],
    url_id: str | None = None,
) -> JSONResponse:
    _require_site(services, session, site_id)
    desk = AppointmentDesk(services.sites, services.missions)
    try:
        appointment = parse_appointment(resource)
        if url_id is not None and appointment.id != url_id:
            raise FhirFieldError("id", f"must equal the id in the URL ({url_id})")
        plan = desk.plan(session, site_id, appointment)
    except FhirFieldError as exc:
        raise InvalidInput(exc.path, exc.message) from exc
    outcome = desk.apply(session, site_id, plan, actor.name)
    _audit(session, actor, site_id, outcome)
    session.commit()
    services.missions.poke()
    body = _public(session, outcome.appointment, outcome.action)
    location = f"/api/v1/sites/{site_id}/fhir/Appointment/{body.id}"
    return JSONResponse(
        body.model_dump(mode="json"),
        status_code=201 if outcome.created else 200,
        headers={"Location": location},
    )


@router.post("/fhir/Appointment", response_model=AppointmentPublic, status_code=201)
def post_appointment(
    site_id: SiteId,
    resource: FhirBody,
    services: ServicesDep,
    session: SessionDep,
    actor: ActorDep,
    _dispatcher: SiteDispatcher,
) -> JSONResponse:
    """Create (201) or update (200) by Appointment.id; guided appointments get a mission."""
    return _receive(services, session, actor, site_id, resource)


@router.put("/fhir/Appointment/{fhir_id}", response_model=AppointmentPublic)
def put_appointment(
    site_id: SiteId,
    fhir_id: FhirId,
    resource: FhirBody,
    services: ServicesDep,
    session: SessionDep,
    actor: ActorDep,
    _dispatcher: SiteDispatcher,
) -> JSONResponse:
    """FHIR update: the same as POST, with the id in the URL."""
    return _receive(services, session, actor, site_id, resource, url_id=fhir_id)


@router.delete("/fhir/Appointment/{fhir_id}", response_model=AppointmentPublic)
def delete_appointment(
    site_id: SiteId,
    fhir_id: FhirId,
    services: ServicesDep,
    session: SessionDep,
    actor: ActorDep,
    _dispatcher: SiteDispatcher,
) -> AppointmentPublic:
    """The appointment is withdrawn: its guidance mission is cancelled if it still runs."""
    desk = AppointmentDesk(services.sites, services.missions)
    try:
        outcome = desk.cancel(session, site_id, fhir_id, actor.name)
    except LookupError as exc:
        raise NotFound(f"no appointment {fhir_id!r} at site {site_id!r}") from exc
    _audit(session, actor, site_id, outcome)
    session.commit()
    return _public(session, outcome.appointment, outcome.action)


@router.get("/fhir/Appointment/{fhir_id}", response_model=AppointmentPublic)
def get_appointment(
    site_id: SiteId, fhir_id: FhirId, session: SessionDep, _viewer: SiteViewer
) -> AppointmentPublic:
    """A received appointment and its mission."""
    link = find_appointment(session, site_id, fhir_id)
    if link is None:
        raise NotFound(f"no appointment {fhir_id!r} at site {site_id!r}")
    return _public(session, link)


@router.post("/fhir")
def post_bundle(
    site_id: SiteId,
    bundle: FhirBody,
    services: ServicesDep,
    session: SessionDep,
    actor: ActorDep,
    _dispatcher: SiteDispatcher,
) -> JSONResponse:
    """A batch/transaction Bundle of Appointments, checked as a whole before any is applied.

    Answers a `batch-response`/`transaction-response` Bundle with one response per entry.
    """
    _require_site(services, session, site_id)
    desk = AppointmentDesk(services.sites, services.missions)
    try:
        entries = parse_bundle(bundle)
        plans = [
            None
            if entry.appointment is None
            else desk.plan(session, site_id, entry.appointment, f"{entry.path}.resource")
            for entry in entries
        ]
    except FhirFieldError as exc:
        raise InvalidInput(exc.path, exc.message) from exc
    for entry in entries:
        if (
            entry.delete_id is not None
            and find_appointment(session, site_id, entry.delete_id) is None
        ):
            raise InvalidInput(f"{entry.path}.request.url", f"no appointment {entry.delete_id!r}")
    responses = []
    for entry, plan in zip(entries, plans, strict=True):
        if plan is None:
            outcome = desk.cancel(session, site_id, str(entry.delete_id), actor.name)
        else:
            outcome = desk.apply(session, site_id, plan, actor.name)
        session.flush()
        _audit(session, actor, site_id, outcome)
        status = "201 Created" if outcome.created else "200 OK"
        responses.append(
            {
                "response": {
                    "status": status,
                    "location": f"Appointment/{outcome.appointment.fhir_id}",
                }
            }
        )
    session.commit()
    services.missions.poke()
    kind = "transaction-response" if bundle.get("type") == "transaction" else "batch-response"
    return JSONResponse(
        {"resourceType": "Bundle", "type": kind, "entry": responses},
        media_type="application/fhir+json",
    )


@router.put("/appointment-routing", response_model=RoutingBody)
def put_routing(
    site_id: SiteId,
    body: RoutingBody,
    services: ServicesDep,
    session: SessionDep,
    actor: ActorDep,
    _manager: SiteManager,
) -> RoutingBody:
    """Set the entrance, lead time, language and the department mapping table."""
    site = _require_site(services, session, site_id)
    routing = body.routing()
    check_routing(routing, site)
    store_routing(session, site_id, routing)
    record_audit(
        session,
        actor,
        "appointment.routing",
        target=f"site:{site_id}",
        site_id=site_id,
        detail={"destinations": len(routing.destinations)},
    )
    session.commit()
    return body


@router.get("/appointment-routing", response_model=RoutingBody)
def get_routing(site_id: SiteId, session: SessionDep, _viewer: SiteViewer) -> RoutingBody:
    """The site's routing; 404 until one is set."""
    routing = load_routing(session, site_id)
    if routing is None:
        raise NotFound(f"site {site_id!r} has no appointment routing")
    return RoutingBody.of(routing)

"""`GET /metrics`: Prometheus text format; public unless `FLEET_METRICS_PUBLIC=false`."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from fleet_server.auth.roles import Role
from fleet_server.auth.sessions import principal_for_bearer
from fleet_server.deps import ServicesDep
from fleet_server.errors import NotAuthenticated, PermissionDenied
from fleet_server.observability.exposition import CONTENT_TYPE
from fleet_server.services import FleetServices

router = APIRouter(tags=["operations"])


def _require_viewer(services: FleetServices, authorization: str | None) -> None:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated()
    with services.db.session() as session:
        principal = principal_for_bearer(session, services.auth, token.strip())
    if not principal.has_anywhere(Role.VIEWER):
        raise PermissionDenied("requires the viewer role")


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE: {}}, "description": "Prometheus metrics"}},
)
async def metrics(request: Request, services: ServicesDep) -> Response:
    """Robots online by site, ingest, MQTT link, orders, missions, dispatch latency, live."""
    if not services.settings.metrics_public:
        await run_in_threadpool(_require_viewer, services, request.headers.get("authorization"))
    return Response(await services.metrics.exposition(), media_type=CONTENT_TYPE)

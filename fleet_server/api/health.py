"""Operations endpoints that need no authentication."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from fleet_server.deps import ServicesDep

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz(services: ServicesDep) -> JSONResponse:
    """200 once the broker link is up, 503 while it is not."""
    up = services.link.connected
    return JSONResponse(
        {"status": "ok" if up else "broker link down", "broker_link": up},
        status_code=200 if up else 503,
    )

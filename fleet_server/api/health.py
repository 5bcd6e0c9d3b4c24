"""Operations endpoints that need no authentication."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
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


@router.get("/readyz")
async def readyz(services: ServicesDep) -> JSONResponse:
    """200 when the database answers a query and the broker link is up, 503 otherwise."""
    database = await run_in_threadpool(services.db.ping)
    broker = services.link.connected
    ready = database and broker
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "database": database, "broker_link": broker},
        status_code=200 if ready else 503,
    )

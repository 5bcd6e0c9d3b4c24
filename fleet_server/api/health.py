"""Operations endpoints that need no authentication."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from fleet_server.deps import ServicesDep

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz(services: ServicesDep) -> JSONResponse:
    """200 while the broker link is up and the database answers, 503 while either is not
    (robots carry on meanwhile; the body says which)."""
    up = services.link.connected
    database = services.db.ping()
    problems = [
        what for what, ok in (("broker link down", up), ("database down", database)) if not ok
    ]
    return JSONResponse(
        {"status": "; ".join(problems) or "ok", "broker_link": up, "database": database},
        status_code=503 if problems else 200,
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

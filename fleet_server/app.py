"""The FastAPI application: services in the lifespan, one router per resource."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from fleet_server.api import (
    alarms,
    audit,
    auth,
    emergency,
    fhir,
    geo,
    health,
    live,
    metrics,
    missions,
    plan,
    robots,
    schedules,
    sites,
    tokens,
    users,
    webhooks,
)
from fleet_server.console_static import ConsoleConfig, mount_console
from fleet_server.errors import install_problem_handlers
from fleet_server.http_input import guard_request_input
from fleet_server.http_security import add_security_headers
from fleet_server.observability.structured_logging import RequestContextMiddleware
from fleet_server.services import run_services
from fleet_server.settings import Settings


def create_app(settings: Settings) -> FastAPI:
    """An app whose lifespan starts and stops every service it needs."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with run_services(settings) as services:
            app.state.services = services
            yield

    app = FastAPI(title="Fleet server", version="0.1.0", lifespan=lifespan)
    guard_request_input(app, settings)
    # Added before the request-id middleware, so it runs inside it and sees the id.
    app.add_middleware(RequestContextMiddleware)
    install_problem_handlers(app)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(live.router)
    app.include_router(auth.router)
    app.include_router(robots.router)
    app.include_router(sites.router)
    app.include_router(plan.router)
    app.include_router(missions.router)
    app.include_router(users.router)
    app.include_router(tokens.router)
    app.include_router(audit.router)
    app.include_router(alarms.router)
    app.include_router(schedules.router)
    app.include_router(webhooks.router)
    app.include_router(emergency.router)
    app.include_router(geo.router)
    app.include_router(fhir.router)
    console = ConsoleConfig()
    mount_console(app, config=console)
    add_security_headers(app, settings, console.map_tile_url)
    return app

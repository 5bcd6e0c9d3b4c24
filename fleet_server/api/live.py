"""The live stream: `WebSocket /api/v1/live` (protocol in `fleet_server.live.protocol`)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, WebSocket

from fleet_server.auth.roles import Principal
from fleet_server.auth.sessions import principal_for_bearer
from fleet_server.errors import FleetError
from fleet_server.live.connection import ConnectionSettings, LiveConnection
from fleet_server.live.queries import site_exists
from fleet_server.services import FleetServices

router = APIRouter(tags=["live"])


def _principal(services: FleetServices, token: str) -> Principal | None:
    with services.db.session() as session:
        try:
            return principal_for_bearer(session, services.auth, token)
        except FleetError:  # not authenticated, or throttled: either way, no entry
            return None


@router.websocket("/api/v1/live")
async def live_stream(websocket: WebSocket) -> None:
    """Snapshot, then batched changes of the sites the client subscribes to."""
    services: FleetServices = websocket.app.state.services
    settings = services.settings

    async def authenticate(token: str) -> Principal | None:
        return await asyncio.to_thread(_principal, services, token)

    async def known_site(site_id: str) -> bool:
        return await asyncio.to_thread(site_exists, services.db, site_id)

    await websocket.accept()
    connection = LiveConnection(
        websocket,
        services.hub,
        authenticate,
        known_site,
        ConnectionSettings(
            auth_timeout_s=settings.live_auth_timeout_s,
            reauth_interval_s=settings.live_reauth_interval_s,
        ),
    )
    await connection.serve()

"""Named dependency types, so route signatures read like sentences."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from fleet_server.fleet.live_state import LiveFleet
from fleet_server.services import FleetServices


def get_services(request: Request) -> FleetServices:
    """The services of the running app."""
    services: FleetServices = request.app.state.services
    return services


def get_live_fleet(request: Request) -> LiveFleet:
    """The live fleet state."""
    return get_services(request).live


ServicesDep = Annotated[FleetServices, Depends(get_services)]
LiveFleetDep = Annotated[LiveFleet, Depends(get_live_fleet)]

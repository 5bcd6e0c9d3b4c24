"""Named dependency types, so route signatures read like sentences."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session

from fleet_server.auth.audit import Actor
from fleet_server.auth.context import AuthContext
from fleet_server.auth.roles import Principal, Role
from fleet_server.auth.sessions import principal_for_bearer
from fleet_server.errors import NotAuthenticated, PermissionDenied, request_id_of
from fleet_server.fleet.live_state import LiveFleet
from fleet_server.services import FleetServices

SIGN_IN_PATH = "/api/v1/auth/token"


def get_services(request: Request) -> FleetServices:
    """The services of the running app."""
    services: FleetServices = request.app.state.services
    return services


def get_live_fleet(request: Request) -> LiveFleet:
    """The live fleet state."""
    return get_services(request).live


ServicesDep = Annotated[FleetServices, Depends(get_services)]
LiveFleetDep = Annotated[LiveFleet, Depends(get_live_fleet)]


def get_session(request: Request) -> Iterator[Session]:
    """A database session for one request, closed (and rolled back if uncommitted) after it."""
    with get_services(request).db.session() as session:
        yield session


def get_auth(request: Request) -> AuthContext:
    """The process's password hasher, token issuer and login throttles."""
    return get_services(request).auth


def client_address(request: Request) -> str:
    """The peer address, which login throttling counts failures by."""
    return request.client.host if request.client else "unknown"


SessionDep = Annotated[Session, Depends(get_session)]
AuthDep = Annotated[AuthContext, Depends(get_auth)]
ClientAddress = Annotated[str, Depends(client_address)]

# The OAuth2 scheme makes /docs offer a sign-in; API tokens travel in the same header.
_bearer = OAuth2PasswordBearer(tokenUrl=SIGN_IN_PATH, auto_error=False)


def get_principal(
    session: SessionDep, auth: AuthDep, token: Annotated[str | None, Depends(_bearer)]
) -> Principal:
    """The signed-in caller; 401 without valid credentials."""
    if not token:
        raise NotAuthenticated()
    return principal_for_bearer(session, auth, token)


CurrentUser = Annotated[Principal, Depends(get_principal)]


def get_actor(principal: CurrentUser, request: Request) -> Actor:
    """The caller as audit records name them, with the request's id."""
    return Actor.of(principal, request_id_of(request))


ActorDep = Annotated[Actor, Depends(get_actor)]


def require_role(
    role: Role, *, site_param: str | None = None, all_sites: bool = False
) -> Callable[[Principal, Request], Principal]:
    """A dependency that lets the caller through only with `role` (or higher).

    - `all_sites`: the role must be granted for all sites;
    - `site_param`: the role must cover the site named by that path or query parameter
      (when the request does not carry it, any site will do and the route must filter);
    - neither: the role at any one site is enough (the route shows only those sites).
    """

    def check(principal: CurrentUser, request: Request) -> Principal:
        if all_sites:
            if not principal.has(role):
                raise PermissionDenied(f"requires the {role.value} role for all sites")
            return principal
        site_id = None
        if site_param is not None:
            site_id = request.path_params.get(site_param) or request.query_params.get(site_param)
        if site_id is not None:
            if not principal.has(role, site_id):
                raise PermissionDenied(f"requires the {role.value} role at site {site_id!r}")
        elif not principal.has_anywhere(role):
            raise PermissionDenied(f"requires the {role.value} role")
        return principal

    return check


RequireViewer = Annotated[Principal, Depends(require_role(Role.VIEWER))]
RequireDispatcher = Annotated[Principal, Depends(require_role(Role.DISPATCHER))]
RequireSiteManager = Annotated[Principal, Depends(require_role(Role.SITE_MANAGER))]
RequireAdmin = Annotated[Principal, Depends(require_role(Role.ADMIN, all_sites=True))]

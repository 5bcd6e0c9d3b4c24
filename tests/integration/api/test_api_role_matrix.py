"""Every route × every role: allowed where the role (at the right scope) permits, else refused.

Refusals are 401 without credentials and 403 with insufficient roles (404 where a resource
of someone else must not be revealed). A site-scoped admin is refused everything that needs
the admin role for all sites.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest

from fleet_server.auth.roles import Grant, Role
from tests.integration.api.cast import PASSWORD, ROLES, Api, sign_in

EVERYONE = frozenset(ROLES)
SIGNED_IN = EVERYONE - {"anonymous"}
ANY_ROLE = SIGNED_IN - {"no_roles"}
GLOBAL_ADMIN = frozenset({"admin"})

Call = Callable[[Api, str], httpx.Response]


@dataclass(frozen=True)
class Route:
    """One route, how to call it as a role, and who may."""

    name: str
    allowed: frozenset[str]
    call: Call
    ok: int = 200
    refused: int = 403


def _get(path: str) -> Call:
    return lambda api, role: api.client.get(path, headers=api.as_(role))


def _change_own_password(api: Api, role: str) -> httpx.Response:
    _, headers = api.clone(role)
    body = {"current_password": PASSWORD, "new_password": "another-long-password"}
    return api.client.put("/api/v1/users/me/password", json=body, headers=headers)


def _create_user(api: Api, role: str) -> httpx.Response:
    body = {"username": f"new-{role.replace('_', '-')}-{api.throwaway()[2:]}", "roles": []}
    return api.client.post("/api/v1/users", json=body, headers=api.as_(role))


def _get_user(api: Api, role: str) -> httpx.Response:
    return api.client.get("/api/v1/users/viewer_south", headers=api.as_(role))


def _set_roles(api: Api, role: str) -> httpx.Response:
    body = {"roles": [{"role": "dispatcher", "site_id": "north"}]}
    return api.client.put(
        f"/api/v1/users/{api.throwaway()}/roles", json=body, headers=api.as_(role)
    )


def _disable(api: Api, role: str) -> httpx.Response:
    return api.client.post(f"/api/v1/users/{api.throwaway()}/disable", headers=api.as_(role))


def _enable(api: Api, role: str) -> httpx.Response:
    username = api.throwaway(disabled=True)
    return api.client.post(f"/api/v1/users/{username}/enable", headers=api.as_(role))


def _create_token(api: Api, role: str) -> httpx.Response:
    return api.client.post("/api/v1/tokens", json={"name": "matrix"}, headers=api.as_(role))


def _revoke_own_token(api: Api, role: str) -> httpx.Response:
    _, headers = api.clone(role)
    token_id = 1  # anonymous cannot create one; any id shows the 401 comes first
    if headers:
        created = api.client.post("/api/v1/tokens", json={"name": "mine"}, headers=headers)
        token_id = created.json()["id"]
    return api.client.delete(f"/api/v1/tokens/{token_id}", headers=headers)


def _revoke_others_token(api: Api, role: str) -> httpx.Response:
    _, owner = api.clone("viewer_south")
    created = api.client.post("/api/v1/tokens", json={"name": "theirs"}, headers=owner)
    token_id = created.json()["id"]
    return api.client.delete(f"/api/v1/tokens/{token_id}", headers=api.as_(role))


ROUTES = [
    Route("GET /healthz", EVERYONE, _get("/healthz")),
    Route("GET /readyz", EVERYONE, _get("/readyz")),
    Route("GET /api/v1/robots", ANY_ROLE, _get("/api/v1/robots")),
    Route("GET /api/v1/users/me", SIGNED_IN, _get("/api/v1/users/me")),
    Route("PUT /api/v1/users/me/password", SIGNED_IN, _change_own_password, ok=204),
    Route("GET /api/v1/users", GLOBAL_ADMIN, _get("/api/v1/users")),
    Route("GET /api/v1/users/{username}", GLOBAL_ADMIN, _get_user),
    Route("POST /api/v1/users", GLOBAL_ADMIN, _create_user, ok=201),
    Route("PUT /api/v1/users/{username}/roles", GLOBAL_ADMIN, _set_roles),
    Route("POST /api/v1/users/{username}/disable", GLOBAL_ADMIN, _disable),
    Route("POST /api/v1/users/{username}/enable", GLOBAL_ADMIN, _enable),
    Route("POST /api/v1/tokens", SIGNED_IN, _create_token, ok=201),
    Route("GET /api/v1/tokens", SIGNED_IN, _get("/api/v1/tokens")),
    Route(
        "GET /api/v1/tokens?all_owners=true", GLOBAL_ADMIN, _get("/api/v1/tokens?all_owners=true")
    ),
    Route(
        "GET /api/v1/tokens?owner=viewer_south",
        GLOBAL_ADMIN | {"viewer_south"},
        _get("/api/v1/tokens?owner=viewer_south"),
    ),
    Route("DELETE /api/v1/tokens/{own}", SIGNED_IN, _revoke_own_token, ok=204),
    Route(
        "DELETE /api/v1/tokens/{others}", GLOBAL_ADMIN, _revoke_others_token, ok=204, refused=404
    ),
    Route("GET /api/v1/audit", GLOBAL_ADMIN, _get("/api/v1/audit")),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_route_allows_exactly_its_roles(api: Api, route: Route, role: str) -> None:
    response = route.call(api, role)
    if role in route.allowed:
        assert response.status_code == route.ok, response.text
    elif role == "anonymous":
        assert response.status_code == 401, response.text
        assert response.headers["www-authenticate"] == "Bearer"
    else:
        assert response.status_code == route.refused, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("role", "wanted", "status"),
    [
        ("dispatcher_north", {"role": "dispatcher", "site_id": "north"}, 201),
        ("dispatcher_north", {"role": "viewer", "site_id": "north"}, 201),
        ("dispatcher_north", {"role": "dispatcher", "site_id": "south"}, 403),
        ("dispatcher_north", {"role": "site_manager", "site_id": "north"}, 403),
        ("dispatcher_north", {"role": "viewer", "site_id": None}, 403),
        ("admin_north", {"role": "admin", "site_id": None}, 403),
        ("admin_north", {"role": "site_manager", "site_id": "north"}, 201),
        ("viewer_south", {"role": "viewer", "site_id": "north"}, 403),
        ("admin", {"role": "dispatcher", "site_id": "south"}, 201),
        ("no_roles", {"role": "viewer", "site_id": "north"}, 403),
    ],
)
def test_a_token_can_only_carry_roles_its_creator_holds(
    api: Api, role: str, wanted: dict[str, str | None], status: int
) -> None:
    body = {"name": "scoped", "roles": [wanted]}
    response = api.client.post("/api/v1/tokens", json=body, headers=api.as_(role))
    assert response.status_code == status, response.text
    if status == 403:
        assert response.json()["detail"].startswith("roles[0]: you do not hold")


def test_a_site_token_acts_only_within_its_site_and_role(api: Api) -> None:
    body = {"name": "north viewer", "roles": [{"role": "viewer", "site_id": "north"}]}
    token = api.client.post("/api/v1/tokens", json=body, headers=api.as_("admin")).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert api.client.get("/api/v1/robots", headers=headers).status_code == 200
    assert api.client.get("/api/v1/users", headers=headers).status_code == 403
    assert api.client.get("/api/v1/audit", headers=headers).status_code == 403


def test_a_token_loses_what_its_owner_loses(api: Api) -> None:
    owner = api.throwaway([Grant(Role.DISPATCHER, "north")])
    created = api.client.post(
        "/api/v1/tokens", json={"name": "t"}, headers=sign_in(api.client, owner)
    )
    headers = {"Authorization": f"Bearer {created.json()['token']}"}
    assert api.client.get("/api/v1/robots", headers=headers).status_code == 200
    cleared = api.client.put(
        f"/api/v1/users/{owner}/roles", json={"roles": []}, headers=api.as_("admin")
    )
    assert cleared.status_code == 200
    assert api.client.get("/api/v1/robots", headers=headers).status_code == 403


def test_tokens_cannot_mint_tokens(api: Api) -> None:
    created = api.client.post("/api/v1/tokens", json={"name": "t"}, headers=api.as_("admin"))
    headers = {"Authorization": f"Bearer {created.json()['token']}"}
    again = api.client.post("/api/v1/tokens", json={"name": "child"}, headers=headers)
    assert again.status_code == 403
    assert "password" in again.json()["detail"]


# The only operations anyone may call without credentials (the sign-in endpoints check theirs).
PUBLIC = {"/healthz", "/readyz", "/metrics", "/api/v1/auth/token", "/api/v1/auth/refresh"}


def test_every_other_operation_in_the_app_requires_credentials(api: Api) -> None:
    paths = api.client.get("/openapi.json").json()["paths"]
    checked = 0
    for template, item in paths.items():
        if template in PUBLIC:
            continue
        path = re.sub(r"\{[^}]+\}", "1", template)
        for method in item:
            for headers in ({}, {"Authorization": "Bearer not-a-token"}):
                response = api.client.request(method.upper(), path, headers=headers)
                assert response.status_code == 401, (method, template, response.text)
            checked += 1
    assert checked >= 20

"""`require_role`: all-sites, per-site (path or query parameter) and any-site checks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from fleet_server.auth.roles import Grant, Principal, Role
from fleet_server.deps import RequireAdmin, RequireDispatcher, get_principal, require_role
from fleet_server.errors import install_problem_handlers

SITE_DISPATCHER = require_role(Role.DISPATCHER, site_param="site_id")


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/sites/{site_id}/work")
    def site_work(
        site_id: str, who: Annotated[Principal, Depends(SITE_DISPATCHER)]
    ) -> dict[str, str]:
        return {"site": site_id, "who": who.username}

    @app.get("/work")
    def listed_work(
        who: Annotated[Principal, Depends(SITE_DISPATCHER)], site_id: str | None = None
    ) -> dict[str, str | None]:
        return {"site": site_id}

    @app.get("/anywhere")
    def anywhere(who: RequireDispatcher) -> dict[str, str]:
        return {"who": who.username}

    @app.get("/global")
    def global_admin(who: RequireAdmin) -> dict[str, str]:
        return {"who": who.username}

    return app


@pytest.fixture
def call() -> Iterator[object]:
    app = _app()
    client = TestClient(app)

    def as_(grants: list[Grant], path: str) -> int:
        principal = Principal(user_id=1, username="u", grants=frozenset(grants))
        app.dependency_overrides[get_principal] = lambda: principal
        return client.get(path).status_code

    yield as_


@pytest.mark.parametrize(
    ("grants", "path", "status"),
    [
        ([Grant(Role.DISPATCHER, "north")], "/sites/north/work", 200),
        ([Grant(Role.SITE_MANAGER, "north")], "/sites/north/work", 200),
        ([Grant(Role.DISPATCHER, "north")], "/sites/south/work", 403),
        ([Grant(Role.VIEWER, "north")], "/sites/north/work", 403),
        ([Grant(Role.DISPATCHER, None)], "/sites/south/work", 200),
        ([Grant(Role.ADMIN, "south")], "/sites/south/work", 200),
        ([Grant(Role.DISPATCHER, "north")], "/work?site_id=north", 200),
        ([Grant(Role.DISPATCHER, "north")], "/work?site_id=south", 403),
        ([Grant(Role.DISPATCHER, "north")], "/work", 200),
        ([Grant(Role.VIEWER, None)], "/work", 403),
        ([Grant(Role.DISPATCHER, "south")], "/anywhere", 200),
        ([Grant(Role.VIEWER, "south")], "/anywhere", 403),
        ([], "/anywhere", 403),
        ([Grant(Role.ADMIN, None)], "/global", 200),
        ([Grant(Role.ADMIN, "north"), Grant(Role.ADMIN, "south")], "/global", 403),
        ([Grant(Role.SITE_MANAGER, None)], "/global", 403),
    ],
)
def test_require_role(call: object, grants: list[Grant], path: str, status: int) -> None:
    assert call(grants, path) == status  # type: ignore[operator]


def test_refusals_name_the_role_and_site() -> None:
    app = _app()
    principal = Principal(user_id=1, username="u", grants=frozenset({Grant(Role.VIEWER, "north")}))
    app.dependency_overrides[get_principal] = lambda: principal
    body = TestClient(app).get("/sites/south/work").json()
    assert body["status"] == 403
    assert body["detail"] == "requires the dispatcher role at site 'south'"

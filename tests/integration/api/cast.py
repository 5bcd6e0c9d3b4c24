"""The API under test and its cast of users, shared by the API tests.

The cast covers every role case: an admin for all sites (`admin`, created by the server
from FLEET_ADMIN_PASSWORD), an admin of one site, a site manager, a dispatcher and a viewer
at site `north`, a viewer at `south`, and a user without roles. Tests that need real places
give a site the clinic's map (`give_clinic_map`) or upload site `clinic` (`upload_clinic`).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from fleet_server.app import create_app
from fleet_server.auth.audit import SYSTEM
from fleet_server.auth.passwords import PasswordHasher
from fleet_server.auth.roles import Grant, Role
from fleet_server.auth.users import create_user, get_user
from fleet_server.db.models import Site
from fleet_server.services import FleetServices
from fleet_server.settings import Settings
from missions.sites import import_site

PASSWORD = "a-long-test-password"
ADMIN_PASSWORD = "the-first-admin-password"
SITES = ("north", "south")
GRANTS: dict[str, list[Grant]] = {
    "admin": [Grant(Role.ADMIN)],
    "admin_north": [Grant(Role.ADMIN, "north")],
    "manager_north": [Grant(Role.SITE_MANAGER, "north")],
    "dispatcher_north": [Grant(Role.DISPATCHER, "north")],
    "viewer_north": [Grant(Role.VIEWER, "north")],
    "viewer_south": [Grant(Role.VIEWER, "south")],
    "no_roles": [],
}
ROLES = (*GRANTS, "anonymous")
NORTH_STAFF = {"admin", "admin_north", "manager_north", "dispatcher_north", "viewer_north"}
NORTH_DISPATCH = {"admin", "admin_north", "manager_north", "dispatcher_north"}
NORTH_MANAGERS = {"admin", "admin_north", "manager_north"}
ANY_ROLE = set(ROLES) - {"anonymous", "no_roles"}
RMF = Path(__file__).resolve().parents[2] / "fixtures" / "maps" / "rmf"
PATROL_AT_NORTH = {"kind": "patrol", "site": "north", "checkpoints": ["L1_left_nurse_center"]}
TEST_HASHER = PasswordHasher("fast-insecure")


def status_for(allowed: set[str], ok: int, hidden: int) -> Callable[[str], int]:
    """The status each cast member should get: 401 signed out, ``ok`` in ``allowed``, 403
    for the rest of north's staff (who see the thing), ``hidden`` for everyone else (404
    where they are not to learn that it exists)."""

    def expected(role: str) -> int:
        if role == "anonymous":
            return 401
        if role in allowed:
            return ok
        return 403 if role in NORTH_STAFF else hidden

    return expected


def app_settings(broker_port: int, database_url: str, data_dir: Path, **overrides: Any) -> Settings:
    """Settings for an app under test; argon2 is cheap here and only here."""
    values: dict[str, Any] = {
        "environment": "test",
        "mqtt_url": f"mqtt://127.0.0.1:{broker_port}",
        "database_url": database_url,
        "data_dir": data_dir,
        "admin_password": ADMIN_PASSWORD,
        "argon2_profile": "fast-insecure",
    }
    values.update(overrides)
    return Settings(**values)


@contextlib.contextmanager
def running_app(
    settings: Settings, client: tuple[str, int] = ("testclient", 50000)
) -> Iterator[TestClient]:
    """The app started with its lifespan (migrations, broker link), stopped after."""
    with TestClient(create_app(settings), client=client) as test_client:
        yield test_client


def services_of(client: TestClient) -> FleetServices:
    """The running app's services (database, auth context, …)."""
    services: FleetServices = client.app.state.services  # type: ignore[attr-defined]
    return services


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    """Authorization headers with a fresh access token for the user."""
    response = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def add_user(services: FleetServices, grants: Sequence[Grant], username: str | None = None) -> str:
    """A user with `grants` and PASSWORD, straight into the database; returns the username."""
    name = username or f"u-{uuid.uuid4().hex[:10]}"
    with services.db.session() as session:
        create_user(session, TEST_HASHER, name, PASSWORD, list(grants), SYSTEM)
    return name


def add_sites_and_cast(services: FleetServices) -> None:
    """The sites and the cast (except `admin`, whom the server created)."""
    with services.db.session() as session:
        for site_id in SITES:
            session.add(Site(id=site_id, name=site_id.title(), kind="hospital"))
        session.commit()
    for username, grants in GRANTS.items():
        if username != "admin":
            add_user(services, grants, username)


@dataclass
class Api:
    """A running app with its cast signed in."""

    client: TestClient
    backend: str
    headers: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def services(self) -> FleetServices:
        """The app's services."""
        return services_of(self.client)

    def as_(self, role: str) -> dict[str, str]:
        """Headers of a cast member (`anonymous`: none)."""
        return self.headers.get(role, {})

    def clone(self, role: str) -> tuple[str, dict[str, str]]:
        """A fresh user with the roles of cast member `role`, signed in, for changes that
        would disturb the cast (e.g. a password change ends the user's sessions)."""
        if role == "anonymous":
            return "", {}
        username = add_user(self.services, GRANTS[role])
        return username, sign_in(self.client, username)

    def throwaway(self, grants: Sequence[Grant] = (), disabled: bool = False) -> str:
        """A user a test may change at will."""
        username = add_user(self.services, grants)
        if disabled:
            with self.services.db.session() as session:
                get_user(session, username).disabled = True
                session.commit()
        return username


def clinic_map() -> dict[str, Any]:
    """The clinic's site map (imported from its RMF building file) as a site stores it."""
    return import_site(RMF / "clinic.building.yaml", kind="hospital").model_dump(mode="json")


def give_clinic_map(api: Api, site_id: str = "north") -> None:
    """Store the clinic's map on an existing site, so missions there name real places."""
    with api.services.db.session() as session:
        site = session.get(Site, site_id)
        assert site is not None, site_id
        site.site_map = clinic_map()
        session.commit()


def upload_clinic(api: Api) -> dict[str, Any]:
    """Create site `clinic` through the API (as admin) from the clinic's RMF building file
    and floor image; returns the created site."""
    files = [
        ("map_file", ("clinic.building.yaml", (RMF / "clinic.building.yaml").read_bytes())),
        ("images", ("clinic.png", (RMF / "clinic.png").read_bytes())),
    ]
    created = api.client.post(
        "/api/v1/sites", files=files, data={"kind": "hospital"}, headers=api.as_("admin")
    )
    assert created.status_code == 201, created.text
    site: dict[str, Any] = created.json()
    return site

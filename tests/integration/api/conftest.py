"""Fixtures for the API tests: one app per module and database backend, on a real broker."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator

import pytest

from fleet_server.broker import MosquittoBroker, find_free_port
from tests.integration.api.cast import (
    ADMIN_PASSWORD,
    GRANTS,
    PASSWORD,
    PATROL_AT_NORTH,
    Api,
    add_sites_and_cast,
    app_settings,
    give_clinic_map,
    running_app,
    services_of,
    sign_in,
)
from tests.unit.fleet_server.db.databases import BACKENDS, temporary_database


@pytest.fixture(scope="module")
def module_broker() -> Iterator[MosquittoBroker]:
    """A real Mosquitto shared by one module's tests (`mosquitto_broker`, module-scoped)."""
    if shutil.which("mosquitto") is None:
        pytest.fail("the mosquitto binary is required (Debian package 'mosquitto')")
    broker = MosquittoBroker(find_free_port())
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """`sqlite` or `postgresql`."""
    value: str = request.param
    return value


@pytest.fixture(scope="module")
def api(
    backend: str, module_broker: MosquittoBroker, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Api]:
    """A running app on a fresh database of `backend`, with the cast signed in."""
    folder = tmp_path_factory.mktemp(f"api-{backend}")
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(temporary_database(backend, folder))
        client = stack.enter_context(running_app(app_settings(module_broker.port, url, folder)))
        add_sites_and_cast(services_of(client))
        api = Api(client=client, backend=backend)
        for username in GRANTS:
            password = ADMIN_PASSWORD if username == "admin" else PASSWORD
            api.headers[username] = sign_in(client, username, password)
        yield api


@pytest.fixture(scope="module")
def north_mission(api: Api) -> str:
    """Site `north` with the clinic's map and a patrol mission there: the mission's id."""
    give_clinic_map(api, "north")
    created = api.client.post("/api/v1/missions", json=PATROL_AT_NORTH, headers=api.as_("admin"))
    assert created.status_code == 201, created.text
    return str(created.json()["id"])

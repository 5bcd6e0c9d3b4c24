"""Schemathesis over the whole OpenAPI document, as the admin: no request may cause a 5xx.

Runs a small, derandomised number of cases per operation by default; FLEET_LONG_TESTS=1
runs many more with fresh randomness.
"""

from __future__ import annotations

import os
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.generation.case import Case

from fleet_server.app import create_app
from fleet_server.settings import Settings
from tests.integration.api.cast import Api

LONG = os.environ.get("FLEET_LONG_TESTS") == "1"
EXAMPLES = 400 if LONG else 15

# The document is what the app serves; building the app does not start its services.
SCHEMA = schemathesis.openapi.from_dict(
    create_app(Settings(_env_file=None, environment="test")).openapi()  # type: ignore[call-arg]
)
OPERATIONS = {
    f"{op.method.upper()} {op.path}": op
    for op in (result.ok() for result in SCHEMA.get_all_operations())
}


def _send(client: TestClient, kwargs: dict[str, Any]) -> httpx.Response:
    # Schemathesis prepares `requests` arguments; the test client speaks httpx.
    data = kwargs.get("data")
    if isinstance(data, dict):
        data = {k: v if isinstance(v, str | list) else str(v) for k, v in data.items()}
    content = data if isinstance(data, str | bytes) else None
    return client.request(
        kwargs["method"],
        kwargs["url"],
        headers=kwargs.get("headers"),
        params=kwargs.get("params"),
        cookies=kwargs.get("cookies") or None,
        json=kwargs.get("json"),
        data=None if content is not None else data,
        content=content,
    )


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_no_input_causes_a_server_error(api: Api, operation: str) -> None:
    admin = api.as_("admin")

    @given(case=OPERATIONS[operation].as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=not LONG,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def no_server_error(case: Case) -> None:
        kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=admin)
        response = _send(api.client, kwargs)
        assert response.status_code < 500, (kwargs, response.text)

    no_server_error()

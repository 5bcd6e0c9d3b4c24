"""Errors are RFC 9457 problem documents everywhere, naming the offending fields."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.api.cast import Api

PROBLEM_MEMBERS = {"type", "title", "status", "instance", "request_id"}


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert set(body) >= PROBLEM_MEMBERS
    assert body["status"] == status
    assert body["request_id"] == response.headers["x-request-id"]
    assert body["instance"] == response.request.url.path
    return body


def test_401_403_404_405_are_problems(api: Api) -> None:
    assert _problem(api.client.get("/api/v1/users"), 401)["title"] == "Unauthorized"
    forbidden = _problem(api.client.get("/api/v1/users", headers=api.as_("viewer_north")), 403)
    assert "admin" in forbidden["detail"]
    missing = _problem(api.client.get("/api/v1/users/nobody", headers=api.as_("admin")), 404)
    assert missing["detail"] == "no user 'nobody'"
    _problem(api.client.get("/api/v1/no/such/route"), 404)  # other paths are the console SPA
    _problem(api.client.delete("/api/v1/users", headers=api.as_("admin")), 405)


def test_409_for_a_duplicate_user(api: Api) -> None:
    body = {"username": "viewer_north", "password": "long-enough-password"}
    conflict = _problem(api.client.post("/api/v1/users", json=body, headers=api.as_("admin")), 409)
    assert conflict["detail"] == "user 'viewer_north' exists already"


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"username": "UPPER", "roles": []}, {"username"}),
        ({"username": "okname", "password": "short"}, {"password"}),
        ({"username": "okname", "roles": [{"role": "boss"}]}, {"roles[0].role"}),
        (
            {"username": "okname", "roles": [{"role": "viewer", "site_id": ""}]},
            {"roles[0].site_id"},
        ),
        ({"roles": "all"}, {"username", "roles"}),
    ],
)
def test_validation_errors_name_every_offending_field(
    api: Api, body: dict[str, Any], fields: set[str]
) -> None:
    response = api.client.post("/api/v1/users", json=body, headers=api.as_("admin"))
    problem = _problem(response, 422)
    assert problem["type"] == "urn:fleet:problem:validation-error"
    assert {e["field"] for e in problem["errors"]} == fields
    assert all(e["in"] == "body" and e["message"] for e in problem["errors"])
    for field in fields:
        assert field in problem["detail"]


def test_validation_errors_never_echo_the_input(api: Api) -> None:
    body = {"username": "okname", "password": "tiny-secret"}
    problem = _problem(api.client.post("/api/v1/users", json=body, headers=api.as_("admin")), 422)
    assert "tiny-secret" not in str(problem)


def test_unknown_site_in_roles_is_named(api: Api) -> None:
    body = {"username": "sited", "roles": [{"role": "viewer", "site_id": "atlantis"}]}
    problem = _problem(api.client.post("/api/v1/users", json=body, headers=api.as_("admin")), 422)
    assert problem["errors"] == [{"field": "roles[0].site_id", "message": "no site 'atlantis'"}]


def test_query_and_form_fields_are_named_with_their_place(api: Api) -> None:
    query = _problem(api.client.get("/api/v1/audit?limit=0", headers=api.as_("admin")), 422)
    assert [(e["field"], e["in"]) for e in query["errors"]] == [("limit", "query")]
    form = _problem(api.client.post("/api/v1/auth/token", data={"username": "x"}), 422)
    assert [(e["field"], e["in"]) for e in form["errors"]] == [("password", "body")]


def test_a_bad_cursor_is_named(api: Api) -> None:
    for cursor in ("not-a-cursor", "eyJiZWZvcmUiOiAiMSJ9", "e30"):
        response = api.client.get(f"/api/v1/audit?cursor={cursor}", headers=api.as_("admin"))
        assert _problem(response, 422)["errors"][0]["field"] == "cursor"


def test_a_sane_request_id_from_the_caller_is_kept(api: Api) -> None:
    response = api.client.get("/api/v1/users", headers={"X-Request-ID": "trace-42"})
    assert _problem(response, 401)["request_id"] == "trace-42"
    hostile = api.client.get("/api/v1/users", headers={"X-Request-ID": "a b<script>"})
    assert hostile.headers["x-request-id"] != "a b<script>"
    assert len(hostile.headers["x-request-id"]) == 32


def test_readyz_reports_database_and_broker(api: Api) -> None:
    response = api.client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "database": True, "broker_link": True}

"""The audit trail: every mutating call leaves an entry; filters; cursor pagination."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from fleet_server.db.base import utcnow
from tests.integration.api.cast import PASSWORD, Api


def _entries(api: Api, **params: Any) -> list[dict[str, Any]]:
    response = api.client.get("/api/v1/audit", params=params, headers=api.as_("admin"))
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def _by_request(api: Api, response: httpx.Response) -> list[dict[str, Any]]:
    request_id = response.headers["x-request-id"]
    return [e for e in _entries(api, limit=500) if e["request_id"] == request_id]


def test_every_mutating_call_is_audited_with_its_request_id(api: Api) -> None:
    admin = api.as_("admin")
    username, own = api.clone("dispatcher_north")
    calls: list[tuple[str, httpx.Response]] = [
        ("user.create", api.client.post("/api/v1/users", json={"username": "aud1"}, headers=admin)),
        (
            "user.grants",
            api.client.put("/api/v1/users/aud1/roles", json={"roles": []}, headers=admin),
        ),
        ("user.disable", api.client.post("/api/v1/users/aud1/disable", headers=admin)),
        ("user.enable", api.client.post("/api/v1/users/aud1/enable", headers=admin)),
        ("token.create", api.client.post("/api/v1/tokens", json={"name": "a"}, headers=own)),
    ]
    token_id = calls[-1][1].json()["id"]
    calls.append(("token.revoke", api.client.delete(f"/api/v1/tokens/{token_id}", headers=own)))
    body = {"current_password": PASSWORD, "new_password": "an-audited-password"}
    calls.append(
        ("user.password", api.client.put("/api/v1/users/me/password", json=body, headers=own))
    )
    login = {"username": username, "password": "an-audited-password"}
    calls.append(("auth.login", api.client.post("/api/v1/auth/token", data=login)))
    for action, response in calls:
        assert response.status_code < 300, (action, response.text)
        [entry] = _by_request(api, response)
        assert entry["action"] == action
    actors = {e["action"]: e["actor"] for e in (_by_request(api, r)[0] for _, r in calls)}
    assert actors["user.create"] == "admin"
    assert actors["token.create"] == actors["user.password"] == username


def test_refused_calls_change_nothing_and_leave_no_change_entry(api: Api) -> None:
    before = len(_entries(api, action="user.create", limit=500))
    refused = api.client.post(
        "/api/v1/users", json={"username": "sneaky"}, headers=api.as_("manager_north")
    )
    assert refused.status_code == 403
    assert len(_entries(api, action="user.create", limit=500)) == before
    assert api.client.get("/api/v1/users/sneaky", headers=api.as_("admin")).status_code == 404


def test_token_actions_name_the_token_used(api: Api) -> None:
    admin = api.as_("admin")
    token = api.client.post("/api/v1/tokens", json={"name": "ops"}, headers=admin).json()
    via_token = {"Authorization": f"Bearer {token['token']}"}
    response = api.client.post("/api/v1/users", json={"username": "aud2"}, headers=via_token)
    assert response.status_code == 201
    [entry] = _by_request(api, response)
    assert entry["actor"] == "admin"
    assert entry["detail"]["api_token"] == token["prefix"]
    assert token["token"] not in str(_entries(api, limit=500))


def test_filters_combine(api: Api) -> None:
    for name in ("flt1", "flt2"):
        api.client.post("/api/v1/users", json={"username": name}, headers=api.as_("admin"))
    hits = _entries(api, action="user.create", target="flt2")
    assert [e["target"] for e in hits] == ["flt2"]
    assert _entries(api, actor="nobody-at-all") == []
    soon = (utcnow() + timedelta(minutes=5)).isoformat()
    assert _entries(api, since=soon) == []
    assert len(_entries(api, until=soon, action="user.create", target="flt1")) == 1
    naive = api.client.get(
        "/api/v1/audit", params={"since": "2026-01-01T00:00:00"}, headers=api.as_("admin")
    )
    assert naive.status_code == 422
    assert naive.json()["errors"][0]["field"] == "since"


def test_cursor_pages_cover_everything_once_newest_first(api: Api) -> None:
    for i in range(7):
        api.client.post("/api/v1/users", json={"username": f"page{i}"}, headers=api.as_("admin"))
    everything = _entries(api, limit=500)
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = api.client.get("/api/v1/audit", params=params, headers=api.as_("admin")).json()
        seen += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert len(page["items"]) == 3
    # Entries written while paging (the admin's own reads write none) would only be newer.
    assert seen == [e["id"] for e in everything]
    assert seen == sorted(seen, reverse=True)

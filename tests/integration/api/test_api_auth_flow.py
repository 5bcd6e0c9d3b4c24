"""Signing in, refreshing, expiry, sessions ended by password changes, and API tokens."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import jwt
from sqlalchemy import select

from fleet_server.auth.roles import Grant, Role
from fleet_server.auth.users import get_user
from fleet_server.db.base import utcnow
from fleet_server.db.models import ApiToken
from tests.integration.api.cast import PASSWORD, Api, sign_in


def _token(api: Api, username: str, password: str = PASSWORD) -> dict[str, object]:
    response = api.client.post(
        "/api/v1/auth/token", data={"username": username, "password": password}
    )
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def _bearer(token: object) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_token_answer_follows_oauth2(api: Api) -> None:
    response = api.client.post(
        "/api/v1/auth/token", data={"username": "viewer_north", "password": PASSWORD}
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == api.services.settings.access_token_ttl_s
    assert response.headers["cache-control"] == "no-store"
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == body["expires_in"]
    assert "password" not in str(claims) and "viewer_north" not in str(claims)


def test_username_is_case_insensitive_at_sign_in(api: Api) -> None:
    assert _token(api, "Viewer_North")["access_token"]


def test_wrong_password_and_unknown_user_get_the_same_401(api: Api) -> None:
    wrong = api.client.post(
        "/api/v1/auth/token", data={"username": "viewer_south", "password": "not-the-password"}
    )
    ghost = api.client.post(
        "/api/v1/auth/token", data={"username": "nobody-here", "password": "not-the-password"}
    )
    assert wrong.status_code == ghost.status_code == 401
    assert wrong.json()["detail"] == ghost.json()["detail"] == "incorrect username or password"


def test_refresh_gives_new_working_tokens(api: Api) -> None:
    first = _token(api, "dispatcher_north")
    response = api.client.post(
        "/api/v1/auth/refresh", data={"refresh_token": first["refresh_token"]}
    )
    assert response.status_code == 200, response.text
    second = response.json()
    assert second["access_token"] != first["access_token"]
    me = api.client.get("/api/v1/users/me", headers=_bearer(second["access_token"]))
    assert me.json()["username"] == "dispatcher_north"


def test_an_access_token_is_not_a_refresh_token_and_vice_versa(api: Api) -> None:
    pair = _token(api, "dispatcher_north")
    response = api.client.post("/api/v1/auth/refresh", data={"refresh_token": pair["access_token"]})
    assert response.status_code == 401
    assert (
        api.client.get("/api/v1/robots", headers=_bearer(pair["refresh_token"])).status_code == 401
    )


def test_expired_access_token_is_refused(api: Api) -> None:
    issuer = api.services.auth.jwt
    with api.services.db.session() as session:
        user = get_user(session, "viewer_north")
        long_ago = utcnow() - timedelta(seconds=issuer.access_ttl_s + 60)
        stale = issuer.issue(user.id, user.auth_epoch, now=long_ago)
    response = api.client.get("/api/v1/robots", headers=_bearer(stale.access_token))
    assert response.status_code == 401
    assert response.json()["detail"] == "token expired"


def test_forged_tokens_are_refused(api: Api) -> None:
    real = str(_token(api, "admin_north")["access_token"])
    claims = jwt.decode(real, options={"verify_signature": False})
    forged_key = jwt.encode(claims, "x" * 48, algorithm="HS256")
    header, _, signature = real.split(".")
    elevated = jwt.encode({**claims, "sub": "1"}, "x" * 48, algorithm="HS256").split(".")[1]
    unsigned = jwt.encode(claims, None, algorithm="none")  # type: ignore[arg-type]
    for token in (forged_key, f"{header}.{elevated}.{signature}", unsigned, "garbage"):
        assert api.client.get("/api/v1/users/me", headers=_bearer(token)).status_code == 401


def test_changing_the_password_ends_every_session(api: Api) -> None:
    username = api.throwaway([Grant(Role.VIEWER, "north")])
    old = _token(api, username)
    body = {"current_password": PASSWORD, "new_password": "a-brand-new-password"}
    changed = api.client.put(
        "/api/v1/users/me/password", json=body, headers=_bearer(old["access_token"])
    )
    assert changed.status_code == 204
    assert api.client.get("/api/v1/robots", headers=_bearer(old["access_token"])).status_code == 401
    refreshed = api.client.post(
        "/api/v1/auth/refresh", data={"refresh_token": old["refresh_token"]}
    )
    assert refreshed.status_code == 401
    wrong = api.client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert wrong.status_code == 401
    assert _token(api, username, "a-brand-new-password")["access_token"]


def test_changing_the_password_needs_the_current_one(api: Api) -> None:
    username, headers = api.clone("viewer_north")
    body = {"current_password": "not-my-password", "new_password": "a-brand-new-password"}
    response = api.client.put("/api/v1/users/me/password", json=body, headers=headers)
    assert response.status_code == 401
    assert _token(api, username)["access_token"]  # the old password still works


def test_api_token_is_shown_once_hashed_at_rest_and_works(api: Api) -> None:
    _, owner = api.clone("dispatcher_north")
    created = api.client.post("/api/v1/tokens", json={"name": "ci"}, headers=owner)
    assert created.status_code == 201
    body = created.json()
    token = body["token"]
    assert token.startswith(f"fleet_{body['prefix']}_")
    listed = api.client.get("/api/v1/tokens", headers=owner).json()
    assert [t["id"] for t in listed] == [body["id"]]
    assert "token" not in listed[0] and token not in str(listed)
    with api.services.db.session() as session:
        row = session.scalars(select(ApiToken).where(ApiToken.id == body["id"])).one()
        assert row.secret_hash == hashlib.sha256(token.encode()).hexdigest()
        assert token not in str([getattr(row, c.key) for c in ApiToken.__table__.columns])
    robots = api.client.get("/api/v1/robots", headers=_bearer(token))
    assert robots.status_code == 200
    assert api.client.get("/api/v1/tokens", headers=owner).json()[0]["last_used_at"] is not None


def test_revoked_expired_and_altered_api_tokens_are_refused(api: Api) -> None:
    _, owner = api.clone("viewer_north")
    tokens = [
        api.client.post("/api/v1/tokens", json={"name": f"t{i}"}, headers=owner).json()
        for i in range(2)
    ]
    revoked, expired = tokens
    assert api.client.delete(f"/api/v1/tokens/{revoked['id']}", headers=owner).status_code == 204
    with api.services.db.session() as session:
        session.get_one(ApiToken, expired["id"]).expires_at = utcnow() - timedelta(seconds=1)
        session.commit()
    altered = expired["token"][:-4] + ("AAAA" if not expired["token"].endswith("AAAA") else "BBBB")
    for token, reason in (
        (revoked["token"], "API token revoked"),
        (expired["token"], "API token expired"),
        (altered, "invalid API token"),
        ("fleet_000000000000_nothing", "invalid API token"),
    ):
        response = api.client.get("/api/v1/robots", headers=_bearer(token))
        assert (response.status_code, response.json()["detail"]) == (401, reason)


def test_disabling_a_user_ends_sessions_and_tokens(api: Api) -> None:
    username = api.throwaway([Grant(Role.VIEWER, "south")])
    headers = sign_in(api.client, username)
    token = api.client.post("/api/v1/tokens", json={"name": "t"}, headers=headers).json()["token"]
    disabled = api.client.post(f"/api/v1/users/{username}/disable", headers=api.as_("admin"))
    assert disabled.json()["disabled"] is True
    assert api.client.get("/api/v1/robots", headers=headers).status_code == 401
    assert api.client.get("/api/v1/robots", headers=_bearer(token)).status_code == 401
    login = api.client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert (login.status_code, login.json()["detail"]) == (403, "this account is disabled")
    api.client.post(f"/api/v1/users/{username}/enable", headers=api.as_("admin"))
    assert api.client.get("/api/v1/robots", headers=_bearer(token)).status_code == 200
    assert _token(api, username)["access_token"]

"""Managing users: creation (generated passwords shown once), roles, disabling, last admin."""

from __future__ import annotations

from fleet_server.auth.roles import Grant, Role
from tests.integration.api.cast import PASSWORD, Api, sign_in


def test_created_user_with_a_generated_password_can_sign_in(api: Api) -> None:
    body = {"username": "nurse.kim", "roles": [{"role": "dispatcher", "site_id": "north"}]}
    created = api.client.post("/api/v1/users", json=body, headers=api.as_("admin"))
    assert created.status_code == 201
    user = created.json()
    password = user.pop("generated_password")
    assert len(password) >= 20
    assert user["roles"] == body["roles"] and user["disabled"] is False
    fetched = api.client.get("/api/v1/users/nurse.kim", headers=api.as_("admin")).json()
    assert "generated_password" not in fetched and password not in str(fetched)
    assert "password_hash" not in fetched
    me = api.client.get("/api/v1/users/me", headers=sign_in(api.client, "nurse.kim", password))
    assert me.json()["roles"] == [{"role": "dispatcher", "site_id": "north"}]


def test_a_given_password_is_not_returned(api: Api) -> None:
    body = {"username": "guard.lee", "password": "guard-lee-password"}
    created = api.client.post("/api/v1/users", json=body, headers=api.as_("admin")).json()
    assert created["generated_password"] is None
    assert "guard-lee-password" not in str(created)
    assert sign_in(api.client, "guard.lee", "guard-lee-password")


def test_me_is_a_reserved_username(api: Api) -> None:
    body = {"username": "me", "password": "long-enough-password"}
    response = api.client.post("/api/v1/users", json=body, headers=api.as_("admin"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "username"


def test_roles_are_replaced_as_a_set(api: Api) -> None:
    username = api.throwaway([Grant(Role.VIEWER, "north")])
    roles = [
        {"role": "dispatcher", "site_id": "south"},
        {"role": "viewer", "site_id": "north"},
        {"role": "viewer", "site_id": None},
        {"role": "dispatcher", "site_id": "south"},
    ]
    response = api.client.put(
        f"/api/v1/users/{username}/roles", json={"roles": roles}, headers=api.as_("admin")
    )
    assert response.status_code == 200
    assert response.json()["roles"] == [
        {"role": "dispatcher", "site_id": "south"},
        {"role": "viewer", "site_id": None},
        {"role": "viewer", "site_id": "north"},
    ]
    token = api.client.post(
        "/api/v1/tokens",
        json={"name": "mixed", "roles": roles[1:3]},
        headers=sign_in(api.client, username),
    )
    assert token.status_code == 201
    assert token.json()["roles"] == [
        {"role": "viewer", "site_id": None},
        {"role": "viewer", "site_id": "north"},
    ]


def test_the_last_admin_for_all_sites_cannot_be_demoted_or_disabled(api: Api) -> None:
    admin = api.as_("admin")
    demote = api.client.put("/api/v1/users/admin/roles", json={"roles": []}, headers=admin)
    assert demote.status_code == 409
    assert "no enabled admin" in demote.json()["detail"]
    second = api.throwaway([Grant(Role.ADMIN)])
    disable_self = api.client.post("/api/v1/users/admin/disable", headers=admin)
    assert disable_self.status_code == 409  # nobody disables themselves
    second_headers = sign_in(api.client, second)
    assert api.client.post("/api/v1/users/admin/disable", headers=second_headers).status_code == 200
    assert api.client.post(f"/api/v1/users/{second}/disable", headers=admin).status_code == 401
    assert api.client.post("/api/v1/users/admin/enable", headers=second_headers).status_code == 200
    api.headers["admin"] = sign_in(api.client, "admin", "the-first-admin-password")
    last = api.client.put(
        f"/api/v1/users/{second}/roles", json={"roles": []}, headers=second_headers
    )
    assert last.status_code == 200  # `admin` is enabled again, so `second` was not the last


def test_list_shows_every_user_in_order(api: Api) -> None:
    names = [
        u["username"] for u in api.client.get("/api/v1/users", headers=api.as_("admin")).json()
    ]
    assert names == sorted(names)
    assert {"admin", "viewer_north", "no_roles"} <= set(names)


def test_password_policy_applies_to_changes(api: Api) -> None:
    _, headers = api.clone("viewer_north")
    body = {"current_password": PASSWORD, "new_password": "short"}
    response = api.client.put("/api/v1/users/me/password", json=body, headers=headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "new_password"

"""Hypothesis fuzz of every POST/PUT/PATCH route's body, as the admin, on both databases.

Bodies are random or shaped like the route's schema (its field names, nested too) with
wrong types, huge numbers, deep nesting, NUL bytes, lone surrogates and long strings, or
not JSON at all; path parameters are real ids or hostile strings. No answer may be a 5xx,
every error must be a problem document, and afterwards the admin's session and the stored
sites are intact. What it found is tested by name below: NUL characters (PostgreSQL
answered 500) and unpaired surrogates echoed in an error answer (500 on both databases).
The default run is small; FLEET_LONG_TESTS=1 runs 100,000 cases on each database (marked
`slow`).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from fleet_server.app import create_app
from fleet_server.settings import Settings
from tests.integration.api.cast import ADMIN_PASSWORD, Api, sign_in
from tests.support.hostile_json import (
    FULL_RUN_CASES,
    LONG_RUN,
    field_names,
    hostile_body,
    hostile_text,
)

_DOC = create_app(Settings(_env_file=None, environment="test")).openapi()  # type: ignore[call-arg]
_COMPONENTS: dict[str, Any] = _DOC["components"]["schemas"]
FUZZ_ROBOT = ("fuzzco", "FZ-1")
FUZZ_USER = "fuzz-target"


@dataclass(frozen=True)
class Operation:
    """One route that takes a body."""

    method: str
    path: str
    content_type: str | None
    fields: tuple[str, ...]
    path_params: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"


def _operations() -> list[Operation]:
    found = []
    for path, methods in _DOC["paths"].items():
        for method, op in methods.items():
            if method not in ("post", "put", "patch"):
                continue
            content = op.get("requestBody", {}).get("content", {})
            content_type, schema = next(iter(content.items()), (None, {}))
            found.append(
                Operation(
                    method=method.upper(),
                    path=path,
                    content_type=content_type,
                    fields=tuple(field_names(schema.get("schema", {}), _COMPONENTS)),
                    path_params=tuple(
                        p["name"] for p in op.get("parameters", []) if p["in"] == "path"
                    ),
                )
            )
    return found


OPERATIONS = {op.name: op for op in _operations()}
DEFAULT_EXAMPLES = 10
LONG_EXAMPLES = FULL_RUN_CASES // len(OPERATIONS) + 1

_KNOWN_PATH_VALUES = {
    "manufacturer": [FUZZ_ROBOT[0]],
    "serial_number": [FUZZ_ROBOT[1]],
    "username": [FUZZ_USER, "no-such-user"],
    "site_id": ["north", "south"],
    "mission_id": [str(uuid.UUID(int=1))],
}


def _path_value(name: str) -> st.SearchStrategy[str]:
    known = _KNOWN_PATH_VALUES.get(name, ["1", "0", "-1", str(2**63)])
    # The admin must keep their account and roles, or the rest of the run proves nothing.
    # Cut to 2,000 characters: httpx refuses longer URLs before they are sent.
    values = st.sampled_from(known) | hostile_text.map(lambda v: v[:2000]) | st.integers().map(str)
    return values.filter(lambda v: v.strip().lower() not in ("admin", "me"))


def _url(op: Operation, values: dict[str, str]) -> str:
    url = op.path
    for name, value in values.items():
        url = url.replace("{" + name + "}", quote(value.encode("utf-8", "surrogatepass"), safe=""))
    return url


def _form_body(op: Operation) -> st.SearchStrategy[tuple[bytes, str]]:
    def raw(text: str) -> bytes:
        return text.encode("utf-8", "surrogatepass")

    fields = st.dictionaries(
        (st.sampled_from(op.fields or ("x",)) | hostile_text).map(raw),
        hostile_text.map(raw),
        max_size=6,
    )
    urlencoded = fields.map(lambda d: urlencode(d).encode())
    return st.tuples(urlencoded | hostile_body(op.fields), st.just(op.content_type or ""))


def _json_body(op: Operation) -> st.SearchStrategy[tuple[bytes, str]]:
    content_types = st.sampled_from(
        ["application/json"] * 6 + ["text/plain", "application/json; charset=latin-1", ""]
    )
    return st.tuples(hostile_body(op.fields), content_types)


@dataclass(frozen=True)
class Multipart:
    files: list[tuple[str, tuple[str, bytes]]]
    data: dict[str, bytes]


def _multipart(op: Operation) -> st.SearchStrategy[Multipart]:
    file_fields = st.sampled_from(["map_file", "images", "other"])
    names = st.sampled_from(["x.building.yaml", "map.yaml", "a.png", "", "../../x", "\x00.pgm"])
    content = hostile_body(op.fields) | st.binary(max_size=2000)
    files = st.lists(st.tuples(file_fields, st.tuples(names, content)), max_size=4)
    data = st.dictionaries(
        st.sampled_from(op.fields or ("name",)),
        hostile_text.map(lambda v: v.encode("utf-8", "surrogatepass")),
        max_size=4,
    )
    return st.builds(Multipart, files, data)


def _send(api: Api, op: Operation, url: str, body: Any, headers: dict[str, str]) -> httpx.Response:
    if isinstance(body, Multipart):
        return api.client.request(
            op.method, url, files=body.files or None, data=body.data or None, headers=headers
        )
    content, content_type = body
    if content_type:
        headers = {**headers, "Content-Type": content_type}
    return api.client.request(op.method, url, content=content, headers=headers)


def _body_strategy(op: Operation) -> st.SearchStrategy[Any]:
    if op.content_type == "multipart/form-data":
        return _multipart(op)
    if op.content_type == "application/x-www-form-urlencoded":
        return _form_body(op)
    return _json_body(op)


def _assert_handled(op: Operation, url: str, response: httpx.Response) -> None:
    status = response.status_code
    assert status < 500, (op.name, url, status, response.text[:500])
    if status >= 400:
        assert response.headers["content-type"] == "application/problem+json", (op.name, status)
        assert response.json()["status"] == status, (op.name, response.text[:300])


@pytest.fixture(scope="module")
def fuzz_targets(api: Api) -> Api:
    """A robot and a user for the path parameters to hit (beside ids that do not exist)."""
    admin = api.as_("admin")
    robot = {
        "manufacturer": FUZZ_ROBOT[0],
        "serial_number": FUZZ_ROBOT[1],
        "kind": "patrol_robot",
        "capabilities": ["patrol"],
        "site_id": "north",
    }
    created = api.client.post("/api/v1/robots", json=robot, headers=admin)
    assert created.status_code in (201, 409), created.text
    api.throwaway()
    user = api.client.post(
        "/api/v1/users",
        json={"username": FUZZ_USER, "password": "a-long-fuzz-password", "roles": []},
        headers=admin,
    )
    assert user.status_code in (201, 409), user.text
    return api


TOKEN_REFRESH_S = 300.0
"""A long run outlasts the admin's access token (15 min): sign in again this often."""
_signed_in_at: dict[int, float] = {}


def _admin(api: Api) -> dict[str, str]:
    """The admin's headers, with a token young enough for one operation's fuzz."""
    now = time.monotonic()
    if now - _signed_in_at.setdefault(id(api), now) > TOKEN_REFRESH_S:
        api.headers["admin"] = sign_in(api.client, "admin", ADMIN_PASSWORD)
        _signed_in_at[id(api)] = now
    return api.as_("admin")


def _fuzz(api: Api, op: Operation, examples: int) -> None:
    admin = _admin(api)
    values = st.fixed_dictionaries({name: _path_value(name) for name in op.path_params})

    @given(values=values, body=_body_strategy(op))
    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=not LONG_RUN,
        database=None,
        suppress_health_check=list(HealthCheck),
        # Shrinking bodies of 20,000 characters takes longer than finding them: report as found.
        phases=[Phase.explicit, Phase.generate],
    )
    def no_server_error(values: dict[str, str], body: Any) -> None:
        url = _url(op, values)
        _assert_handled(op, url, _send(api, op, url, body, dict(admin)))

    no_server_error()
    # The run kept its footing: the admin is still signed in, the sites are still there.
    me = api.client.get("/api/v1/users/me", headers=admin)
    assert me.status_code == 200, me.text
    sites = api.client.get("/api/v1/sites", headers=admin).json()
    assert {"north", "south"} <= {s["id"] for s in sites}


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_hostile_bodies_cause_no_server_error(fuzz_targets: Api, operation: str) -> None:
    _fuzz(fuzz_targets, OPERATIONS[operation], DEFAULT_EXAMPLES)


@pytest.mark.slow
@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_hostile_bodies_cause_no_server_error_long_run(fuzz_targets: Api, operation: str) -> None:
    _fuzz(fuzz_targets, OPERATIONS[operation], LONG_EXAMPLES)


# input no database can store --------------------------------------------------------------


def _post_json_text(api: Api, path: str, text: str, headers: dict[str, str]) -> httpx.Response:
    return api.client.post(
        path, content=text.encode(), headers={**headers, "Content-Type": "application/json"}
    )


def test_unstorable_characters_are_refused_naming_the_field(api: Api) -> None:
    """NUL (PostgreSQL text cannot hold it; SQLite would) and unpaired surrogates (no UTF-8
    column or JSON answer can), on both databases alike."""
    admin = api.as_("admin")
    cases = {
        "body.name": api.client.post("/api/v1/tokens", json={"name": "a\x00b"}, headers=admin),
        "body.roles[0].site_id": api.client.post(
            "/api/v1/tokens",
            json={"name": "ok", "roles": [{"role": "viewer", "site_id": "north\x00"}]},
            headers=admin,
        ),
        "path": api.client.get("/api/v1/robots/acme/a%00b", headers=admin),
        "query.target": api.client.get("/api/v1/audit?target=x%00", headers=admin),
        "body.username": api.client.post(
            "/api/v1/auth/token", data={"username": "admin\x00", "password": "x"}
        ),
        # The fuzz's long run found a lone surrogate echoed in a 422 answer turning it to 500.
        "body.checkpoints[0]": _post_json_text(
            api,
            "/api/v1/missions",
            '{"kind": "patrol", "site": "north", "checkpoints": ["\\udeef"]}',
            admin,
        ),
        "body.\ufffd": _post_json_text(api, "/api/v1/tokens", '{"\\ud800": 1}', admin),
    }
    for field, response in cases.items():
        assert response.status_code == 422, (field, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"] == [
            {"field": field, "message": "must not contain NUL characters or unpaired surrogates"}
        ]
    tokens = api.client.get("/api/v1/tokens", headers=admin).json()
    assert all("\x00" not in t["name"] for t in tokens)
    # An escaped backslash before "u0000" is text, and a surrogate pair is one character.
    fine = api.client.post("/api/v1/tokens", json={"name": "a\\u0000b 😀"}, headers=admin)
    assert fine.status_code == 201, fine.text
    assert fine.json()["name"] == "a\\u0000b 😀"

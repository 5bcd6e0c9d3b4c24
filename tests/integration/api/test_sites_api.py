"""Sites API on SQLite and PostgreSQL: import, refusals, views, floor plans, GeoJSON, routes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.api.cast import Api

RMF = Path(__file__).resolve().parents[2] / "fixtures" / "maps" / "rmf"


def _upload(api: Api, role: str, map_text: bytes, *, image: bool = True, **form: str) -> object:
    files: list[tuple[str, tuple[str, bytes, str]]] = [
        ("map_file", ("clinic.building.yaml", map_text, "application/yaml"))
    ]
    if image:
        files.append(("images", ("clinic.png", (RMF / "clinic.png").read_bytes(), "image/png")))
    return api.client.post("/api/v1/sites", files=files, data=form, headers=api.as_(role))


@pytest.fixture(scope="module")
def clinic(api: Api) -> str:
    response = _upload(api, "admin", (RMF / "clinic.building.yaml").read_bytes(), kind="hospital")
    assert response.status_code == 201, response.text  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert body["id"] == "clinic"
    assert [level["name"] for level in body["levels"]] == ["L1", "L2"]
    assert body["lifts"] == 4
    return str(body["id"])


@pytest.mark.parametrize("role", ["admin_north", "manager_north", "viewer_north", "anonymous"])
def test_only_an_all_sites_admin_imports(api: Api, role: str) -> None:
    response = _upload(api, role, (RMF / "office.building.yaml").read_bytes())
    assert response.status_code in (401, 403)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("text", "image", "field_part"),
    [
        (b"levels: [unclosed\n", True, "clinic.building.yaml"),
        ((RMF / "clinic.building.yaml").read_bytes(), False, "clinic.png"),
        (
            (RMF / "clinic.building.yaml").read_bytes().replace(b"measurements:", b"measurementz:"),
            True,
            "measurements",
        ),
    ],
)
def test_bad_maps_are_422_naming_the_problem_and_store_nothing(
    api: Api, clinic: str, text: bytes, image: bool, field_part: str
) -> None:
    before = api.client.get("/api/v1/sites", headers=api.as_("admin")).json()
    response = _upload(api, "admin", text, image=image, name="Another clinic")
    assert response.status_code == 422, response.text  # type: ignore[attr-defined]
    problem = response.json()  # type: ignore[attr-defined]
    assert response.headers["content-type"].startswith("application/problem+json")  # type: ignore[attr-defined]
    assert field_part in problem["detail"]
    assert api.client.get("/api/v1/sites", headers=api.as_("admin")).json() == before


def test_duplicate_is_a_conflict(api: Api, clinic: str) -> None:
    response = _upload(api, "admin", (RMF / "clinic.building.yaml").read_bytes())
    assert response.status_code == 409  # type: ignore[attr-defined]


def test_site_views(api: Api, clinic: str) -> None:
    admin = api.as_("admin")
    ids = {s["id"] for s in api.client.get("/api/v1/sites", headers=admin).json()}
    assert {"clinic", "north", "south"} <= ids
    north_view = api.client.get("/api/v1/sites", headers=api.as_("viewer_north")).json()
    assert [s["id"] for s in north_view] == ["north"]
    assert (
        api.client.get(f"/api/v1/sites/{clinic}", headers=api.as_("viewer_north")).status_code
        == 403
    )
    assert api.client.get("/api/v1/sites/nope", headers=admin).status_code == 404

    graph = api.client.get(f"/api/v1/sites/{clinic}/graph", headers=admin).json()
    assert len(graph["levels"]) == 2 and len(graph["lifts"]) == 4

    plan = api.client.get(f"/api/v1/sites/{clinic}/levels/L1/plan.png", headers=admin)
    assert plan.status_code == 200 and plan.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert (
        api.client.get(f"/api/v1/sites/{clinic}/levels/L9/plan.png", headers=admin).status_code
        == 404
    )

    geo = api.client.get(f"/api/v1/sites/{clinic}/geojson", headers=admin)
    assert geo.headers["content-type"].startswith("application/geo+json")
    assert geo.json()["type"] == "FeatureCollection"
    gcj = api.client.get(f"/api/v1/sites/{clinic}/geojson?crs=gcj02", headers=admin).json()
    assert gcj["bbox"] != geo.json()["bbox"]


def test_route_across_floors_and_bad_waypoints(api: Api, clinic: str) -> None:
    admin = api.as_("admin")
    graph = api.client.get(f"/api/v1/sites/{clinic}/graph", headers=admin).json()
    l1 = next(w for w in graph["levels"][0]["waypoints"] if w["name"])
    l2 = next(w for w in graph["levels"][1]["waypoints"] if w["name"])
    response = api.client.get(
        f"/api/v1/sites/{clinic}/route", params={"from": l1["id"], "to": l2["id"]}, headers=admin
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["lift_rides"] and body["travel_time_s"] > 0
    assert {s["level"] for s in body["waypoints"]} == {"L1", "L2"}
    bad = api.client.get(
        f"/api/v1/sites/{clinic}/route", params={"from": "nowhere", "to": l2["id"]}, headers=admin
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "from"

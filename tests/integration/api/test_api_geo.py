"""The GIS layer on SQLite and PostgreSQL: RFC 7946 documents, places inside the site, GCJ-02,
bbox filter, cursor pages, ETag/304 and site-scoped access.

The clinic map is imported through the API; robot `geo/g1` publishes its state over the
real Mosquitto from a clinic waypoint; `geo/g2` is registered but never reported.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from fleet_server.auth.roles import Grant, Role
from fleet_server.broker import MosquittoBroker
from fleet_server.db.base import utcnow
from fleet_server.db.models import Alarm
from missions.sites import import_site
from tests.integration.api.cast import RMF, Api, add_user, sign_in, upload_clinic
from tests.integration.api.robot_messages import PahoRobot
from tests.support.mqtt import wait_until
from tests.unit.missions.sites.test_sites_geo import check_rfc7946

START = "L1_sub_waiting_area_5"


def _metres(a: list[float], b: list[float]) -> float:
    mid = math.radians((a[1] + b[1]) / 2)
    return math.hypot(
        (a[0] - b[0]) * 111_320 * math.cos(mid), (a[1] - b[1]) * 110_574
    )  # local degree lengths: good to 1 % over a few hundred metres


def _register(api: Api, serial: str) -> None:
    body = {
        "manufacturer": "geo",
        "serial_number": serial,
        "kind": "guide_robot",
        "capabilities": ["guidance"],
        "site_id": "clinic",
    }
    response = api.client.post("/api/v1/robots", json=body, headers=api.as_("admin"))
    assert response.status_code == 201, response.text


def _alarm(api: Api, **fields: Any) -> int:
    with api.services.db.session() as session:
        values: dict[str, Any] = {
            "site_id": "clinic",
            "source": "robot",
            "severity": "error",
            "code": "geo.test",
            "message": "stored by the GIS test",
            "raised_at": utcnow(),
        }
        alarm = Alarm(**(values | fields))
        session.add(alarm)
        session.commit()
        return alarm.id


@pytest.fixture(scope="module")
def clinic(api: Api, module_broker: MosquittoBroker) -> Iterator[dict[str, Any]]:
    """The clinic with g1 standing at START, g2 silent, one robot alarm and one site alarm."""
    created = upload_clinic(api)
    _register(api, "g1")
    _register(api, "g2")
    site = import_site(RMF / "clinic.building.yaml", kind="hospital")
    start = next(wp for wp in site.all_waypoints() if wp.name == START)
    sender = PahoRobot(module_broker.port, "geo", "g1")
    sender.state(x=start.x, y=start.y, battery=80.0)
    live = api.services.live
    assert wait_until(lambda: (r := live.get("geo", "g1")) is not None and r.pose is not None, 10)
    _alarm(api, manufacturer="geo", serial_number="g1")
    _alarm(api, severity="warning", code="geo.site")
    viewer = add_user(api.services, [Grant(Role.VIEWER, "clinic")])
    yield {
        "bbox": created["bbox_wgs84"],
        "start": start,
        "sender": sender,
        "viewer": sign_in(api.client, viewer),
        "expected_lonlat": site.geo_reference.to_wgs84(start.x, start.y),
    }
    sender.close()


def _get(api: Api, layer: str, headers: dict[str, str] | None = None, **params: Any) -> Any:
    response = api.client.get(
        f"/api/v1/geo/{layer}", params=params, headers=headers or api.as_("admin")
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/geo+json")
    return response.json()


def _inside(pos: list[float], bbox: list[float]) -> bool:
    return bbox[0] <= pos[0] <= bbox[2] and bbox[1] <= pos[1] <= bbox[3]


def test_layers_are_rfc7946_with_styleable_properties_inside_the_site(
    api: Api, clinic: dict[str, Any]
) -> None:
    bbox = clinic["bbox"]
    sites = _get(api, "sites")
    check_rfc7946(sites)
    assert sites["coordinate_system"] == "wgs84"
    by_id = {f["id"]: f for f in sites["features"]}
    site = by_id["clinic"]
    assert site["geometry"]["type"] == "Polygon"
    assert all(_inside(p, bbox) for p in site["geometry"]["coordinates"][0])
    assert (
        site["properties"].items()
        >= {
            "kind": "hospital",
            "robots_total": 2,
            "robots_online": 1,
            "alarms_open": 2,
            "alarm_severity_max": "error",
        }.items()
    )
    assert by_id["north"]["geometry"] is None  # a site stored without a map has no place

    robots = _get(api, "robots", site="clinic")
    check_rfc7946(robots)
    g1 = next(f for f in robots["features"] if f["id"] == "geo/g1")
    g2 = next(f for f in robots["features"] if f["id"] == "geo/g2")
    assert _inside(g1["geometry"]["coordinates"], bbox)
    lon, lat = clinic["expected_lonlat"]
    assert _metres(g1["geometry"]["coordinates"], [lon, lat]) < 0.05
    assert (
        g1["properties"].items()
        >= {
            "kind": "guide_robot",
            "site": "clinic",
            "level": "L1",
            "state": "idle",
            "online": True,
            "battery": 80.0,
            "mission": None,
        }.items()
    )
    assert g2["geometry"] is None and g2["properties"]["state"] == "offline"

    alarms = _get(api, "alarms", site="clinic")
    check_rfc7946(alarms)
    located = {f["properties"]["code"]: f for f in alarms["features"]}
    robot_alarm, site_alarm = located["geo.test"], located["geo.site"]
    assert (
        robot_alarm["properties"].items()
        >= {
            "severity": "error",
            "state": "active",
            "robot": "geo/g1",
            "located_by": "robot",
        }.items()
    )
    assert robot_alarm["geometry"] == g1["geometry"]
    assert site_alarm["properties"]["located_by"] == "site"
    assert _inside(site_alarm["geometry"]["coordinates"], bbox)


def test_gcj02_shifts_every_place_by_a_few_hundred_metres(api: Api, clinic: dict[str, Any]) -> None:
    for layer in ("sites", "robots", "alarms"):
        wgs = _get(api, layer, site="clinic")
        gcj = _get(api, layer, site="clinic", crs="gcj02")
        check_rfc7946(gcj)
        assert gcj["coordinate_system"] == "gcj02" and "crs" not in gcj
        pairs = [
            (a["geometry"], b["geometry"])
            for a, b in zip(wgs["features"], gcj["features"], strict=True)
            if a["geometry"] is not None
        ]
        assert pairs, layer
        for a, b in pairs:
            first_a = a["coordinates"][0][0] if a["type"] == "Polygon" else a["coordinates"]
            first_b = b["coordinates"][0][0] if b["type"] == "Polygon" else b["coordinates"]
            assert 100 < _metres(first_a, first_b) < 700, (layer, first_a, first_b)


@pytest.mark.parametrize(
    ("bbox", "ids"),
    [
        (None, {"geo/g1", "geo/g2"}),
        ("around", {"geo/g1"}),  # g2 has no place, so no box holds it
        ("-10,40,10,60", set()),
        ("170,-80,120,80", {"geo/g1"}),  # crosses the antimeridian, wraps over Asia
    ],
)
def test_bbox_keeps_what_it_covers(
    api: Api, clinic: dict[str, Any], bbox: str | None, ids: set[str]
) -> None:
    params: dict[str, Any] = {"site": "clinic"}
    if bbox == "around":
        w, s, e, n = clinic["bbox"]
        params["bbox"] = f"{w},{s},{e},{n}"
    elif bbox is not None:
        params["bbox"] = bbox
    assert {f["id"] for f in _get(api, "robots", **params)["features"]} == ids


@pytest.mark.parametrize(
    "bbox", ["1,2,3", "a,b,c,d", "0,10,1,5", "0,0,200,1", "0,-95,1,1", "nan,0,1,1"]
)
def test_bad_bbox_is_422_naming_it(api: Api, clinic: dict[str, Any], bbox: str) -> None:
    response = api.client.get("/api/v1/geo/robots", params={"bbox": bbox}, headers=api.as_("admin"))
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "bbox"


def test_pages_follow_next_links_without_gaps_or_repeats(api: Api, clinic: dict[str, Any]) -> None:
    for i in range(5):
        _register(api, f"page-{i}")
    first = _get(api, "robots", site="clinic", limit=2)
    seen: list[str] = []
    page = first
    pages = 0
    while True:
        pages += 1
        seen += [f["id"] for f in page["features"]]
        assert page["numberMatched"] == 7 and page["numberReturned"] == len(page["features"])
        nexts = [link["href"] for link in page["links"] if link["rel"] == "next"]
        if not nexts:
            break
        response = api.client.get(nexts[0], headers=api.as_("admin"))
        assert response.status_code == 200
        page = response.json()
    assert pages == 4
    assert sorted(seen) == seen and len(set(seen)) == 7
    bad = api.client.get("/api/v1/geo/robots?cursor=nope", headers=api.as_("admin"))
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "cursor"


def _battery(api: Api) -> float | None:
    robot = api.services.live.get("geo", "g1")
    return robot.battery_charge if robot is not None else None


def _last_seen(api: Api) -> datetime | None:
    robot = api.services.live.get("geo", "g1")
    return robot.last_seen if robot is not None else None


def test_etag_answers_304_until_something_changes(api: Api, clinic: dict[str, Any]) -> None:
    url = "/api/v1/geo/robots?site=clinic"
    first = api.client.get(url, headers=api.as_("admin"))
    etag = first.headers["etag"]
    assert etag.startswith('"')
    same = api.client.get(url, headers={**api.as_("admin"), "If-None-Match": etag})
    assert same.status_code == 304 and same.content == b"" and same.headers["etag"] == etag
    weak = api.client.get(url, headers={**api.as_("admin"), "If-None-Match": f'"x", W/{etag}'})
    assert weak.status_code == 304
    start = clinic["start"]
    seen = _last_seen(api)
    clinic["sender"].state(
        x=start.x, y=start.y, battery=80.0
    )  # reports, but nothing a map shows changed
    assert wait_until(lambda: _last_seen(api) != seen, 10)
    again = api.client.get(url, headers={**api.as_("admin"), "If-None-Match": etag})
    assert again.status_code == 304
    clinic["sender"].state(x=start.x, y=start.y, battery=55.0)
    live = api.services.live
    assert wait_until(
        lambda: (r := live.get("geo", "g1")) is not None and r.battery_charge == 55, 10
    )
    changed = api.client.get(url, headers={**api.as_("admin"), "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    clinic["sender"].state(x=start.x, y=start.y, battery=80.0)
    assert wait_until(
        lambda: (r := live.get("geo", "g1")) is not None and r.battery_charge == 80, 10
    )


def test_callers_see_only_their_sites(api: Api, clinic: dict[str, Any]) -> None:
    def ids(headers: dict[str, str], layer: str = "sites") -> set[str]:
        return {f["id"] for f in _get(api, layer, headers)["features"]}

    assert {"clinic", "north", "south"} <= ids(api.as_("admin"))
    assert ids(clinic["viewer"]) == {"clinic"}
    assert ids(api.as_("viewer_north")) == {"north"}
    assert ids(api.as_("viewer_north"), "robots") == set()
    north_alarms = _get(api, "alarms", api.as_("viewer_north"))["features"]
    assert all(f["properties"]["site"] == "north" for f in north_alarms)
    assert len(_get(api, "alarms", clinic["viewer"])["features"]) == 2
    for role, status in (("viewer_south", 403), ("no_roles", 403), ("anonymous", 401)):
        response = api.client.get("/api/v1/geo/robots?site=clinic", headers=api.as_(role))
        assert response.status_code == status, role
    assert api.client.get("/api/v1/geo/alarms", headers=api.as_("no_roles")).status_code == 403

"""Alarms from a real robot state over Mosquitto, site-scoped listing, acknowledgement, restart.

On SQLite and PostgreSQL through the shared `api` fixture; robot `acme/a1` is registered at
`north` and publishes its state with a paho client.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fleet_server.alarms.model import AlarmEvent
from fleet_server.broker import MosquittoBroker
from fleet_server.db.base import utcnow
from fleet_server.db.models import Alarm, Site
from tests.integration.api.cast import (
    ADMIN_PASSWORD,
    ANY_ROLE,
    NORTH_DISPATCH,
    NORTH_STAFF,
    ROLES,
    Api,
    app_settings,
    running_app,
    services_of,
    sign_in,
    status_for,
)
from tests.integration.api.robot_messages import PahoRobot, error
from tests.support.mqtt import wait_until
from tests.unit.fleet_server.db.databases import BACKENDS, temporary_database


def _register(client: Any, headers: dict[str, str], serial: str) -> None:
    body = {
        "manufacturer": "acme",
        "serial_number": serial,
        "kind": "patrol_robot",
        "capabilities": ["patrol"],
        "site_id": "north",
    }
    response = client.post("/api/v1/robots", json=body, headers=headers)
    assert response.status_code == 201, response.text


@pytest.fixture(scope="module")
def a1(api: Api, module_broker: MosquittoBroker) -> Iterator[PahoRobot]:
    _register(api.client, api.as_("admin"), "a1")
    robot = PahoRobot(module_broker.port, "acme", "a1")
    yield robot
    robot.close()


def _alarms(api: Api, role: str = "admin", **params: Any) -> list[dict[str, Any]]:
    response = api.client.get("/api/v1/alarms", params=params, headers=api.as_(role))
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def _stored_alarm(api: Api, site_id: str | None = "north", severity: str = "warning") -> int:
    with api.services.db.session() as session:
        alarm = Alarm(
            site_id=site_id,
            source="system",
            severity=severity,
            code="test.alarm",
            message="stored by the test",
            raised_at=utcnow(),
        )
        session.add(alarm)
        session.commit()
        return alarm.id


def test_robot_errors_raise_alarms_that_clear_when_the_errors_go(api: Api, a1: PahoRobot) -> None:
    smoke = error("patrolAnomaly", actionId="chk-1", check="smoke_absent", value="1.0")
    a1.state(errors=[error("batteryLow"), error("laserBlocked", "FATAL"), smoke])

    def active() -> list[dict[str, Any]]:
        return _alarms(api, "viewer_north", robot="a1", active="true")

    assert wait_until(lambda: len(active()) == 3, 10), _alarms(api, robot="a1")
    by_code = {a["code"]: a for a in active()}
    assert set(by_code) == {"robot.batteryLow", "robot.laserBlocked", "patrol.anomaly"}
    fatal = by_code["robot.laserBlocked"]
    assert (fatal["severity"], fatal["source"], fatal["site_id"]) == ("critical", "robot", "north")
    assert fatal["robot"] == "acme/a1" and fatal["active"] and fatal["cleared_at"] is None
    assert "smoke_absent" in by_code["patrol.anomaly"]["message"]
    a1.state(errors=[error("batteryLow"), error("laserBlocked", "FATAL"), smoke])  # still there
    a1.state(errors=[error("laserBlocked", "FATAL")])
    assert wait_until(lambda: len(active()) == 1, 10)
    cleared = _alarms(api, robot="a1", active="false")
    assert {a["code"] for a in cleared} == {"robot.batteryLow", "patrol.anomaly"}
    assert all(a["cleared_at"] for a in cleared)
    a1.state(errors=[])
    assert wait_until(lambda: active() == [], 10)
    assert len(_alarms(api, robot="a1")) == 3  # raised once each, whatever the state rate


def test_unregistered_robots_raise_an_alarm_only_all_sites_viewers_see(
    api: Api, module_broker: MosquittoBroker
) -> None:
    ghost = PahoRobot(module_broker.port, "ghost", "u1")
    try:
        ghost.state()
        ghost.state()
        assert wait_until(lambda: len(_alarms(api, code="robot.unregistered", robot="u1")) == 1, 10)
    finally:
        ghost.close()
    (alarm,) = _alarms(api, code="robot.unregistered", robot="u1")
    assert alarm["site_id"] is None and alarm["robot"] == "ghost/u1"
    for role in ("admin_north", "viewer_north"):
        assert _alarms(api, role, code="robot.unregistered") == []
        response = api.client.get(f"/api/v1/alarms/{alarm['id']}", headers=api.as_(role))
        assert response.status_code == 404


Call = Callable[[Api, str], Any]


def _ack(api: Api, role: str) -> Any:
    alarm_id = _stored_alarm(api)
    body = {"comment": "checked on site"}
    return api.client.post(
        f"/api/v1/alarms/{alarm_id}/acknowledge", json=body, headers=api.as_(role)
    )


def _get_one(api: Api, role: str) -> Any:
    return api.client.get(f"/api/v1/alarms/{_stored_alarm(api)}", headers=api.as_(role))


CASES: list[tuple[str, Call, Callable[[str], int]]] = [
    (
        "GET /alarms",
        lambda api, role: api.client.get("/api/v1/alarms", headers=api.as_(role)),
        status_for(ANY_ROLE, 200, 403),
    ),
    ("GET /alarms/{id}", _get_one, status_for(NORTH_STAFF, 200, 404)),
    ("POST /alarms/{id}/acknowledge", _ack, status_for(NORTH_DISPATCH, 200, 404)),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("name", "call", "expect"), CASES, ids=[c[0] for c in CASES])
def test_route_allows_exactly_its_roles(
    api: Api, name: str, call: Call, expect: Callable[[str], int], role: str
) -> None:
    response = call(api, role)
    assert response.status_code == expect(role), response.text


def test_acknowledging_records_who_when_and_why_and_only_once(api: Api) -> None:
    alarm_id = _stored_alarm(api)
    heard: list[AlarmEvent] = []
    got_it = threading.Event()

    def listener(event: AlarmEvent) -> None:
        heard.append(event)
        got_it.set()

    remove = api.services.alarms.add_listener(listener)
    try:
        url = f"/api/v1/alarms/{alarm_id}/acknowledge"
        first = api.client.post(
            url, json={"comment": "door closed again"}, headers=api.as_("dispatcher_north")
        )
        assert first.status_code == 200, first.text
        body = first.json()
        assert body["acknowledged_by"] == "dispatcher_north" and body["acknowledged_at"]
        assert body["comment"] == "door closed again"
        second = api.client.post(url, headers=api.as_("admin"))
        assert second.status_code == 409
        assert second.json()["acknowledged_by"] == "dispatcher_north"
        assert got_it.wait(5)
        assert [(e.kind, e.alarm.id, e.alarm.acknowledged_by) for e in heard] == [
            ("alarm.acknowledged", alarm_id, "dispatcher_north")
        ]
    finally:
        remove()
    audit = api.client.get("/api/v1/audit?action=alarm.acknowledge", headers=api.as_("admin"))
    assert f"alarm:{alarm_id}" in {e["target"] for e in audit.json()["items"]}
    without_body = api.client.post(
        f"/api/v1/alarms/{_stored_alarm(api)}/acknowledge", headers=api.as_("admin")
    )
    assert without_body.status_code == 200 and without_body.json()["comment"] is None


def test_filters_and_cursor_pages(api: Api) -> None:
    for severity in ("info", "error", "critical", "error", "info"):
        _stored_alarm(api, severity=severity)
    _stored_alarm(api, site_id="south", severity="error")
    errors = _alarms(api, "viewer_north", severity="error", limit=200)
    assert errors and all(a["severity"] == "error" and a["site_id"] == "north" for a in errors)
    assert all(a["site_id"] == "south" for a in _alarms(api, "viewer_south", limit=200))
    everything = _alarms(api, limit=200)
    seen, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = api.client.get("/api/v1/alarms", params=params, headers=api.as_("admin")).json()
        seen += [a["id"] for a in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [a["id"] for a in everything] == sorted(seen, reverse=True)
    unacked = _alarms(api, acknowledged="false", limit=200)
    assert all(a["acknowledged_at"] is None for a in unacked)
    bad = api.client.get("/api/v1/alarms?cursor=bm90LWEtY3Vyc29y", headers=api.as_("admin"))
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "cursor"
    too_big = api.client.get("/api/v1/alarms/99999999999999999999", headers=api.as_("admin"))
    assert too_big.status_code == 422


@pytest.mark.parametrize("backend", BACKENDS)
def test_alarms_and_acknowledgements_survive_a_restart(
    backend: str, module_broker: MosquittoBroker, tmp_path: Path
) -> None:
    with temporary_database(backend, tmp_path) as url:
        settings = app_settings(module_broker.port, url, tmp_path)
        robot = PahoRobot(module_broker.port, "acme", "rs1")
        try:
            with running_app(settings) as first:
                with services_of(first).db.session() as session:
                    session.add(Site(id="north", name="North", kind="hospital"))
                    session.commit()
                admin = sign_in(first, "admin", ADMIN_PASSWORD)
                _register(first, admin, "rs1")
                robot.state(errors=[error("bumperHit", "FATAL"), error("batteryLow")])
                assert wait_until(
                    lambda: len(first.get("/api/v1/alarms", headers=admin).json()["items"]) == 2, 10
                )
                alarms = first.get("/api/v1/alarms", headers=admin).json()["items"]
                ack = first.post(f"/api/v1/alarms/{alarms[0]['id']}/acknowledge", headers=admin)
                assert ack.status_code == 200
                before = first.get("/api/v1/alarms", headers=admin).json()["items"]
            with running_app(settings) as second:
                admin = sign_in(second, "admin", ADMIN_PASSWORD)
                assert second.get("/api/v1/alarms", headers=admin).json()["items"] == before

                # The same errors after the restart are the same alarms; one gone clears.
                def cleared() -> bool:
                    # A robot reports its state every few seconds; the restarted server's
                    # subscription may miss the very first one.
                    robot.state(errors=[error("bumperHit", "FATAL")])
                    items = second.get("/api/v1/alarms", headers=admin).json()["items"]
                    return bool(sum(a["active"] for a in items) == 1)

                assert wait_until(cleared, 10)
                after = second.get("/api/v1/alarms", headers=admin).json()["items"]
                assert [a["id"] for a in after] == [a["id"] for a in before]
                assert [a["acknowledged_by"] for a in after] == [
                    a["acknowledged_by"] for a in before
                ]
        finally:
            robot.close()

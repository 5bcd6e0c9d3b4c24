"""Webhooks end to end: a real local receiver, signatures, retry after a 500, dead letters,
redelivery, restarts, and the MQTT bridge to a second real Mosquitto."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fleet_server.broker import MosquittoBroker, find_free_port
from fleet_server.db.models import Site
from fleet_server.feeds.bridge import MqttBridge
from fleet_server.feeds.events import FeedEventData
from fleet_server.feeds.service import FeedService
from fleet_server.feeds.signing import verify
from tests.integration.api.cast import (
    ADMIN_PASSWORD,
    PASSWORD,
    add_sites_and_cast,
    app_settings,
    running_app,
    services_of,
    sign_in,
)
from tests.support.mqtt import Recorder, wait_until
from tests.support.webhook_receiver import Receiver, webhook_receiver
from tests.unit.fleet_server.db.databases import temporary_database

FAST_RETRIES: dict[str, Any] = {
    "webhook_max_attempts": 3,
    "webhook_backoff_base_s": 0.2,
    "webhook_backoff_max_s": 0.4,
    "webhook_timeout_s": 2.0,
}


@pytest.fixture(scope="module")
def brokers() -> Iterator[tuple[MosquittoBroker, MosquittoBroker]]:
    """The robots' broker and a second one standing for the city's."""
    robots, city = MosquittoBroker(find_free_port()), MosquittoBroker(find_free_port())
    robots.start()
    city.start()
    yield robots, city
    robots.stop()
    city.stop()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as found:
        yield found


@pytest.fixture(scope="module")
def app(
    brokers: tuple[MosquittoBroker, MosquittoBroker], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, dict[str, dict[str, str]]]]:
    folder = tmp_path_factory.mktemp("webhooks")
    settings = app_settings(
        brokers[0].port,
        f"sqlite:///{folder / 'fleet.db'}",
        folder,
        feed_mqtt_url=f"mqtt://127.0.0.1:{brokers[1].port}",
        feed_mqtt_topic_prefix="city/fleet",
        **FAST_RETRIES,
    )
    with running_app(settings) as client:
        add_sites_and_cast(services_of(client))
        headers = {
            name: sign_in(client, name, ADMIN_PASSWORD if name == "admin" else PASSWORD)
            for name in ("admin", "dispatcher_north", "viewer_north")
        }
        yield client, headers


def _create(client: TestClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = client.post("/api/v1/webhooks", json=body, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _event(site_id: str = "north", kind: str = "site.emergency.started") -> FeedEventData:
    return FeedEventData(type=kind, site_id=site_id, data={"reason": "test"})


def test_delivery_is_signed_and_retried_after_a_500(
    app: tuple[TestClient, dict[str, dict[str, str]]], receiver: Receiver
) -> None:
    client, headers = app
    receiver.scripts["/flaky"] = [500, 200]
    hook = _create(
        client,
        headers["admin"],
        name="ops-centre",
        url=receiver.url("/flaky"),
        event_types=["site.emergency.started", "site.emergency.cleared"],
        site_id="north",
    )
    secret = hook["secret"]
    assert secret.startswith("whsec_")
    assert (
        "secret"
        not in client.get(f"/api/v1/webhooks/{hook['id']}", headers=headers["admin"]).json()
    )

    started = client.post(
        "/api/v1/sites/north/emergency",
        json={"reason": "fire alarm"},
        headers=headers["dispatcher_north"],
    )
    assert started.status_code == 201, started.text
    assert wait_until(lambda: len(receiver.at("/flaky")) >= 2, 10)
    first, second = receiver.at("/flaky")[:2]
    assert (first.answered, second.answered) == (500, 200)
    # The retry is the same event: same id, same bytes, valid signature each time.
    assert first.body == second.body
    assert first.headers["x-fleet-event-id"] == second.headers["x-fleet-event-id"]
    for request in (first, second):
        assert verify(secret, request.body, request.headers["x-fleet-signature"])
        assert not verify("whsec_wrong", request.body, request.headers["x-fleet-signature"])
        assert int(request.headers["x-fleet-timestamp"]) > 0
    event = json.loads(first.body)
    assert event["type"] == "site.emergency.started"
    assert event["site_id"] == "north"
    assert event["data"]["reason"] == "fire alarm"
    assert event["id"] == first.headers["x-fleet-event-id"]

    def health() -> dict[str, Any]:
        body = client.get(f"/api/v1/webhooks/{hook['id']}", headers=headers["admin"]).json()
        result: dict[str, Any] = body["health"]
        return result

    assert wait_until(lambda: health()["last_success_at"] is not None, 5)
    assert health()["consecutive_failures"] == 0
    assert health()["healthy"] is True

    cleared = client.delete("/api/v1/sites/north/emergency", headers=headers["dispatcher_north"])
    assert cleared.status_code == 200, cleared.text
    assert wait_until(
        lambda: any(
            json.loads(r.body)["type"] == "site.emergency.cleared" for r in receiver.at("/flaky")
        ),
        10,
    )
    client.delete(f"/api/v1/webhooks/{hook['id']}", headers=headers["admin"])


def test_always_failing_delivery_is_dead_lettered_then_redelivered(
    app: tuple[TestClient, dict[str, dict[str, str]]], receiver: Receiver
) -> None:
    client, headers = app
    admin = headers["admin"]
    receiver.scripts["/down"] = [500]
    hook = _create(
        client, admin, name="down", url=receiver.url("/down"), event_types=["robot.offline"]
    )
    services_of(client).feeds.publish(_event(kind="robot.offline"))  # type: ignore[union-attr]
    letters_url = f"/api/v1/webhooks/{hook['id']}/dead-letters"
    assert wait_until(lambda: len(client.get(letters_url, headers=admin).json()) == 1, 10)
    assert len(receiver.at("/down")) == FAST_RETRIES["webhook_max_attempts"]
    (letter,) = client.get(letters_url, headers=admin).json()
    assert letter["attempts"] == 3
    assert letter["last_status"] == 500
    assert letter["event"]["type"] == "robot.offline"
    health = client.get(f"/api/v1/webhooks/{hook['id']}", headers=admin).json()["health"]
    assert health == {**health, "healthy": False, "consecutive_failures": 3, "dead_letters": 1}
    # The console's view (viewer role): failing, one dead letter.
    status = client.get("/api/v1/webhooks/status", headers=headers["viewer_north"]).json()
    (entry,) = [w for w in status["webhooks"] if w["id"] == hook["id"]]
    assert (entry["healthy"], entry["dead_letters"]) == (False, 1)
    assert status["mqtt_bridge_enabled"] is True

    receiver.scripts["/down"] = [200]
    redo = client.post(f"{letters_url}/{letter['id']}/redeliver", headers=admin)
    assert redo.status_code == 202, redo.text
    assert wait_until(lambda: client.get(letters_url, headers=admin).json() == [], 10)
    assert receiver.at("/down")[-1].answered == 200
    assert json.loads(receiver.at("/down")[-1].body)["id"] == letter["event"]["id"]

    # A second dead letter is discarded for good.
    receiver.scripts["/down"] = [500]
    services_of(client).feeds.publish(_event(kind="robot.offline"))  # type: ignore[union-attr]
    assert wait_until(lambda: len(client.get(letters_url, headers=admin).json()) == 1, 10)
    (second,) = client.get(letters_url, headers=admin).json()
    assert client.delete(f"{letters_url}/{second['id']}", headers=admin).status_code == 204
    assert client.get(letters_url, headers=admin).json() == []
    assert client.delete(f"{letters_url}/{second['id']}", headers=admin).status_code == 404


def test_site_filter_and_types_choose_what_a_webhook_gets(
    app: tuple[TestClient, dict[str, dict[str, str]]], receiver: Receiver
) -> None:
    client, headers = app
    hook = _create(
        client,
        headers["admin"],
        name="south-only",
        url=receiver.url("/south"),
        event_types=["alarm.raised"],
        site_id="south",
    )
    feeds = services_of(client).feeds
    assert feeds is not None
    feeds.publish(_event("north", "alarm.raised"))
    feeds.publish(_event("south", "alarm.cleared"))
    wanted = _event("south", "alarm.raised")
    feeds.publish(wanted)
    assert wait_until(lambda: len(receiver.at("/south")) >= 1, 10)
    assert wait_until(lambda: False, 0.6) is False  # time for any wrong delivery to show
    assert [json.loads(r.body)["id"] for r in receiver.at("/south")] == [str(wanted.id)]
    client.delete(f"/api/v1/webhooks/{hook['id']}", headers=headers["admin"])


def _connected_bridge(client: TestClient) -> tuple[FeedService, MqttBridge]:
    """The app's feed and its MQTT bridge, once the bridge is up."""
    feeds = services_of(client).feeds
    assert feeds is not None and feeds.bridge is not None
    bridge = feeds.bridge
    assert wait_until(lambda: bridge.connected, 5)
    return feeds, bridge


def test_events_are_bridged_to_the_city_broker(
    app: tuple[TestClient, dict[str, dict[str, str]]],
    brokers: tuple[MosquittoBroker, MosquittoBroker],
) -> None:
    feeds, _bridge = _connected_bridge(app[0])
    recorder = Recorder(brokers[1].port, "city/fleet/#")
    try:
        event = _event("north", "mission.transition")
        feeds.publish(event)
        assert wait_until(lambda: len(recorder.snapshot()) >= 1, 5)
        (message,) = recorder.snapshot()
        assert message.topic == "city/fleet/north/mission/transition"
        assert message.qos == 1
        assert json.loads(message.payload)["id"] == str(event.id)
    finally:
        recorder.close()


def test_events_published_while_the_city_broker_is_down_arrive_when_it_is_back(
    app: tuple[TestClient, dict[str, dict[str, str]]],
    brokers: tuple[MosquittoBroker, MosquittoBroker],
) -> None:
    feeds, bridge = _connected_bridge(app[0])
    city = brokers[1]
    city.stop()
    assert wait_until(lambda: not bridge.connected, 10)
    before = bridge.published
    missed = _event("north", "robot.offline")
    feeds.publish(missed)
    assert wait_until(lambda: bridge.published > before, 5)  # stored, handed to the bridge
    city.start()
    recorder = Recorder(city.port, "city/fleet/#")  # before the bridge's next try (>= 1 s)
    try:
        assert wait_until(lambda: bridge.connected, 40)
        assert wait_until(
            lambda: any(json.loads(m.payload)["id"] == str(missed.id) for m in recorder.snapshot()),
            10,
        ), [m.topic for m in recorder.snapshot()]
    finally:
        recorder.close()


@pytest.mark.parametrize(
    ("role", "expected"), [("admin", 201), ("dispatcher_north", 403), ("viewer_north", 403)]
)
def test_only_admins_manage_webhooks(
    app: tuple[TestClient, dict[str, dict[str, str]]], receiver: Receiver, role: str, expected: int
) -> None:
    client, headers = app
    body = {"name": f"by-{role}", "url": receiver.url("/x"), "event_types": ["robot.online"]}
    response = client.post("/api/v1/webhooks", json=body, headers=headers[role])
    assert response.status_code == expected, response.text
    if expected == 201:
        client.delete(f"/api/v1/webhooks/{response.json()['id']}", headers=headers["admin"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://example.org/hook"}, "url"),
        ({"url": "http://user:pw@example.org/hook"}, "url"),
        ({"event_types": ["mission.exploded"]}, "event_types"),
        ({"event_types": []}, "event_types"),
        ({"site_id": "nowhere"}, "site_id"),
    ],
)
def test_bad_webhooks_are_refused_naming_the_field(
    app: tuple[TestClient, dict[str, dict[str, str]]], body: dict[str, Any], field: str
) -> None:
    client, headers = app
    full = {
        "name": "bad",
        "url": "https://example.org/hook",
        "event_types": ["robot.online"],
        **body,
    }
    response = client.post("/api/v1/webhooks", json=full, headers=headers["admin"])
    assert response.status_code == 422, response.text
    assert field in {e["field"] for e in response.json()["errors"]}


def test_undelivered_events_and_emergencies_survive_a_restart(
    brokers: tuple[MosquittoBroker, MosquittoBroker],
    receiver: Receiver,
    tmp_path: Path,
) -> None:
    # On PostgreSQL: every other test here stores on SQLite.
    backend, path = "postgresql", "/restart"
    receiver.scripts[path] = [503]
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(temporary_database(backend, tmp_path))
        # The next try is 1.5-3 s after the first: the first server is gone by then.
        settings = app_settings(
            brokers[0].port, url, tmp_path, webhook_max_attempts=20, webhook_backoff_base_s=3.0
        )
        with running_app(settings) as client:
            admin = sign_in(client, "admin", ADMIN_PASSWORD)
            _create(
                client,
                admin,
                name="restart",
                url=receiver.url(path),
                event_types=["robot.online"],
            )
            event = _event(kind="robot.online")
            services_of(client).feeds.publish(event)  # type: ignore[union-attr]
            assert wait_until(lambda: len(receiver.at(path)) == 1, 10)
            with services_of(client).db.session() as session:
                session.add(Site(id="east", name="East", kind="bank"))
                session.commit()
            evacuation = {"reason": "evacuation drill"}
            started = client.post("/api/v1/sites/east/emergency", json=evacuation, headers=admin)
            assert started.status_code == 201, started.text
        receiver.scripts[path] = [200]
        with running_app(settings) as client:
            assert wait_until(lambda: len(receiver.at(path)) == 2, 10)
            admin = sign_in(client, "admin", ADMIN_PASSWORD)
            (hook,) = client.get("/api/v1/webhooks", headers=admin).json()
            assert wait_until(
                lambda: (
                    client.get("/api/v1/webhooks", headers=admin).json()[0]["health"]["pending"]
                    == 0
                ),
                5,
            )
            assert hook["health"]["dead_letters"] == 0
            # The site is still in emergency mode, and its dispatch still held.
            status = client.get("/api/v1/sites/east/emergency", headers=admin).json()
            assert (status["state"], status["reason"]) == ("active", "evacuation drill")
            assert services_of(client).missions.dispatch_blocked("east")
            assert not services_of(client).missions.dispatch_blocked("north")
    first, second = receiver.at(path)
    assert (first.answered, second.answered) == (503, 200)
    assert json.loads(second.body)["id"] == str(event.id)
    assert first.body == second.body

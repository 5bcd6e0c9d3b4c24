"""GET /metrics: well-formed Prometheus text whose values follow what the server does.

The scrape is read back with a strict parser written here from the exposition-format
rules (HELP and TYPE before samples, label escaping, cumulative histogram buckets), not
with the code that wrote it.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from fleet_server.auth.roles import Grant, Role
from fleet_server.broker import MosquittoBroker
from fleet_server.db.models import Mission
from fleet_server.missions.runtime import MissionTransition
from fleet_server.missions.state_machine import start_lifecycle
from fleet_server.missions.states import MissionState
from missions.vda5050 import Action, BlockingType, InstantActions, utc_timestamp
from missions.vda5050.protocol import PROTOCOL_VERSION
from tests.integration.api.cast import (
    Api,
    add_sites_and_cast,
    add_user,
    app_settings,
    running_app,
    services_of,
    sign_in,
)
from tests.support import vda_messages as vda
from tests.support.mqtt import Recorder, wait_until
from tests.support.registry import admit_robots

MANUFACTURER = "metrics"

# -- a strict reader of the text format ----------------------------------------------------------

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_SAMPLE = re.compile(rf"^({_NAME})(?:\{{(.*)\}})? (\S+)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)')
_SUFFIXES = {"counter": ("",), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count")}

Labels = frozenset[tuple[str, str]]


@dataclass
class Family:
    kind: str
    help: str
    samples: dict[tuple[str, Labels], float] = field(default_factory=dict)


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), value)


def _labels(text: str, line: str) -> Labels:
    labels: dict[str, str] = {}
    position = 0
    while position < len(text):
        match = _LABEL.match(text, position)
        assert match, f"bad labels in {line!r}"
        assert match.group(1) not in labels, f"repeated label in {line!r}"
        labels[match.group(1)] = _unescape(match.group(2))
        position = match.end()
    return frozenset(labels.items())


def parse_exposition(text: str) -> dict[str, Family]:
    """Families by name; any deviation from the format fails the test."""
    assert text.endswith("\n")
    families: dict[str, Family] = {}
    current: str | None = None
    helps: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name, _, help_text = line[7:].partition(" ")
            assert re.fullmatch(_NAME, name), line
            helps[name] = help_text
        elif line.startswith("# TYPE "):
            name, _, kind = line[7:].partition(" ")
            assert kind in _SUFFIXES, line
            assert name not in families, f"{name} declared twice"
            assert name in helps, f"{name} has no HELP before its TYPE"
            if kind == "counter":
                assert name.endswith("_total"), line
            families[name] = Family(kind, helps[name])
            current = name
        else:
            match = _SAMPLE.match(line)
            assert match and current is not None, f"bad line {line!r}"
            sample, label_text, value_text = match.groups()
            family = families[current]
            assert sample in {current + s for s in _SUFFIXES[family.kind]}, line
            key = (sample, _labels(label_text or "", line))
            assert key not in family.samples, f"duplicate sample {line!r}"
            value = float(value_text.replace("Inf", "inf"))
            if family.kind == "counter":
                assert value >= 0, line
            family.samples[key] = value
    for name, family in families.items():
        if family.kind == "histogram":
            _check_histogram(name, family)
    return families


def _check_histogram(name: str, family: Family) -> None:
    buckets = sorted(
        (float(dict(labels)["le"].replace("Inf", "inf")), value)
        for (sample, labels), value in family.samples.items()
        if sample == f"{name}_bucket"
    )
    assert buckets and math.isinf(buckets[-1][0]), f"{name}: no +Inf bucket"
    counts = [value for _le, value in buckets]
    assert counts == sorted(counts), f"{name}: buckets are not cumulative"
    assert family.samples[(f"{name}_count", frozenset())] == counts[-1]


def value(families: dict[str, Family], name: str, **labels: str) -> float:
    """One sample's value (0 when the labelled series is absent)."""
    sample_name = name
    family_name = name
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and name.removesuffix(suffix) in families:
            family_name = name.removesuffix(suffix)
    family = families[family_name]
    return family.samples.get((sample_name, frozenset(labels.items())), 0.0)


def scrape(api: Api) -> dict[str, Family]:
    response = api.client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    return parse_exposition(response.text)


# -- the tests -------------------------------------------------------------------------------------


@pytest.fixture
def robot_link(api: Api, module_broker: MosquittoBroker) -> Iterator[Recorder]:
    recorder = Recorder(module_broker.port, f"uagv/v2/{MANUFACTURER}/#")
    yield recorder
    recorder.close()


def test_robot_and_ingest_metrics_follow_the_messages(api: Api, robot_link: Recorder) -> None:
    serial = f"m-{uuid.uuid4().hex[:6]}"
    services = api.services
    admit_robots(services, MANUFACTURER, [serial], site_id="north")
    services.hub.refresh_directory_soon()
    assert wait_until(lambda: services.hub.site_of((MANUFACTURER, serial)) == "north", 10)

    before = scrape(api)
    assert value(before, "fleet_mqtt_link_connected") == 1
    topic = f"uagv/v2/{MANUFACTURER}/{serial}"
    connected = vda.connection(MANUFACTURER, serial, "ONLINE")
    robot_link.publish(f"{topic}/connection", vda.payload(connected), qos=1)
    pose = vda.visualization(MANUFACTURER, serial, vda.agv_position(1.0, 2.0))
    robot_link.publish(f"{topic}/visualization", vda.payload(pose))
    robot_link.publish(f"{topic}/state", b'{"not": "a state"}')
    assert wait_until(lambda: services.ingest.rejected_by_reason["invalid"] > 0, 10)
    assert wait_until(lambda: services.ingest.accepted["visualization"] > 0, 10)

    after = scrape(api)
    online = value(after, "fleet_robots_online", site="north")
    assert online == value(before, "fleet_robots_online", site="north") + 1
    assert value(after, "fleet_robots_known", site="north") >= online
    for kind in ("connection", "visualization"):
        assert value(after, "fleet_ingest_messages_total", kind=kind) >= (
            value(before, "fleet_ingest_messages_total", kind=kind) + 1
        )
    assert value(after, "fleet_ingest_rejected_total", reason="invalid") == (
        value(before, "fleet_ingest_rejected_total", reason="invalid") + 1
    )
    assert value(after, "fleet_mqtt_messages_received_total") >= (
        value(before, "fleet_mqtt_messages_received_total") + 3
    )

    # An order to the robot counts as sent (the publisher lives on the server's loop).
    message = InstantActions(
        header_id=0,
        timestamp=utc_timestamp(),
        version=PROTOCOL_VERSION,
        manufacturer=MANUFACTURER,
        serial_number=serial,
        actions=[
            Action(
                action_type="stateRequest",
                action_id=f"sr-{uuid.uuid4().hex[:6]}",
                blocking_type=BlockingType.NONE,
            )
        ],
    )
    portal = api.client.portal
    assert portal is not None
    portal.call(lambda: services.orders.send_instant_actions(MANUFACTURER, serial, message))
    assert value(scrape(api), "fleet_orders_sent_total") == (
        value(after, "fleet_orders_sent_total") + 1
    )


def test_missions_by_state_are_read_at_most_every_few_seconds(api: Api) -> None:
    counts = api.services.metrics.sources.mission_counts
    scrape(api)
    reads = counts.reads
    first = scrape(api)
    assert counts.reads == reads, "a second scrape within max_age_s must not query again"

    with api.services.db.session() as session:
        mission = Mission(
            site_id="south",
            kind="patrol",
            priority="normal",
            spec={"earliest_start": "2999-01-01T00:00:00+00:00"},
        )
        start_lifecycle(mission, "created by test", "test", session)
        session.commit()
    old_age = counts.max_age_s
    counts.max_age_s = 0.0
    try:
        second = scrape(api)
    finally:
        counts.max_age_s = old_age
    assert counts.reads == reads + 1
    assert value(second, "fleet_missions", site="south", state="pending") == (
        value(first, "fleet_missions", site="south", state="pending") + 1
    )
    for state in MissionState:
        assert ("fleet_missions", frozenset({("site", "south"), ("state", state.value)})) in (
            second["fleet_missions"].samples
        )


def _none_pending(api: Api) -> bool:
    """No due mission waits (missions for later stay pending on a site without a map)."""
    with api.services.db.session() as session:
        pending = session.scalars(select(Mission).where(Mission.state == "pending"))
        return all(m.spec.get("earliest_start") for m in pending)


def test_runtime_transitions_feed_counts_and_the_dispatch_latency_histogram(api: Api) -> None:
    # Due missions earlier tests left pending are cancelled too (no site here has a map):
    # once they are, the next cancellation is this test's own.
    assert wait_until(lambda: _none_pending(api), 10)
    before = scrape(api)
    # A due mission on a site without a map: the runtime cancels it at its next step.
    with api.services.db.session() as session:
        mission = Mission(site_id="north", kind="patrol", priority="normal", spec={})
        start_lifecycle(mission, "created by test", "test", session)
        session.commit()
    api.services.missions.poke()
    assert wait_until(
        lambda: (
            value(scrape(api), "fleet_mission_transitions_total", state="cancelled")
            == value(before, "fleet_mission_transitions_total", state="cancelled") + 1
        ),
        10,
    )

    # Dispatches are timed from creation; the runtime hook is what observes them.
    created = datetime(2026, 1, 1, tzinfo=UTC)
    api.services.metrics.on_transition(
        MissionTransition(
            mission_id=uuid.uuid4(),
            site_id="north",
            kind="patrol",
            priority="normal",
            robot_id=None,
            from_state=MissionState.ASSIGNED,
            to_state=MissionState.DISPATCHED,
            cause="test",
            at=created + timedelta(seconds=2),
            created_at=created,
            version=3,
        )
    )
    after = scrape(api)
    name = "fleet_mission_dispatch_latency_seconds"
    assert value(after, f"{name}_count") == value(before, f"{name}_count") + 1
    assert value(after, f"{name}_sum") == pytest.approx(value(before, f"{name}_sum") + 2.0)
    assert value(after, f"{name}_bucket", le="2.5") == value(before, f"{name}_bucket", le="2.5") + 1
    assert value(after, f"{name}_bucket", le="1") == value(before, f"{name}_bucket", le="1")


def test_live_clients_are_counted(api: Api) -> None:
    token = api.as_("viewer_north")["Authorization"].split()[1]
    before = scrape(api)
    with api.client.websocket_connect(f"/api/v1/live?token={token}") as ws:
        assert ws.receive_json()["type"] == "ready"
        ws.send_json({"type": "subscribe", "sites": ["north"]})
        assert ws.receive_json()["type"] == "snapshot"
        during = scrape(api)
        assert value(during, "fleet_live_clients") == value(before, "fleet_live_clients") + 1
        assert value(during, "fleet_live_snapshots_total") >= (
            value(before, "fleet_live_snapshots_total") + 1
        )
    assert wait_until(
        lambda: value(scrape(api), "fleet_live_clients") == value(before, "fleet_live_clients"), 5
    )
    after = scrape(api)
    assert value(after, "fleet_live_disconnects_total", reason="client_left") == (
        value(before, "fleet_live_disconnects_total", reason="client_left") + 1
    )


def test_private_metrics_need_a_viewer(module_broker: MosquittoBroker, tmp_path: Path) -> None:
    settings = app_settings(
        module_broker.port, f"sqlite:///{tmp_path / 'fleet.db'}", tmp_path, metrics_public=False
    )
    with running_app(settings) as client:
        services = services_of(client)
        add_sites_and_cast(services)
        nobody = add_user(services, [])
        viewer = add_user(services, [Grant(Role.VIEWER, "south")])
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
        assert client.get("/metrics", headers=sign_in(client, nobody)).status_code == 403
        allowed = client.get("/metrics", headers=sign_in(client, viewer))
        assert allowed.status_code == 200
        assert "fleet_live_clients" in parse_exposition(allowed.text)


TRAFFIC_COUNTERS = {
    "fleet_traffic_reservation_conflicts_total": "reservation_conflicts",
    "fleet_traffic_deadlocks_detected_total": "deadlocks_detected",
    "fleet_traffic_deadlocks_resolved_total": "deadlocks_resolved",
    "fleet_traffic_reroutes_total": "reroutes",
    "fleet_traffic_make_way_total": "make_way",
    "fleet_traffic_step_asides_total": "backed_out",
    "fleet_traffic_updates_sent_total": "updates_sent",
    "fleet_traffic_starts_deferred_total": "starts_deferred",
    "fleet_traffic_unmanaged_total": "unmanaged",
    "fleet_traffic_stalls_total": "stalls",
    "fleet_traffic_detours_total": "detours",
    "fleet_traffic_errors_total": "errors",
}
DISPATCHER_GAUGES = (
    "fleet_dispatcher_missions_running",
    "fleet_dispatcher_plan_queued",
    "fleet_dispatcher_plan_unassigned",
    "fleet_dispatcher_plan_solve_seconds",
    "fleet_dispatcher_plan_made_timestamp_seconds",
    "fleet_dispatcher_dispatch_blocked",
)


def test_traffic_control_counters_and_dispatcher_state_are_reported(api: Api) -> None:
    runtime = api.services.missions
    counters = runtime.traffic.counters
    api.services.hub.refresh_directory_soon()  # every site gets its series, even idle ones
    assert wait_until(lambda: {"north", "south"} <= api.services.hub.directory.sites, 10)
    before = scrape(api)
    for name, attribute in TRAFFIC_COUNTERS.items():
        assert before[name].kind == "counter", name
        assert value(before, name) == getattr(counters, attribute), name
    assert before["fleet_traffic_deadlocks_unresolved"].kind == "gauge"
    for site in ("north", "south"):
        for name in DISPATCHER_GAUGES:
            assert before[name].kind == "gauge", name
            assert (name, frozenset({("site", site)})) in before[name].samples, (name, site)
        assert value(before, "fleet_dispatcher_missions_running", site=site) == 0
        assert value(before, "fleet_dispatcher_dispatch_blocked", site=site) == 0
        for cause in ("robot_fault", "robot_lost"):
            assert value(before, "fleet_dispatcher_missions_held", site=site, cause=cause) == 0
        for phase in ("going", "charging"):
            assert value(before, "fleet_dispatcher_charging_robots", site=site, phase=phase) == 0
    assert value(before, "fleet_dispatcher_resumptions") == len(runtime.dispatcher.resumptions)

    # Read at scrape time from traffic control itself, not copied when the server started.
    saved = (counters.deadlocks_detected, counters.deadlocks_resolved, counters.backed_out)
    try:
        counters.deadlocks_detected += 2
        counters.deadlocks_resolved += 1
        counters.backed_out += 3
        after = scrape(api)
    finally:
        counters.deadlocks_detected, counters.deadlocks_resolved, counters.backed_out = saved
    for name, more in (
        ("fleet_traffic_deadlocks_detected_total", 2),
        ("fleet_traffic_deadlocks_resolved_total", 1),
        ("fleet_traffic_step_asides_total", 3),
    ):
        assert value(after, name) == value(before, name) + more, name

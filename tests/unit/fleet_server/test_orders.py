"""OrderPublisher: QoS 1 sends, echo tracking from state, bounded resend, rejections."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from fleet_server.fleet.ingest import Ingest
from fleet_server.fleet.live_state import LiveFleet, RobotKey
from fleet_server.fleet.orders import Message, OrderPublisher
from missions.vda5050 import (
    Action,
    BlockingType,
    Error,
    InstantActions,
    Order,
    decode_instant_actions,
    decode_order,
)
from tests.support import vda_messages as vda
from tests.support.orders import one_node_order
from tests.support.vda_schemas import schema_errors

TIMEOUT_S = 5.0
ROBOT = ("acme", "r1")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Sent:
    topic: str
    payload: bytes
    qos: int

    @property
    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(self.payload)
        return body


class RecordingLink:
    """Stands in for the MQTT link, the true edge here."""

    def __init__(self) -> None:
        self.sent: list[Sent] = []

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        assert not retain
        self.sent.append(Sent(topic, payload, qos))


@dataclass
class Harness:
    link: RecordingLink
    ingest: Ingest
    orders: OrderPublisher
    clock: FakeClock
    gave_up: list[tuple[RobotKey, Message, str]]
    rejected: list[tuple[RobotKey, Message, Error]]

    def state(self, robot: RobotKey = ROBOT, **fields: Any) -> None:
        """A state of `robot` taken in; `fields` are keyword arguments of `vda_messages.state`."""
        body = vda.state(*robot, battery_charge=77.0, **fields)
        topic = f"uagv/v2/{robot[0]}/{robot[1]}/state"
        self.ingest.on_state(topic, vda.payload(body))
        assert self.ingest.rejected_total == 0

    def tick(self, seconds: float) -> int:
        self.clock.now += seconds
        return self.orders.resend_due()


@pytest.fixture
def h() -> Harness:
    clock = FakeClock()
    live = LiveFleet(offline_after_s=15)
    link = RecordingLink()
    gave_up: list[tuple[RobotKey, Message, str]] = []
    rejected: list[tuple[RobotKey, Message, Error]] = []
    orders = OrderPublisher(
        link,
        live,
        "uagv",
        echo_timeout_s=TIMEOUT_S,
        max_tries=3,
        on_gave_up=lambda *args: gave_up.append(args),
        on_rejected=lambda *args: rejected.append(args),
        monotonic=clock,
    )
    return Harness(link, Ingest(live, "uagv", monotonic=clock), orders, clock, gave_up, rejected)


def _instant(*action_ids: str) -> InstantActions:
    return InstantActions(
        header_id=0,
        timestamp=datetime(2000, 1, 1, tzinfo=UTC),
        version="0.0.0",
        manufacturer="x",
        serial_number="x",
        actions=[
            Action(action_type="startPause", action_id=a, blocking_type=BlockingType.HARD)
            for a in action_ids
        ],
    )


def test_order_is_stamped_and_published_at_qos_1(h: Harness) -> None:
    h.orders.send_order("acme", "r1", one_node_order())
    h.orders.send_order("acme", "r1", one_node_order(update_id=1))
    h.orders.send_instant_actions("acme", "r1", _instant("a1"))
    h.orders.send_order("acme", "r2", one_node_order())
    topics = [s.topic for s in h.link.sent]
    assert topics == [
        "uagv/v2/acme/r1/order",
        "uagv/v2/acme/r1/order",
        "uagv/v2/acme/r1/instantActions",
        "uagv/v2/acme/r2/order",
    ]
    assert {s.qos for s in h.link.sent} == {1}
    # VDA 5050 §6.4: headerId per topic, +1 per message; each robot has its own.
    assert [s.body["headerId"] for s in h.link.sent] == [0, 1, 0, 0]
    first = h.link.sent[0].body
    assert (first["manufacturer"], first["serialNumber"], first["version"]) == (
        "acme",
        "r1",
        "2.1.0",
    )
    assert first["timestamp"].endswith("Z") and not first["timestamp"].startswith("2000")
    for sent in h.link.sent:
        kind = sent.topic.rsplit("/", 1)[-1]
        assert schema_errors(kind, sent.body) == [], sent.body


def test_echoed_order_is_not_resent(h: Harness) -> None:
    h.orders.send_order("acme", "r1", one_node_order(update_id=2))
    h.state(order_id="o1", order_update_id=2)
    assert h.orders.pending_order("acme", "r1") is None
    assert h.tick(TIMEOUT_S * 10) == 0
    assert len(h.link.sent) == 1
    assert h.orders.counters.echoed == 1


def test_state_of_an_older_update_is_no_echo(h: Harness) -> None:
    h.orders.send_order("acme", "r1", one_node_order(update_id=2))
    h.state(order_id="o1", order_update_id=1)
    h.state(order_id="other", order_update_id=5)
    assert h.orders.pending_order("acme", "r1") is not None
    assert h.tick(TIMEOUT_S) == 1


def test_unechoed_order_is_resent_unchanged_then_given_up(h: Harness) -> None:
    h.orders.send_order("acme", "r1", one_node_order(update_id=3))
    assert h.tick(TIMEOUT_S - 0.1) == 0
    assert h.tick(0.1) == 1
    assert h.tick(TIMEOUT_S) == 1
    assert h.gave_up == []
    assert h.tick(TIMEOUT_S) == 0  # third try also unanswered: give up
    bodies = [decode_order(s.payload) for s in h.link.sent]
    assert len(bodies) == 3
    assert {(b.order_id, b.order_update_id) for b in bodies} == {("o1", 3)}
    assert [b.header_id for b in bodies] == [0, 1, 2]
    assert [b.nodes for b in bodies] == [bodies[0].nodes] * 3
    [(robot, message, reason)] = h.gave_up
    assert robot == ROBOT and isinstance(message, Order) and message.order_id == "o1"
    assert "3 tries" in reason
    # never resend forever
    for _ in range(20):
        assert h.tick(TIMEOUT_S) == 0
    assert len(h.link.sent) == 3
    assert h.orders.pending_order("acme", "r1") is None


def test_echo_after_a_resend_stops_resending(h: Harness) -> None:
    h.orders.send_order("acme", "r1", one_node_order())
    h.tick(TIMEOUT_S)
    h.state(order_id="o1", order_update_id=0)
    assert h.tick(TIMEOUT_S * 5) == 0
    assert len(h.link.sent) == 2 and h.gave_up == []


def test_newer_order_supersedes_the_pending_one(h: Harness) -> None:
    h.orders.send_order("acme", "r1", one_node_order("o1"))
    h.orders.send_order("acme", "r1", one_node_order("o2"))
    h.state(order_id="o1", order_update_id=0)  # the old one's echo settles nothing
    assert h.tick(TIMEOUT_S) == 1
    assert decode_order(h.link.sent[-1].payload).order_id == "o2"
    assert h.orders.counters.superseded == 1


def test_rejection_stops_resending(h: Harness) -> None:
    h.orders.send_order("acme", "r1", one_node_order("o1", update_id=4))
    h.state(errors=[vda.error("orderUpdateError", orderId="o1", orderUpdateId="4")])
    [(robot, message, error)] = h.rejected
    assert robot == ROBOT and isinstance(message, Order) and message.order_update_id == 4
    assert error.error_type == "orderUpdateError"
    assert h.tick(TIMEOUT_S * 10) == 0
    assert h.gave_up == [] and len(h.link.sent) == 1


@pytest.mark.parametrize(
    "error",
    [
        vda.error("orderUpdateError", orderId="o1", orderUpdateId="3"),  # another update
        vda.error("orderError", orderId="o9"),  # another order
        vda.error("batteryLow", orderId="o1"),  # not a rejection
    ],
)
def test_errors_that_do_not_reject_this_order(h: Harness, error: dict[str, Any]) -> None:
    h.orders.send_order("acme", "r1", one_node_order("o1", update_id=4))
    h.state(errors=[error])
    assert h.rejected == []
    assert h.tick(TIMEOUT_S) == 1


def test_a_rejection_still_shown_from_before_the_send_is_not_read_again(h: Harness) -> None:
    # §6.6.4: the warning stays until the vehicle accepts a new order.
    stale = vda.error("validationError", orderId="o1")
    h.state(errors=[stale])
    h.orders.send_order("acme", "r1", one_node_order("o1", update_id=1))
    h.state(errors=[stale])
    assert h.rejected == []
    h.state(errors=[stale, vda.error("noRouteError", orderId="o1", nodeId="n1")])
    assert [e.error_type for (_r, _m, e) in h.rejected] == ["noRouteError"]


def test_instant_actions_tracked_by_action_id_and_only_missing_ones_resent(h: Harness) -> None:
    h.orders.send_instant_actions("acme", "r1", _instant("a1", "a2"))
    h.state(action_states=[{"actionId": "a1", "actionStatus": "RUNNING"}])
    assert h.tick(TIMEOUT_S) == 1
    resent = decode_instant_actions(h.link.sent[-1].payload)
    assert [a.action_id for a in resent.actions] == ["a2"]
    assert resent.header_id == 1
    h.state(action_states=[{"actionId": "a2", "actionStatus": "FINISHED"}])
    assert h.orders.pending_instant_actions("acme", "r1") == []
    assert h.tick(TIMEOUT_S * 5) == 0
    assert h.orders.counters.echoed == 1


def test_instant_actions_are_given_up_after_max_tries(h: Harness) -> None:
    h.orders.send_instant_actions("acme", "r1", _instant("a1"))
    h.orders.send_instant_actions("acme", "r1", _instant("a2"))
    h.state(action_states=[{"actionId": "a2", "actionStatus": "FINISHED"}])
    resends = [h.tick(TIMEOUT_S) for _ in range(6)]
    assert resends == [1, 1, 0, 0, 0, 0]
    [(_robot, message, _reason)] = h.gave_up
    assert isinstance(message, InstantActions) and message.actions[0].action_id == "a1"


def test_instant_action_rejection_is_reported_once(h: Harness) -> None:
    h.orders.send_instant_actions("acme", "r1", _instant("cancel-1"))
    error = vda.error("noOrderToCancel", actionId="cancel-1")
    h.state(errors=[error], action_states=[{"actionId": "cancel-1", "actionStatus": "FAILED"}])
    h.state(errors=[error], action_states=[{"actionId": "cancel-1", "actionStatus": "FAILED"}])
    assert [e.error_type for (_r, _m, e) in h.rejected] == ["noOrderToCancel"]
    assert h.tick(TIMEOUT_S) == 0
    assert h.orders.pending_instant_actions("acme", "r1") == []


@pytest.mark.allow_logged_exceptions
def test_failing_callback_is_logged_and_resending_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    def explode(*_args: object) -> None:
        raise RuntimeError("alarm store down")

    clock = FakeClock()
    link = RecordingLink()
    orders = OrderPublisher(
        link,
        LiveFleet(15),
        "uagv",
        echo_timeout_s=1,
        max_tries=1,
        on_gave_up=explode,
        monotonic=clock,
    )
    orders.send_order("acme", "r1", one_node_order("o1"))
    orders.send_order("acme", "r2", one_node_order("o2"))
    clock.now += 1
    orders.resend_due()
    assert orders.counters.gave_up == 2
    assert sum("on_gave_up callback failed" in r.getMessage() for r in caplog.records) == 2
    orders.send_order("acme", "r1", one_node_order("o3"))
    assert orders.pending_order("acme", "r1") is not None


def test_identity_that_cannot_be_a_topic_is_refused(h: Harness) -> None:
    with pytest.raises(ValueError, match="serialNumber"):
        h.orders.send_order("acme", "r/1", one_node_order())
    assert h.link.sent == []


def test_bad_settings_are_refused() -> None:
    live = LiveFleet(offline_after_s=15)
    with pytest.raises(ValueError, match="max_tries"):
        OrderPublisher(RecordingLink(), live, "uagv", max_tries=0)
    with pytest.raises(ValueError, match="echo_timeout_s"):
        OrderPublisher(RecordingLink(), live, "uagv", echo_timeout_s=0)


async def test_resend_timer_runs_on_the_event_loop() -> None:
    live = LiveFleet(offline_after_s=15)
    link = RecordingLink()
    orders = OrderPublisher(link, live, "uagv", echo_timeout_s=0.05, max_tries=3)
    task = asyncio.create_task(orders.run())
    orders.send_order("acme", "r1", one_node_order())
    await asyncio.sleep(0.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    orders.close()
    assert len(link.sent) == 3
    assert orders.counters.gave_up == 1


def test_an_action_error_shown_before_the_send_is_no_rejection(h: Harness) -> None:
    stale = vda.error("actionError", actionId="a1")
    h.state(errors=[stale])
    h.orders.send_instant_actions("acme", "r1", _instant("a1"))
    h.state(errors=[stale])
    assert h.rejected == []
    assert h.tick(TIMEOUT_S) == 1


def test_withdrawn_order_is_neither_resent_nor_updated_until_sent_anew(h: Harness) -> None:
    h.orders.send_order("acme", "r1", one_node_order("o1", update_id=2))
    h.orders.withdraw_order("acme", "r1", "o2")  # not the pending one: kept
    assert h.orders.pending_order("acme", "r1") is not None
    h.orders.withdraw_order("acme", "r1", "o1")
    assert h.orders.pending_order("acme", "r1") is None
    assert h.tick(TIMEOUT_S * 5) == 0
    assert len(h.link.sent) == 1 and h.gave_up == []
    h.orders.send_order("acme", "r1", one_node_order("o1", update_id=3))  # e.g. a traffic release
    assert len(h.link.sent) == 1 and h.orders.counters.withheld == 1
    h.orders.send_order("acme", "r1", one_node_order("o1", update_id=0))  # dispatched to it anew
    h.orders.send_order("acme", "r1", one_node_order("o1", update_id=1))
    assert len(h.link.sent) == 3

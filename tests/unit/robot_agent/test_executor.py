"""Order execution on a simulated body with a manual clock (VDA 5050 §6.6, §6.8–§6.12)."""

from __future__ import annotations

import json

import pytest

from missions.vda5050 import ActionStatus, BlockingType, ErrorLevel
from robot_agent.adapter import Device
from robot_agent.orders import Decision
from tests.support.harness import Harness
from tests.support.orders import N, action, instant, order


@pytest.fixture
def h() -> Harness:
    return Harness()


def test_drives_the_base_and_stops_at_the_decision_point(h: Harness) -> None:
    o = order("o1", [N("a", 0, 0), N("b", 3, 0), N("c", 3, 2), N("d", 6, 2, released=False)])
    assert h.ex.receive_order(o) is Decision.NEW
    assert h.ex.book.last_node_id == "a"  # first node: where the vehicle stands
    h.run(12)
    assert (h.ex.book.last_node_id, h.ex.book.last_node_sequence_id) == ("c", 4)
    assert (round(h.body.x, 2), round(h.body.y, 2)) == (3.0, 2.0)
    assert [n.node_id for n in h.ex.node_states()] == ["d"]  # horizon kept, not driven
    assert [e.released for e in h.ex.edge_states()] == [False]
    assert h.ex.busy


def test_update_stitches_at_the_decision_point_and_continues(h: Harness) -> None:
    h.ex.receive_order(order("o1", [N("a", 0, 0), N("b", 2, 0), N("c", 4, 0, released=False)]))
    h.run(5)
    update = order(
        "o1", [N("b", 2, 0), N("c", 4, 0), N("e", 4, 2)], update_id=1, first_sequence_id=2
    )
    assert h.ex.receive_order(update) is Decision.UPDATE
    h.run(8)
    assert h.ex.book.last_node_id == "e" and h.ex.book.last_node_sequence_id == 6
    assert not h.ex.node_states() and not h.ex.busy


def test_update_while_still_driving_keeps_the_released_base(h: Harness) -> None:
    first = order("o1", [N("a", 0, 0), N("b", 5, 0), N("c", 10, 0), N("x", 10, 5, released=False)])
    h.ex.receive_order(first)
    h.run(1)
    base_before = [(n.node_id, n.sequence_id) for n in h.ex.book.nodes if n.released]
    update = order("o1", [N("c", 99, 99), N("y", 10, -5)], update_id=1, first_sequence_id=4)
    assert h.ex.receive_order(update) is Decision.UPDATE
    kept = [n for n in h.ex.book.nodes if (n.node_id, n.sequence_id) in base_before]
    assert [(n.node_id, n.sequence_id) for n in kept] == base_before
    stitch = next(n for n in h.ex.book.nodes if n.node_id == "c")
    assert stitch.node_position is not None and stitch.node_position.x == 10.0  # not changed
    assert [n.node_id for n in h.ex.book.nodes] == ["b", "c", "y"]  # old horizon x replaced


@pytest.mark.parametrize(
    ("second", "error"),
    [
        (order("o1", [N("a", 0, 0)], update_id=0), None),  # identical repeat: ignored
        (order("o2", [N("a", 0, 0), N("q", 1, 0)]), "orderUpdateError"),  # new while busy
        (
            order("o1", [N("z", 9, 9), N("q", 1, 0)], update_id=1, first_sequence_id=8),
            "orderUpdateError",
        ),
    ],
)
def test_repeat_busy_and_non_stitching(h: Harness, second: object, error: str | None) -> None:
    h.ex.receive_order(order("o1", [N("a", 0, 0), N("b", 9, 0)]))
    h.run(0.5)
    h.ex.receive_order(second)  # type: ignore[arg-type]
    assert h.error_types() == ([error] if error else [])
    h.run(15)
    assert h.ex.book.last_node_id == "b"  # the first order carried on


def test_outdated_update_is_rejected_and_previous_order_continues(h: Harness) -> None:
    h.ex.receive_order(order("o1", [N("a", 0, 0), N("b", 2, 0)], update_id=3))
    h.ex.receive_order(order("o1", [N("a", 0, 0), N("b", 2, 0)], update_id=2))
    assert h.error_types() == ["orderUpdateError"]
    h.run(5)
    assert h.ex.book.last_node_id == "b"


def test_new_order_far_away_is_no_route(h: Harness) -> None:
    h.ex.receive_order(order("o1", [N("far", 50, 50), N("b", 51, 50)]))
    assert h.error_types() == ["noRouteError"]
    assert h.ex.book.order_id == ""
    h.ex.receive_order(order("o2", [N("a", 0.1, 0), N("b", 1, 0)]))
    assert h.error_types() == []  # reported until a new order is accepted


def test_malformed_graph_is_a_validation_error(h: Harness) -> None:
    bad = order("o1", [N("a", 0, 0), N("b", 1, 0)])
    bad.edges = []
    h.ex.receive_order(bad)
    assert h.error_types() == ["validationError"]


@pytest.mark.parametrize(
    ("act", "parameter"),
    [
        (action("liftFork", "x1"), None),
        (action("uvDisinfect", "x2"), "dwellS"),
        (action("uvDisinfect", "x3", dwellS="long"), "dwellS"),
        (action("patrolCheck", "x4", checks=["is_blue"]), "checks"),
    ],
)
def test_unknown_actions_and_bad_parameters_refuse_the_order(
    h: Harness, act: object, parameter: str | None
) -> None:
    h.ex.receive_order(order("o1", [N("a", 0, 0, actions=[act])]))  # type: ignore[list-item]
    assert h.error_types() == ["orderError"]
    refs = {r.reference_key: r.reference_value for r in h.ex.errors.order[0].error_references or []}
    if parameter:
        assert refs["parameter"] == parameter
    assert not h.ex.runs


def test_uv_lamp_only_while_nobody_is_near_and_dose_reaches_target(h: Harness) -> None:
    uv = action(
        "uvDisinfect",
        "uv1",
        dwellS=10.0,
        targetDoseMjCm2=26.7,
        distanceM=1.0,
        irradianceAt1mMwCm2=2.67,
    )
    h.ex.receive_order(order("o1", [N("a", 0, 0), N("b", 1, 0, actions=[uv])]))
    h.run(3)
    assert h.status("uv1") is ActionStatus.RUNNING
    assert Device.UV_LAMP in h.adapter.devices_on
    h.world.people_nearby = 1
    h.run(4)
    assert Device.UV_LAMP not in h.adapter.devices_on  # interlock
    h.world.people_nearby = 0
    h.run(12)
    assert h.status("uv1") is ActionStatus.FINISHED
    assert Device.UV_LAMP not in h.adapter.devices_on
    result = json.loads(h.ex.runs["uv1"].result or "")
    assert result["deliveredDoseMjCm2"] >= 26.7 - 1e-6
    assert len(result["interruptions"]) == 1
    assert result["interruptions"][0]["cause"] == "personDetected"
    assert result["interruptions"][0]["durationS"] == pytest.approx(4.0, abs=0.15)


def test_pause_holds_driving_and_the_dose_clock(h: Harness) -> None:
    uv = action("uvDisinfect", "uv1", dwellS=4.0, targetDoseMjCm2=10.7, distanceM=1.0)
    h.ex.receive_order(order("o1", [N("a", 0, 0, actions=[uv]), N("b", 4, 0)]))
    h.run(1)
    h.ex.receive_instant_actions(instant(action("startPause", "p1")))
    assert h.ex.paused and h.status("uv1") is ActionStatus.PAUSED
    h.run(10)
    assert h.status("uv1") is ActionStatus.PAUSED and h.body.x == 0.0
    h.ex.receive_instant_actions(instant(action("stopPause", "p2")))
    h.run(3.5)
    assert h.status("uv1") is ActionStatus.FINISHED
    h.run(8)
    assert h.ex.book.last_node_id == "b"
    result = json.loads(h.ex.runs["uv1"].result or "")
    assert result["dwellS"] == pytest.approx(4.0, abs=0.15)
    assert result["interruptions"][0]["cause"] == "pauseRequested"


def test_cancel_order_fails_running_actions_and_stops(h: Harness) -> None:
    uv = action("uvDisinfect", "uv1", dwellS=30.0, targetDoseMjCm2=80.0, distanceM=1.0)
    h.ex.receive_order(order("o1", [N("a", 0, 0), N("b", 1, 0, actions=[uv]), N("c", 5, 0)]))
    h.run(4)
    assert h.status("uv1") is ActionStatus.RUNNING
    h.ex.receive_instant_actions(instant(action("cancelOrder", "c1")))
    assert h.status("uv1") is ActionStatus.FAILED
    assert h.status("c1") is ActionStatus.FINISHED
    assert Device.UV_LAMP not in h.adapter.devices_on
    assert not h.ex.node_states() and not h.ex.busy
    assert h.ex.book.order_id == "o1"  # §6.6.3: ids are kept
    x = h.body.x
    h.run(3)
    assert h.body.x == x
    h.ex.receive_instant_actions(instant(action("cancelOrder", "c2")))
    assert h.status("c2") is ActionStatus.FAILED
    assert "noOrderToCancel" in h.error_types()


def test_a_cancelled_order_takes_no_update_but_a_new_order(h: Harness) -> None:
    h.ex.receive_order(order("o1", [N("a", 0, 0), N("b", 2, 0), N("c", 4, 0, released=False)]))
    h.run(5)
    h.ex.receive_instant_actions(instant(action("cancelOrder", "c1")))
    update = order(
        "o1", [N("b", 2, 0), N("c", 4, 0)], update_id=1, first_sequence_id=2
    )  # stitches at the decision point, so only the cancellation refuses it
    assert h.ex.receive_order(update) is None
    assert h.error_types() == ["orderUpdateError"]
    x = h.body.x
    h.run(3)
    assert h.body.x == x and not h.ex.busy
    assert h.ex.receive_order(order("o2", [N("b", 2, 0), N("c", 4, 0)])) is Decision.NEW
    h.run(5)
    assert h.ex.book.last_node_id == "c"


def test_hard_action_runs_alone_and_holds_the_vehicle(h: Harness) -> None:
    speak = action("speak", "s1", BlockingType.NONE, text="hello")
    check = action("patrolCheck", "p1", BlockingType.HARD, dwellS=2.0)
    check2 = action("patrolCheck", "p2", BlockingType.HARD, dwellS=2.0)
    h.ex.receive_order(order("o1", [N("a", 0, 0, actions=[speak, check, check2]), N("b", 2, 0)]))
    h.run(0.5)
    assert h.status("s1") is ActionStatus.FINISHED
    assert h.status("p1") is ActionStatus.RUNNING and h.status("p2") is ActionStatus.WAITING
    assert h.body.x == 0.0
    h.run(2)
    assert h.status("p1") is ActionStatus.FINISHED and h.status("p2") is ActionStatus.RUNNING
    h.run(2.2)
    assert h.status("p2") is ActionStatus.FINISHED
    h.run(4)
    assert h.ex.book.last_node_id == "b"
    assert h.adapter.spoken == [("zh-CN", "hello")]


def test_patrol_anomaly_is_reported(h: Harness) -> None:
    h.world.sensors = {"temperature_c": 51.0, "door_open": 1.0, "smoke": 0.0}
    check = action(
        "patrolCheck",
        "p1",
        dwellS=0.5,
        checks=[{"temperature_below": 45}, "door_closed", "smoke_absent"],
    )
    h.ex.receive_order(order("o1", [N("a", 0, 0, actions=[check])]))
    h.run(1)
    result = json.loads(h.ex.runs["p1"].result or "")
    assert result["anomalies"] == ["temperature_below", "door_closed"]
    assert h.error_types().count("patrolAnomaly") == 2


def test_charging_needs_a_charger(h: Harness) -> None:
    h.ex.receive_instant_actions(instant(action("startCharging", "c1")))
    assert h.status("c1") is ActionStatus.FAILED and not h.body.charging
    h.world.chargers = [(0.0, 0.0, "L1")]
    h.ex.receive_instant_actions(instant(action("startCharging", "c2")))
    assert h.status("c2") is ActionStatus.FINISHED and h.body.charging


def test_guidance_wait_times_out_without_a_person(h: Harness) -> None:
    h.world.person_following = False
    wait = action("guideWaitForPerson", "g1", timeoutS=5.0)
    h.ex.receive_order(order("o1", [N("a", 0, 0, actions=[wait])]))
    h.run(6)
    assert h.status("g1") is ActionStatus.FAILED
    assert json.loads(h.ex.runs["g1"].result or "")["personArrived"] is False


def test_repeated_instant_action_id_is_ignored(h: Harness) -> None:
    h.ex.receive_instant_actions(instant(action("startPause", "p1")))
    h.ex.receive_instant_actions(instant(action("stopPause", "p2")))
    h.ex.receive_instant_actions(instant(action("startPause", "p1")))  # a resend
    assert not h.ex.paused


def test_lift_ride_changes_level(h: Harness) -> None:
    h.ex.receive_order(
        order(
            "o1",
            [
                N("a", 0, 0),
                N("lift_l1", 2, 0),
                N("lift_l2", 2, 0, map_id="L2"),
                N("w", 4, 0, map_id="L2"),
            ],
        )
    )
    h.run(4)
    assert h.body.map_id == "L1"
    h.run(6)
    assert (h.body.map_id, h.ex.book.last_node_id) == ("L2", "w")


def test_door_and_lift_requests_wait_for_the_building(h: Harness) -> None:
    door = action("openDoor", "d1", doorName="ward_door")
    lift = action("callLift", "l1", liftName="LiftA", toMapId="L2", timeoutS=3.0)
    h.world.closed_doors = {"ward_door"}
    h.ex.receive_order(order("o1", [N("a", 0, 0, actions=[door]), N("b", 1, 0)]))
    h.run(1)
    assert h.status("d1") is ActionStatus.RUNNING and h.body.x == 0.0
    h.world.closed_doors = set()
    h.run(3)
    assert h.status("d1") is ActionStatus.FINISHED and h.ex.book.last_node_id == "b"
    h.world.busy_lifts = {"LiftA"}
    h.ex.receive_order(
        order("o1", [N("b", 1, 0), N("c", 1, 0, actions=[lift])], update_id=1, first_sequence_id=2)
    )
    h.run(4)
    assert h.status("l1") is ActionStatus.FAILED
    assert h.world.lift_requests[-1] == ("LiftA", "L1", "L2")


def test_failed_lift_call_holds_the_robot_until_an_update(h: Harness) -> None:
    lift = action("callLift", "l1", liftName="LiftA", toMapId="L2", timeoutS=1.0)
    h.world.busy_lifts = {"LiftA"}
    h.ex.receive_order(
        order(
            "o1",
            [N("a", 0, 0, actions=[lift]), N("cab", 0, 0, map_id="L2"), N("w", 2, 0, map_id="L2")],
        )
    )
    h.run(6)
    assert h.status("l1") is ActionStatus.FAILED
    assert (h.body.map_id, h.ex.book.last_node_id) == ("L1", "a")  # did not ride
    h.ex.receive_order(order("o1", [N("a", 0, 0), N("b", 2, 0)], update_id=1))
    assert h.error_types() == ["orderUpdateError"]  # the base cannot change...
    h.ex.receive_instant_actions(instant(action("cancelOrder", "c")))
    h.ex.receive_order(order("o2", [N("a", 0, 0), N("b", 2, 0)]))
    h.run(4)
    assert h.ex.book.last_node_id == "b"  # ...but a cancel and a new order free it


def test_update_may_resend_horizon_actions(h: Harness) -> None:
    check = action("patrolCheck", "p-later", dwellS=0.1)
    h.ex.receive_order(
        order("o1", [N("a", 0, 0), N("b", 1, 0), N("c", 2, 0, released=False, actions=[check])])
    )
    h.run(3)
    update = order(
        "o1", [N("b", 1, 0), N("c", 2, 0, actions=[check])], update_id=1, first_sequence_id=2
    )
    assert h.ex.receive_order(update) is Decision.UPDATE
    h.run(3)
    assert h.status("p-later") is ActionStatus.FINISHED


def test_a_silent_sensor_fails_its_check(h: Harness) -> None:
    h.world.sensors = {}
    check = action("patrolCheck", "p1", dwellS=0.1, checks=["smoke_absent"])
    h.ex.receive_order(order("o1", [N("a", 0, 0, actions=[check])]))
    h.run(0.5)
    result = json.loads(h.ex.runs["p1"].result or "")
    assert result["checks"][0] == {
        "check": "smoke_absent",
        "ok": False,
        "value": None,
        "reason": "no reading",
    }


def test_emergency_stop_holds_the_order_as_a_fatal_error_until_released(h: Harness) -> None:
    h.ex.receive_order(order("o1", [N("a", 0, 0), N("b", 8, 0)]))
    h.run(1)
    h.world.emergency_stop = True
    h.run(0.2)
    x = h.body.x
    h.run(5)
    assert h.body.x == x and 0 < x < 8  # held where it was, goal kept
    fatal = [e for e in h.state().errors if e.error_level is ErrorLevel.FATAL]
    assert [e.error_type for e in fatal] == ["emergencyStop"]
    assert h.state().order_id == "o1" and h.ex.busy
    h.world.emergency_stop = False
    h.run(8)
    assert h.error_types() == []
    assert h.ex.book.last_node_id == "b" and not h.ex.busy

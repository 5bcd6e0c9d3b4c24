"""Mission progress read from the states of a robot running the real agent logic."""

from __future__ import annotations

from fleet_server.fleet.progress import MissionProgress, ProgressKind
from tests.support.harness import Harness
from tests.support.orders import N, action, instant, order

ROBOT = ("fleetsim", "r1")


def _drive(h: Harness, progress: MissionProgress, seconds: float) -> list[tuple[str, str]]:
    seen = []
    for _ in range(round(seconds / 0.5)):
        h.run(0.5)
        for event in progress.on_state(ROBOT, h.state()):
            seen.append((event.kind.value, event.detail))
    return seen


def test_order_runs_to_done_with_action_results() -> None:
    h, progress = Harness(), MissionProgress()
    check = action("patrolCheck", "chk", dwellS=1.0)
    o = order("m1-o", [N("a", 0, 0), N("b", 2, 0, actions=[check]), N("c", 4, 0)])
    progress.track("m1", ROBOT, order_id="m1-o", final_node=("c", 4), action_ids={"chk"})
    assert progress.on_state(ROBOT, h.state()) == []  # the robot has not taken it yet
    h.ex.receive_order(o)
    events = _drive(h, progress, 10)
    kinds = [k for k, _ in events]
    assert kinds[0] == "started"
    assert ("node", "b") in events and ("node", "c") in events
    assert ("action", "FINISHED") in events
    assert kinds[-1] == "order_done"
    assert _drive(h, progress, 2) == []  # ended: nothing more


def test_failed_action_is_named_when_the_order_is_done() -> None:
    h, progress = Harness(), MissionProgress()
    charge = action("startCharging", "g1")  # no charger here: FAILED
    h.ex.receive_order(order("m2-o", [N("a", 0, 0, actions=[charge]), N("b", 1, 0)]))
    progress.track("m2", ROBOT, order_id="m2-o", final_node=("b", 2), action_ids={"g1"})
    events = []
    for _ in range(10):
        h.run(0.5)
        events += progress.on_state(ROBOT, h.state())
    done = [e for e in events if e.kind is ProgressKind.ORDER_DONE]
    assert len(done) == 1 and done[0].failed_actions == ("g1",)


def test_pause_resume_and_cancel() -> None:
    h, progress = Harness(), MissionProgress()
    h.ex.receive_order(order("m3-o", [N("a", 0, 0), N("b", 8, 0)]))
    progress.track("m3", ROBOT, order_id="m3-o", final_node=("b", 2), action_ids=set())
    _drive(h, progress, 1)
    h.ex.receive_instant_actions(instant(action("startPause", "p")))
    assert [e.kind for e in progress.on_state(ROBOT, h.state())] == [ProgressKind.PAUSED]
    h.ex.receive_instant_actions(instant(action("stopPause", "r")))
    assert [e.kind for e in progress.on_state(ROBOT, h.state())] == [ProgressKind.RESUMED]
    progress.cancel_requested(ROBOT, "cancel-1")
    h.ex.receive_instant_actions(instant(action("cancelOrder", "cancel-1")))
    assert [e.kind for e in progress.on_state(ROBOT, h.state())] == [ProgressKind.CANCELLED]


def test_fatal_error_is_a_fault_once() -> None:
    h, progress = Harness(), MissionProgress()
    h.ex.receive_order(order("m4-o", [N("a", 0, 0), N("b", 3, 0)]))
    progress.track("m4", ROBOT, order_id="m4-o", final_node=("b", 2), action_ids=set())
    _drive(h, progress, 0.5)
    h.body.clear_goal()  # the platform drops the goal: navigation fails
    events = _drive(h, progress, 2)
    assert [k for k, _ in events].count("fault") == 1
    assert any("navigationFailed" in d for k, d in events if k == "fault")


def test_a_fault_that_cleared_and_comes_back_is_a_fault_again() -> None:
    h, progress = Harness(), MissionProgress()
    h.ex.receive_order(order("m6-o", [N("a", 0, 0), N("b", 8, 0)]))
    progress.track("m6", ROBOT, order_id="m6-o", final_node=("b", 2), action_ids=set())
    _drive(h, progress, 0.5)
    faults = []
    for pressed in (True, False, True):
        h.world.emergency_stop = pressed
        faults += [d for k, d in _drive(h, progress, 1) if k == "fault"]
    assert faults == ["emergencyStop: emergency stop pressed"] * 2


def test_other_orders_are_ignored() -> None:
    h, progress = Harness(), MissionProgress()
    h.ex.receive_order(order("someone-else", [N("a", 0, 0)]))
    progress.track("m5", ROBOT, order_id="m5-o", final_node=("a", 0), action_ids=set())
    assert _drive(h, progress, 1) == []

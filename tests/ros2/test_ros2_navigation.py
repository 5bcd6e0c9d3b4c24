"""NavigationTracker and LevelChange: Nav2 goal events in, NavStatus and commands out."""

from __future__ import annotations

from fleet_robot_agent.commands import (
    CallTrigger,
    CancelNavGoal,
    LoadMap,
    PublishInitialPose,
    SendNavGoal,
    SetSpeedLimit,
)
from fleet_robot_agent.conversions import GoalStatus, StampedPose, yaw_to_quaternion
from fleet_robot_agent.navigation import LevelChange, LevelPhase, NavigationTracker, NavPhase
from fleet_robot_agent.service_calls import ServiceCallTracker
from ros2_support import ManualClock

from robot_agent.adapter import NavStatus

POSE = StampedPose("map", 3.0, 4.0, 0.0, yaw_to_quaternion(0.5))
OTHER = StampedPose("map", -1.0, 2.0, 0.0, yaw_to_quaternion(0.0))


def sent(commands: list[object]) -> SendNavGoal:
    goals = [c for c in commands if isinstance(c, SendNavGoal)]
    assert len(goals) == 1
    return goals[0]


def test_a_goal_is_sent_with_its_speed_limit_and_succeeds() -> None:
    nav = NavigationTracker(behavior_tree="bt.xml")
    assert nav.status() is NavStatus.IDLE
    commands = nav.start(POSE, max_speed=0.5)
    assert commands[0] == SetSpeedLimit(0.5)
    goal = sent(commands)
    assert (goal.pose, goal.behavior_tree) == (POSE, "bt.xml")
    assert nav.phase is NavPhase.SENDING and nav.status() is NavStatus.ACTIVE
    assert nav.on_goal_response(goal.ticket, accepted=True) == []
    assert nav.phase is NavPhase.ACTIVE
    nav.on_feedback(goal.ticket, 2.5, 1)
    assert nav.progress is not None and nav.progress.distance_remaining_m == 2.5
    nav.on_result(goal.ticket, GoalStatus.SUCCEEDED)
    assert nav.status() is NavStatus.SUCCEEDED
    assert nav.ticket is None


def test_no_speed_limit_lifts_the_previous_one() -> None:
    nav = NavigationTracker()
    assert nav.start(POSE, max_speed=None)[0] == SetSpeedLimit(None)


def test_rejected_goal_fails_with_the_reason() -> None:
    nav = NavigationTracker()
    goal = sent(nav.start(POSE, None))
    nav.on_goal_response(goal.ticket, accepted=False, reason="server not available")
    assert nav.status() is NavStatus.FAILED
    assert nav.failure == "server not available"


def test_aborted_goal_fails_with_the_nav2_error() -> None:
    nav = NavigationTracker()
    goal = sent(nav.start(POSE, None))
    nav.on_goal_response(goal.ticket, True)
    nav.on_result(goal.ticket, GoalStatus.ABORTED, error_code=208, error_msg="no valid path")
    assert nav.status() is NavStatus.FAILED
    assert nav.failure == "ABORTED: planner error 208: no valid path"


def test_a_cancel_by_someone_else_fails_the_goal() -> None:
    nav = NavigationTracker()
    goal = sent(nav.start(POSE, None))
    nav.on_goal_response(goal.ticket, True)
    nav.on_result(goal.ticket, GoalStatus.CANCELED)
    assert nav.status() is NavStatus.FAILED
    assert nav.failure is not None and nav.failure.startswith("CANCELED")


def test_unknown_status_code_fails() -> None:
    nav = NavigationTracker()
    goal = sent(nav.start(POSE, None))
    nav.on_result(goal.ticket, 99)
    assert nav.status() is NavStatus.FAILED and nav.failure == "status 99: none"


def test_a_new_goal_replaces_the_old_and_old_events_are_stale() -> None:
    nav = NavigationTracker()
    first = sent(nav.start(POSE, None))
    nav.on_goal_response(first.ticket, True)
    second = sent(nav.start(OTHER, 0.3))
    assert second.ticket != first.ticket
    # Nav2 preempts the first goal; its late result changes nothing.
    nav.on_result(first.ticket, GoalStatus.ABORTED, 9000)
    nav.on_feedback(first.ticket, 9.0, 0)
    assert nav.status() is NavStatus.ACTIVE and nav.progress is None
    nav.on_goal_response(second.ticket, True)
    nav.on_result(second.ticket, GoalStatus.SUCCEEDED)
    assert nav.status() is NavStatus.SUCCEEDED


def test_cancel_stops_the_goal_in_nav2_and_goes_idle() -> None:
    nav = NavigationTracker()
    goal = sent(nav.start(POSE, None))
    nav.on_goal_response(goal.ticket, True)
    assert nav.cancel() == [CancelNavGoal(goal.ticket)]
    assert nav.status() is NavStatus.IDLE
    nav.on_result(goal.ticket, GoalStatus.CANCELED)
    assert nav.status() is NavStatus.IDLE
    assert nav.cancel() == []


def test_a_goal_cancelled_before_nav2_answered_is_cancelled_when_accepted() -> None:
    nav = NavigationTracker()
    goal = sent(nav.start(POSE, None))
    nav.cancel()
    assert nav.on_goal_response(goal.ticket, accepted=True) == [CancelNavGoal(goal.ticket)]
    assert nav.on_goal_response(goal.ticket, accepted=False) == []
    assert nav.status() is NavStatus.IDLE


def test_pause_cancels_in_nav2_and_resume_resends_the_same_goal() -> None:
    nav = NavigationTracker()
    first = sent(nav.start(POSE, 0.4))
    nav.on_goal_response(first.ticket, True)
    assert nav.pause() == [CancelNavGoal(first.ticket)]
    assert nav.phase is NavPhase.PAUSED and nav.status() is NavStatus.ACTIVE
    assert nav.pause() == []  # already paused
    nav.on_result(first.ticket, GoalStatus.CANCELED)  # our own cancel: stale
    assert nav.status() is NavStatus.ACTIVE
    commands = nav.resume()
    assert commands[0] == SetSpeedLimit(0.4)
    again = sent(commands)
    assert again.pose == POSE and again.ticket != first.ticket
    assert nav.resume() == []
    nav.on_goal_response(again.ticket, True)
    nav.on_result(again.ticket, GoalStatus.SUCCEEDED)
    assert nav.status() is NavStatus.SUCCEEDED


def test_pause_while_waiting_for_acceptance_cancels_on_acceptance() -> None:
    nav = NavigationTracker()
    goal = sent(nav.start(POSE, None))
    assert nav.pause() == [CancelNavGoal(goal.ticket)]
    assert nav.on_goal_response(goal.ticket, True) == [CancelNavGoal(goal.ticket)]
    assert sent(nav.resume()).pose == POSE


def test_pause_without_a_goal_in_nav2_holds_nothing() -> None:
    nav = NavigationTracker()
    assert nav.pause() == [] and nav.status() is NavStatus.IDLE
    assert nav.resume() == [] and nav.status() is NavStatus.IDLE
    goal = sent(nav.start(POSE, None))
    nav.on_result(goal.ticket, GoalStatus.SUCCEEDED)
    assert nav.pause() == []
    assert nav.status() is NavStatus.SUCCEEDED
    assert nav.resume() == []


def test_a_goal_given_while_paused_waits_for_resume() -> None:
    nav = NavigationTracker()
    first = sent(nav.start(POSE, None))
    nav.pause()
    assert nav.start(OTHER, None) == []
    assert nav.status() is NavStatus.ACTIVE
    assert sent(nav.resume()).pose == OTHER
    assert first.ticket != nav.ticket


def test_a_goal_given_while_paused_stops_one_still_in_nav2() -> None:
    nav = NavigationTracker()
    nav.pause()
    assert nav.start(POSE, None) == []  # nothing in Nav2 yet
    assert sent(nav.resume()).pose == POSE


def test_cancel_while_paused_drops_the_held_goal() -> None:
    nav = NavigationTracker()
    goal = sent(nav.start(POSE, None))
    nav.pause()
    assert nav.cancel() == []  # its cancel went out with the pause
    assert nav.resume() == [] and nav.status() is NavStatus.IDLE
    assert goal.ticket != nav.ticket


def test_reject_fails_a_goal_that_cannot_be_sent() -> None:
    nav = NavigationTracker()
    goal = sent(nav.start(POSE, None))
    assert nav.reject("no map for level L9") == [CancelNavGoal(goal.ticket)]
    assert nav.status() is NavStatus.FAILED and nav.failure == "no map for level L9"


# --- level changes ---------------------------------------------------------------------


def level_change(clock: ManualClock) -> LevelChange:
    return LevelChange(
        ticket=7,
        target_map_id="L2",
        map_url="/maps/L2.yaml",
        arrival=POSE,
        lift_service="/lifts/A/to_L2",
        started_at=clock(),
        timeout_s=60.0,
    )


def test_level_change_rides_loads_the_map_and_relocalizes(clock: ManualClock) -> None:
    calls = ServiceCallTracker(retry_s=1.0)
    change = level_change(clock)
    assert change.status() is NavStatus.ACTIVE
    assert change.poll(clock(), calls) == [CallTrigger("/lifts/A/to_L2")]
    assert change.poll(clock(), calls) == []  # answer pending
    calls.on_response("/lifts/A/to_L2", False, "on its way")
    clock.advance(1.5)
    assert change.poll(clock(), calls) == [CallTrigger("/lifts/A/to_L2")]
    calls.on_response("/lifts/A/to_L2", True)
    assert change.poll(clock(), calls) == [LoadMap(7, "/maps/L2.yaml")]
    assert change.phase is LevelPhase.LOADING_MAP and change.status() is NavStatus.ACTIVE
    assert change.poll(clock(), calls) == []
    assert change.on_map_loaded(99, True) == []  # another ticket
    assert change.on_map_loaded(7, True) == [PublishInitialPose(POSE)]
    assert change.status() is NavStatus.SUCCEEDED
    assert change.on_map_loaded(7, True) == []


def test_level_change_fails_when_the_map_does_not_load(clock: ManualClock) -> None:
    calls = ServiceCallTracker()
    change = level_change(clock)
    change.poll(clock(), calls)
    calls.on_response("/lifts/A/to_L2", True)
    change.poll(clock(), calls)
    assert change.on_map_loaded(7, False, "result 1") == []
    assert change.status() is NavStatus.FAILED
    assert change.failure is not None and "result 1" in change.failure


def test_level_change_gives_up_when_the_lift_never_arrives(clock: ManualClock) -> None:
    calls = ServiceCallTracker()
    change = level_change(clock)
    change.poll(clock(), calls)
    clock.advance(61.0)
    assert change.poll(clock(), calls) == []
    assert change.status() is NavStatus.FAILED
    assert change.failure == "lift did not reach level L2 within 60 s"


def test_ticket_values_are_increasing() -> None:
    nav = NavigationTracker()
    tickets = [sent(nav.start(POSE, None)).ticket for _ in range(3)]
    assert tickets == sorted(set(tickets))

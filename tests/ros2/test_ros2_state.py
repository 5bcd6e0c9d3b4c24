"""ServiceCallTracker, Readings and CommandQueue: the state both threads share."""

from __future__ import annotations

import threading

from fleet_robot_agent.commands import CallTrigger, CommandQueue, PublishSpeech
from fleet_robot_agent.readings import UNKNOWN_PEOPLE_COUNT, PlanarPose, Readings
from fleet_robot_agent.service_calls import CallState, ServiceCallTracker
from ros2_support import ManualClock

from robot_agent.adapter import BatteryReading, Velocity

# --- service calls ---------------------------------------------------------------------


def test_polled_call_is_sent_once_and_done_once(clock: ManualClock) -> None:
    calls = ServiceCallTracker(retry_s=2.0)
    assert calls.poll("/door", clock()) is CallState.SEND
    assert calls.poll("/door", clock()) is CallState.WAITING
    calls.on_response("/door", True)
    assert calls.poll("/door", clock()) is CallState.DONE
    # Consumed: the next request for that door starts over.
    assert calls.poll("/door", clock()) is CallState.SEND


def test_refused_call_is_retried_after_retry_s(clock: ManualClock) -> None:
    calls = ServiceCallTracker(retry_s=2.0)
    calls.poll("/lift", clock())
    calls.on_response("/lift", False, "busy")
    assert calls.last_refusal("/lift") == "busy"
    clock.advance(1.0)
    assert calls.poll("/lift", clock()) is CallState.WAITING
    clock.advance(1.5)
    assert calls.poll("/lift", clock()) is CallState.SEND
    assert calls.last_refusal("/lift") is None  # in flight again


def test_unanswered_call_is_sent_again_after_the_answer_timeout(clock: ManualClock) -> None:
    calls = ServiceCallTracker(retry_s=1.0, answer_timeout_s=5.0)
    calls.poll("/door", clock())
    clock.advance(4.0)
    assert calls.poll("/door", clock()) is CallState.WAITING
    clock.advance(2.0)
    assert calls.poll("/door", clock()) is CallState.SEND


def test_refusal_without_message_and_readiness() -> None:
    calls = ServiceCallTracker()
    assert calls.last_refusal("/uv") is None
    calls.on_response("/uv", False)
    assert calls.last_refusal("/uv") == "refused"
    assert not calls.is_ready("/uv")
    calls.set_ready("/uv", True)
    assert calls.is_ready("/uv")


# --- readings --------------------------------------------------------------------------


def test_people_count_fails_safe_when_silent_stale_or_nonsense(clock: ManualClock) -> None:
    readings = Readings()
    assert readings.people_nearby(clock(), 2.0) == UNKNOWN_PEOPLE_COUNT == 1
    readings.set_people(0, clock())
    assert readings.people_nearby(clock(), 2.0) == 0
    clock.advance(2.5)
    assert readings.people_nearby(clock(), 2.0) == UNKNOWN_PEOPLE_COUNT
    readings.set_people(3, clock())
    assert readings.people_nearby(clock(), 2.0) == 3
    readings.set_people(-1, clock())
    assert readings.people_nearby(clock(), 2.0) == UNKNOWN_PEOPLE_COUNT


def test_following_is_false_unless_fresh_and_true(clock: ManualClock) -> None:
    readings = Readings()
    assert not readings.following(clock(), 2.0)
    readings.set_following(True, clock())
    assert readings.following(clock(), 2.0)
    clock.advance(3.0)
    assert not readings.following(clock(), 2.0)


def test_velocity_is_zero_once_odometry_is_stale(clock: ManualClock) -> None:
    readings = Readings()
    assert readings.velocity(clock(), 1.0) == Velocity()
    readings.set_velocity(Velocity(vx=0.4), clock())
    assert readings.velocity(clock(), 1.0) == Velocity(vx=0.4)
    clock.advance(1.5)
    assert readings.velocity(clock(), 1.0) == Velocity()


def test_stale_sensors_are_left_out(clock: ManualClock) -> None:
    readings = Readings()
    readings.set_sensor("smoke", 0.0, clock())
    clock.advance(5.0)
    readings.set_sensor("temperature_c", 21.5, clock())
    assert readings.sensors(clock(), 10.0) == {"smoke": 0.0, "temperature_c": 21.5}
    clock.advance(6.0)
    assert readings.sensors(clock(), 10.0) == {"temperature_c": 21.5}


def test_pose_battery_and_emergency_stop() -> None:
    readings = Readings()
    assert readings.pose() is None and readings.battery() is None
    assert not readings.emergency_stop()
    readings.set_pose(PlanarPose(1.0, 2.0, 0.3))
    readings.set_battery(BatteryReading(charge_pct=80.0))
    readings.set_emergency_stop(True)
    assert readings.pose() == PlanarPose(1.0, 2.0, 0.3)
    assert readings.battery() == BatteryReading(charge_pct=80.0)
    assert readings.emergency_stop()


# --- command queue ------------------------------------------------------------------------


def test_queue_keeps_order_and_wakes_the_consumer() -> None:
    queue = CommandQueue()
    wakes: list[int] = []
    queue.put(PublishSpeech("a"))  # before bind: kept, and the bind wakes at once
    queue.bind(lambda: wakes.append(1))
    assert wakes == [1]
    queue.put(CallTrigger("/x"), PublishSpeech("b"))
    queue.put()  # nothing to send, no wake-up
    assert wakes == [1, 1]
    assert queue.drain() == [PublishSpeech("a"), CallTrigger("/x"), PublishSpeech("b")]
    assert queue.drain() == []


def test_queue_from_many_threads_loses_nothing() -> None:
    queue = CommandQueue()
    woken = threading.Event()
    queue.bind(woken.set)

    def producer(n: int) -> None:
        for i in range(200):
            queue.put(PublishSpeech(f"{n}:{i}"))

    threads = [threading.Thread(target=producer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    items = queue.drain()
    assert woken.is_set() and len(items) == 800
    for n in range(4):
        mine = [
            c.payload
            for c in items
            if isinstance(c, PublishSpeech) and c.payload.startswith(f"{n}:")
        ]
        assert mine == [f"{n}:{i}" for i in range(200)]

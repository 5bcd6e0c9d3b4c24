"""Failure throttling: lockout after the threshold, doubling backoff, bounded memory."""

from __future__ import annotations

import pytest

from fleet_server.auth.throttle import FailureThrottle, lockout_seconds


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("failures", "seconds"),
    [(0, 0), (4, 0), (5, 30), (6, 60), (7, 120), (9, 480), (10, 900), (50, 900), (10_000, 900)],
)
def test_lockout_doubles_up_to_the_cap(failures: int, seconds: float) -> None:
    assert lockout_seconds(failures, threshold=5, base_s=30, max_s=900) == seconds


def test_a_key_is_locked_after_the_threshold_and_free_again_after_the_wait() -> None:
    clock = Clock()
    throttle = FailureThrottle(threshold=3, base_s=10, max_s=100, clock=clock)
    key = ("alice", "10.0.0.1")
    assert [throttle.record_failure(key) for _ in range(3)] == [0, 0, 10]
    assert throttle.retry_after(key) == 10
    assert throttle.retry_after(("alice", "10.0.0.2")) == 0
    clock.now += 10
    assert throttle.retry_after(key) == 0
    assert throttle.record_failure(key) == 20  # the next failure doubles the lockout
    clock.now += 20
    throttle.record_success(key)
    assert throttle.record_failure(key) == 0


def test_old_failures_are_forgotten() -> None:
    clock = Clock()
    throttle = FailureThrottle(threshold=3, base_s=10, max_s=100, clock=clock)
    for _ in range(2):
        throttle.record_failure("k")
    clock.now += 201
    assert throttle.record_failure("k") == 0


def test_memory_stays_bounded_under_endless_usernames(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(FailureThrottle, "MAX_KEYS", 100)
    clock = Clock()
    throttle = FailureThrottle(threshold=3, base_s=10, max_s=100, clock=clock)
    for i in range(1000):
        clock.now += 0.01
        throttle.record_failure(f"user{i}")
    assert len(throttle._records) <= 100
    assert throttle.retry_after("user999") == 0
    for _ in range(2):
        throttle.record_failure("user999")
    assert throttle.retry_after("user999") == 10  # recent keys are still counted

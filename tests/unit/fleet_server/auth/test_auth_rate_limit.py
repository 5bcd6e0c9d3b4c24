"""The token-endpoint rate limiter: bursts, refill, Retry-After arithmetic, bounded memory."""

from __future__ import annotations

import threading

import pytest

from fleet_server.auth.rate_limit import RateLimiter


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_of_the_per_minute_rate_then_one_attempt_per_interval() -> None:
    clock = _Clock()
    limiter = RateLimiter(6, clock)
    assert [limiter.acquire("a") for _ in range(6)] == [0.0] * 6
    assert limiter.acquire("a") == pytest.approx(10.0)  # one token per 60/6 s
    clock.now += 4
    assert limiter.acquire("a") == pytest.approx(6.0)
    clock.now += 6
    assert limiter.acquire("a") == 0.0
    assert limiter.acquire("a") == pytest.approx(10.0)
    assert limiter.acquire("b") == 0.0  # keys are independent


def test_refused_attempts_do_not_cost_tokens_and_refill_stops_at_the_burst() -> None:
    clock = _Clock()
    limiter = RateLimiter(2, clock)
    limiter.acquire("a")
    limiter.acquire("a")
    for _ in range(100):
        assert limiter.acquire("a") > 0
    clock.now += 30
    assert limiter.acquire("a") == 0.0
    clock.now += 3600
    assert [limiter.acquire("a") for _ in range(3)][:2] == [0.0, 0.0]
    assert limiter.acquire("a") > 0


def test_concurrent_attempts_never_spend_more_than_the_burst() -> None:
    limiter = RateLimiter(50, _Clock())
    allowed: list[float] = []

    def attempt() -> None:
        for _ in range(20):
            if limiter.acquire("shared") == 0.0:
                allowed.append(1.0)

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(allowed) == 50


def test_memory_is_bounded_by_forgetting_full_buckets_first() -> None:
    clock = _Clock()
    limiter = RateLimiter(3, clock)
    limiter.MAX_KEYS = 100
    limiter.acquire("busy")
    limiter.acquire("busy")
    for i in range(99):
        limiter.acquire(f"old-{i}")
    clock.now += 59  # "old-*" are not yet full again (a full refill takes 60 s)
    for _ in range(3):
        assert limiter.acquire("busy") == 0.0  # busy has spent all three
    clock.now += 2
    limiter.acquire("new-1")  # the cap is reached: the full "old-*" buckets go
    assert limiter.tracked_keys == 2
    assert limiter.acquire("busy") > 0  # what busy spent is remembered
    for i in range(1000):
        limiter.acquire(f"invented-{i}")
    assert limiter.tracked_keys <= 100


def test_the_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="per_minute"):
        RateLimiter(0)

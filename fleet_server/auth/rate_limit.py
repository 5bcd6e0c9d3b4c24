"""Attempt rate limits for the token endpoints: a token bucket per key, in memory.

Lockout (`throttle.py`) answers repeated *failures*; this answers volume. Every attempt
costs one token, right or wrong, so nobody can make the server hash passwords (argon2 is
deliberately expensive) as fast as they can send requests, and nobody can probe one
account from many addresses faster than a person would type.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """At most `per_minute` attempts per key per minute, in bursts of up to `per_minute`."""

    MAX_KEYS = 50_000

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.capacity = float(per_minute)
        self.refill_per_s = per_minute / 60.0
        self._clock = clock
        self._buckets: dict[Hashable, _Bucket] = {}
        # Sign-ins run on the thread pool; two attempts must not spend the same token.
        self._lock = threading.Lock()

    def acquire(self, key: Hashable) -> float:
        """Spend one attempt of `key`: 0 when allowed, else the seconds until one is free."""
        with self._lock:
            now = self._clock()
            bucket = self._buckets.get(key)
            if bucket is None:
                self._forget_full(now)
                bucket = self._buckets[key] = _Bucket(self.capacity, now)
            else:
                elapsed = max(0.0, now - bucket.updated)
                bucket.tokens = min(self.capacity, bucket.tokens + elapsed * self.refill_per_s)
                bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self.refill_per_s

    @property
    def tracked_keys(self) -> int:
        """Keys currently remembered (bounded by `MAX_KEYS`)."""
        return len(self._buckets)

    def _forget_full(self, now: float) -> None:
        # Bounded memory: a caller inventing usernames must not grow this without limit.
        if len(self._buckets) < self.MAX_KEYS:
            return
        refill_s = self.capacity / self.refill_per_s
        full = [k for k, b in self._buckets.items() if now - b.updated >= refill_s]
        for key in full:
            del self._buckets[key]
        if len(self._buckets) >= self.MAX_KEYS:
            # All recently used: forgetting the oldest half errs towards letting people in.
            oldest = sorted(self._buckets, key=lambda k: self._buckets[k].updated)
            for key in oldest[: len(oldest) // 2]:
                del self._buckets[key]

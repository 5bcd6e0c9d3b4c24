"""Login throttling: after repeated failures a key is locked out, with exponential backoff."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass


def lockout_seconds(failures: int, threshold: int, base_s: float, max_s: float) -> float:
    """How long to lock after `failures` consecutive failures (0 below the threshold).

    The threshold-th failure locks for `base_s`; each further one doubles it, up to `max_s`.
    """
    if failures < threshold:
        return 0.0
    return float(min(max_s, base_s * 2 ** min(failures - threshold, 32)))


@dataclass
class _Record:
    failures: int
    locked_until: float
    last_failure: float


class FailureThrottle:
    """Counts consecutive failures per key in memory and locks keys out after too many."""

    MAX_KEYS = 50_000

    def __init__(
        self,
        threshold: int,
        base_s: float,
        max_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = threshold
        self.base_s = base_s
        self.max_s = max_s
        self._clock = clock
        self._records: dict[Hashable, _Record] = {}
        # Sign-ins are handled on a thread pool; counting must not lose concurrent failures.
        self._lock = threading.Lock()

    def retry_after(self, key: Hashable) -> float:
        """Seconds `key` must still wait; 0 when it may try now."""
        with self._lock:
            record = self._records.get(key)
            if record is None:
                return 0.0
            return max(0.0, record.locked_until - self._clock())

    def record_failure(self, key: Hashable) -> float:
        """Count a failure; returns the lockout it causes (0 when none)."""
        with self._lock:
            now = self._clock()
            record = self._records.get(key)
            if record is None or now - record.last_failure > self.max_s * 2:
                # Failures long ago are forgotten, so an occasional typo never adds up.
                record = _Record(failures=0, locked_until=0.0, last_failure=now)
                self._forget_stale(now)
                self._records[key] = record
            record.failures += 1
            record.last_failure = now
            lock = lockout_seconds(record.failures, self.threshold, self.base_s, self.max_s)
            record.locked_until = now + lock
            return lock

    def record_success(self, key: Hashable) -> None:
        """Clear the key's failures."""
        with self._lock:
            self._records.pop(key, None)

    def _forget_stale(self, now: float) -> None:
        # Bounded memory: someone trying endless usernames must not grow this without limit.
        if len(self._records) < self.MAX_KEYS:
            return
        horizon = self.max_s * 2
        stale = [
            key
            for key, rec in self._records.items()
            if rec.locked_until <= now and now - rec.last_failure > horizon
        ]
        for key in stale:
            del self._records[key]
        if len(self._records) >= self.MAX_KEYS:
            oldest = sorted(self._records, key=lambda k: self._records[k].last_failure)
            for key in oldest[: len(oldest) // 2]:
                del self._records[key]

"""Simulated time: one clock that the world, the agents and the physics loop all read.

`SimClock(time_scale)` runs `time_scale` times faster than real time: its `monotonic()`
is simulated seconds since the clock started and its `wallclock()` the simulated date and
time (for time-of-day behaviour such as people flows and schedules). Logic never sleeps on
the wall clock; it asks the clock how long a simulated interval takes in real time
(`real_seconds`) and sleeps that. `ManualClock` moves only when told, for tests and for
runs that step as fast as the CPU allows.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """What every simulated component reads the time from."""

    def monotonic(self) -> float:
        """Simulated seconds since the clock started (never goes back)."""
        ...

    def wallclock(self) -> datetime:
        """The simulated date and time (timezone-aware)."""
        ...


def _check_start(start: datetime | None) -> datetime:
    if start is None:
        return datetime.now(UTC)
    if start.tzinfo is None:
        raise ValueError("start: must be timezone-aware (e.g. 2025-03-03T06:00:00+08:00)")
    return start


class SimClock:
    """Simulated time running `time_scale` times faster than real time."""

    def __init__(
        self,
        time_scale: float = 1.0,
        *,
        start: datetime | None = None,
        real_monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not math.isfinite(time_scale) or time_scale <= 0:
            raise ValueError(f"time_scale: must be a positive number, got {time_scale}")
        self.time_scale = float(time_scale)
        self.start = _check_start(start)
        self._real = real_monotonic
        self._real_origin = real_monotonic()

    def monotonic(self) -> float:
        """Simulated seconds since the clock started."""
        return (self._real() - self._real_origin) * self.time_scale

    def wallclock(self) -> datetime:
        """Simulated date and time."""
        return self.start + timedelta(seconds=self.monotonic())

    def real_seconds(self, sim_seconds: float) -> float:
        """How long `sim_seconds` of simulated time take in real time."""
        return sim_seconds / self.time_scale

    async def sleep(self, sim_seconds: float) -> None:
        """Sleep for a simulated interval (real sleep = sim_seconds / time_scale)."""
        await asyncio.sleep(max(0.0, self.real_seconds(sim_seconds)))


class ManualClock:
    """Simulated time that moves only by `advance` (deterministic tests, free-running runs)."""

    time_scale = math.inf

    def __init__(self, *, start: datetime | None = None) -> None:
        self.start = _check_start(start)
        self._now = 0.0

    def monotonic(self) -> float:
        """Simulated seconds since the clock started."""
        return self._now

    def wallclock(self) -> datetime:
        """Simulated date and time."""
        return self.start + timedelta(seconds=self._now)

    def advance(self, sim_seconds: float) -> None:
        """Move time forward."""
        if sim_seconds < 0:
            raise ValueError(f"sim_seconds: must not be negative, got {sim_seconds}")
        self._now += sim_seconds

    def real_seconds(self, sim_seconds: float) -> float:
        """A manual clock does not wait: zero real time."""
        return 0.0

    async def sleep(self, sim_seconds: float) -> None:
        """Advance by `sim_seconds` and yield to the event loop once."""
        self.advance(max(0.0, sim_seconds))
        await asyncio.sleep(0)

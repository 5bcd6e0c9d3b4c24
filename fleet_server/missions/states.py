"""The states of a mission's lifecycle (DESIGN §5)."""

from __future__ import annotations

from enum import StrEnum


class MissionState(StrEnum):
    """Where a mission is in its lifecycle."""

    PENDING = "pending"
    ASSIGNED = "assigned"
    DISPATCHED = "dispatched"
    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


TERMINAL_STATES = frozenset({MissionState.COMPLETED, MissionState.FAILED, MissionState.CANCELLED})

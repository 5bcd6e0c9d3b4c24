"""Why a valid mission cannot be compiled for a given site and robot."""

from __future__ import annotations

from typing import TypeVar

_T = TypeVar("_T")


class MissionCompileError(ValueError):
    """The mission is well-formed but does not fit the site or the robot.

    ``field`` is the dotted path of the mission field at fault (``checkpoints.2``,
    ``targets.0.room``, ``from``, ``required_capability``), as in
    :class:`missions.types.MissionValidationError`, so the API and the CLI can point at it.
    """

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.reason = message
        super().__init__(f"{field}: {message}")


def present(value: _T | None, what: str) -> _T:
    """``value``, which a validated mission always has; None means the model was bypassed."""
    if value is None:
        raise ValueError(f"{what}: missing (was the mission validated with parse_mission?)")
    return value

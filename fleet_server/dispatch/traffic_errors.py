"""Errors of traffic control."""

from __future__ import annotations


class TrafficError(Exception):
    """Base of traffic-control errors."""


class TrafficPlanError(TrafficError, ValueError):
    """A path that does not fit the site or the robot's state; names the node at fault."""


class ReservationConflict(TrafficError):
    """A robot would need a resource another robot holds where it cannot wait for it."""

    def __init__(self, robot: str, resource: str, holders: tuple[str, ...]) -> None:
        super().__init__(
            f"robot {robot!r} needs {resource} where it stands, held by {', '.join(holders)}"
        )
        self.robot = robot
        self.resource = resource
        self.holders = holders


class DeadlockUnresolved(TrafficError):
    """No robot of a waits-for cycle has a free holding point it can reach."""


class TrafficInvariantError(TrafficError, AssertionError):
    """The reservation table broke one of its invariants (checked in debug mode)."""

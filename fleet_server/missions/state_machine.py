"""The mission lifecycle as one state machine; every transition is stored as an event.

`pending → assigned → dispatched → active ⇄ paused → completed | failed | cancelled`
(DESIGN §5), plus cancel from any live state, fail from any state after assignment, and
back to `pending` from `assigned` (robot taken off before dispatch) and from `dispatched`
or `paused` when the robot is lost (offline past the grace period) and the mission is
given to another robot.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from fleet_server.db.base import utcnow
from fleet_server.db.models import Mission, MissionEvent
from fleet_server.missions.states import TERMINAL_STATES, MissionState

S = MissionState

LEGAL_TRANSITIONS: dict[MissionState, frozenset[MissionState]] = {
    S.PENDING: frozenset({S.ASSIGNED, S.CANCELLED}),
    S.ASSIGNED: frozenset({S.DISPATCHED, S.PENDING, S.FAILED, S.CANCELLED}),
    S.DISPATCHED: frozenset({S.ACTIVE, S.PENDING, S.FAILED, S.CANCELLED}),
    S.ACTIVE: frozenset({S.PAUSED, S.COMPLETED, S.FAILED, S.CANCELLED}),
    S.PAUSED: frozenset({S.ACTIVE, S.PENDING, S.FAILED, S.CANCELLED}),
    S.COMPLETED: frozenset(),
    S.FAILED: frozenset(),
    S.CANCELLED: frozenset(),
}


class IllegalTransition(Exception):
    """A transition the lifecycle does not allow; carries the mission's current state."""

    def __init__(
        self, mission_id: object, current_state: MissionState, requested_state: MissionState
    ) -> None:
        self.mission_id = mission_id
        self.current_state = current_state
        self.requested_state = requested_state
        super().__init__(
            f"mission {mission_id} is {current_state.value}; "
            f"it cannot go to {requested_state.value}"
        )


def is_legal(from_state: MissionState, to_state: MissionState) -> bool:
    """True when the lifecycle allows going from `from_state` to `to_state`."""
    return to_state in LEGAL_TRANSITIONS[from_state]


def start_lifecycle(
    mission: Mission, cause: str, actor: str, session: Session, at: datetime | None = None
) -> MissionEvent:
    """Add a new mission in `pending` together with the event that records its creation."""
    when = at or utcnow()
    mission.state = MissionState.PENDING
    mission.created_at = when
    mission.updated_at = when
    session.add(mission)
    session.flush()  # the event needs the mission's id
    event = MissionEvent(
        mission_id=mission.id,
        at=when,
        from_state=None,
        to_state=S.PENDING,
        cause=cause,
        actor=actor,
    )
    session.add(event)
    return event


def transition(
    mission: Mission,
    to_state: MissionState,
    cause: str,
    actor: str,
    session: Session,
    *,
    robot_id: int | None = None,
    at: datetime | None = None,
) -> MissionEvent:
    """Move `mission` to `to_state` and add the event; the caller commits.

    Raises `IllegalTransition` when the lifecycle forbids the move, and `ValueError` when
    a mission would be assigned without a robot. Going to `assigned` takes `robot_id`
    (or keeps one already set); going back to `pending` releases the robot.
    """
    current = MissionState(mission.state)
    to_state = MissionState(to_state)
    if not is_legal(current, to_state):
        raise IllegalTransition(mission.id, current, to_state)
    when = at or utcnow()
    if to_state is S.ASSIGNED:
        if robot_id is not None:
            mission.robot_id = robot_id
        if mission.robot_id is None:
            raise ValueError(f"mission {mission.id}: robot_id is required to assign it")
        mission.assigned_at = when
    elif to_state is S.PENDING:
        mission.robot_id = None
        mission.assigned_at = None
    elif to_state is S.ACTIVE and mission.started_at is None:
        mission.started_at = when
    if to_state in TERMINAL_STATES:
        mission.finished_at = when
    mission.state = to_state
    mission.updated_at = when
    event = MissionEvent(
        mission_id=mission.id,
        at=when,
        from_state=current,
        to_state=to_state,
        cause=cause,
        actor=actor,
    )
    session.add(event)
    return event

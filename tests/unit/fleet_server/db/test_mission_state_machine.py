"""The mission lifecycle: every legal and illegal transition, on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from fleet_server.db.models import Mission, MissionEvent, Robot, Site
from fleet_server.missions.state_machine import (
    IllegalTransition,
    is_legal,
    start_lifecycle,
    transition,
)
from fleet_server.missions.states import MissionState

# Written out from the lifecycle rather than taken from the module under test.
LEGAL = {
    ("pending", "assigned"),
    ("pending", "cancelled"),
    ("assigned", "dispatched"),
    ("assigned", "pending"),
    ("assigned", "failed"),
    ("assigned", "cancelled"),
    ("dispatched", "active"),
    ("dispatched", "failed"),
    ("dispatched", "cancelled"),
    ("dispatched", "pending"),  # robot lost before it started: reassign
    ("active", "paused"),
    ("active", "completed"),
    ("active", "failed"),
    ("active", "cancelled"),
    ("paused", "active"),
    ("paused", "failed"),
    ("paused", "cancelled"),
    ("paused", "pending"),  # robot lost mid-mission: reassign
}
STATES = [s.value for s in MissionState]
ALL_PAIRS = list(itertools.product(STATES, STATES))
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def site_and_robot(migrated_engine: Engine) -> Iterator[tuple[str, int]]:
    with Session(migrated_engine) as session:
        session.add(Site(id="ward", name="Ward 3", kind="hospital"))
        session.flush()  # no relationship tells the unit of work the robot needs the site
        robot = Robot(manufacturer="acme", serial_number="uv-1", kind="uv", site_id="ward")
        session.add(robot)
        session.commit()
        yield "ward", robot.id


def _mission_in(session: Session, site_robot: tuple[str, int], state: str) -> Mission:
    site_id, robot_id = site_robot
    before_assignment = state in ("pending",)
    mission = Mission(
        site_id=site_id,
        kind="patrol",
        state=MissionState(state),
        robot_id=None if before_assignment else robot_id,
        spec={"checkpoints": ["a", "b"]},
    )
    session.add(mission)
    session.flush()
    return mission


def _events(session: Session, mission: Mission) -> list[MissionEvent]:
    query = select(MissionEvent).where(MissionEvent.mission_id == mission.id)
    return list(session.scalars(query.order_by(MissionEvent.id)))


def test_eighteen_transitions_are_legal() -> None:
    assert len(LEGAL) == 18
    assert {(a, b) for a, b in ALL_PAIRS if is_legal(MissionState(a), MissionState(b))} == LEGAL


@pytest.mark.parametrize(("from_state", "to_state"), sorted(LEGAL))
def test_legal_transition_moves_and_records_an_event(
    session: Session, site_and_robot: tuple[str, int], from_state: str, to_state: str
) -> None:
    mission = _mission_in(session, site_and_robot, from_state)
    version = mission.version
    robot = site_and_robot[1] if to_state == "assigned" else None
    event = transition(
        mission, MissionState(to_state), "test", "alice", session, robot_id=robot, at=T0
    )
    session.flush()
    assert mission.state == to_state
    assert mission.version == version + 1
    [stored] = _events(session, mission)
    assert stored is event
    assert (stored.from_state, stored.to_state) == (from_state, to_state)
    assert (stored.cause, stored.actor, stored.at) == ("test", "alice", T0)


@pytest.mark.parametrize(
    ("from_state", "to_state"), [pair for pair in ALL_PAIRS if pair not in LEGAL]
)
def test_illegal_transition_is_refused_with_the_current_state(
    session: Session, site_and_robot: tuple[str, int], from_state: str, to_state: str
) -> None:
    mission = _mission_in(session, site_and_robot, from_state)
    with pytest.raises(IllegalTransition) as info:
        transition(mission, MissionState(to_state), "test", "alice", session)
    assert info.value.current_state == from_state
    assert info.value.requested_state == to_state
    assert from_state in str(info.value)
    session.flush()
    assert mission.state == from_state
    assert _events(session, mission) == []


def test_a_full_run_leaves_one_event_per_step_with_timestamps(
    session: Session, site_and_robot: tuple[str, int]
) -> None:
    site_id, robot_id = site_and_robot
    mission = Mission(site_id=site_id, kind="disinfection", spec={})
    start_lifecycle(mission, "api", "alice", session, at=T0)
    steps = ["assigned", "dispatched", "active", "paused", "active", "completed"]
    for minute, state in enumerate(steps, start=1):
        transition(
            mission,
            MissionState(state),
            f"step {minute}",
            "dispatcher",
            session,
            robot_id=robot_id,
            at=T0 + timedelta(minutes=minute),
        )
    session.flush()
    events = _events(session, mission)
    assert [(e.from_state, e.to_state) for e in events] == [
        (None, "pending"),
        ("pending", "assigned"),
        ("assigned", "dispatched"),
        ("dispatched", "active"),
        ("active", "paused"),
        ("paused", "active"),
        ("active", "completed"),
    ]
    assert mission.assigned_at == T0 + timedelta(minutes=1)
    assert mission.started_at == T0 + timedelta(minutes=3)  # the first activation, not the resume
    assert mission.finished_at == T0 + timedelta(minutes=6)
    assert mission.robot_id == robot_id


def test_assigning_needs_a_robot_and_unassigning_releases_it(
    session: Session, site_and_robot: tuple[str, int]
) -> None:
    mission = _mission_in(session, site_and_robot, "pending")
    with pytest.raises(ValueError, match="robot_id"):
        transition(mission, MissionState.ASSIGNED, "allocator", "system", session)
    assert mission.state == "pending"
    transition(
        mission, MissionState.ASSIGNED, "allocator", "system", session, robot_id=site_and_robot[1]
    )
    transition(mission, MissionState.PENDING, "robot went offline", "system", session)
    assert (mission.robot_id, mission.assigned_at) == (None, None)


def test_a_stale_copy_cannot_overwrite_a_newer_state(
    migrated_engine: Engine, site_and_robot: tuple[str, int]
) -> None:
    with Session(migrated_engine, expire_on_commit=False) as first:
        mission = _mission_in(first, site_and_robot, "active")
        first.commit()
        with Session(migrated_engine) as second:
            other = second.get_one(Mission, mission.id)
            transition(other, MissionState.PAUSED, "operator", "bob", second)
            second.commit()
        transition(mission, MissionState.COMPLETED, "robot", "system", first)
        with pytest.raises(StaleDataError):
            first.commit()
        first.rollback()
        assert first.get_one(Mission, mission.id).state == "paused"


def test_events_survive_a_new_session(
    migrated_engine: Engine, site_and_robot: tuple[str, int]
) -> None:
    with Session(migrated_engine) as session:
        mission = Mission(site_id=site_and_robot[0], kind="guidance", spec={"to": "cardiology"})
        start_lifecycle(mission, "api", "carol", session)
        transition(mission, MissionState.CANCELLED, "operator", "carol", session)
        session.commit()
        mission_id = mission.id
    with Session(migrated_engine) as session:
        stored = session.get_one(Mission, mission_id)
        assert stored.state == "cancelled"
        assert stored.spec == {"to": "cardiology"}
        assert stored.finished_at is not None and stored.finished_at.tzinfo is not None
        assert [e.to_state for e in _events(session, stored)] == ["pending", "cancelled"]

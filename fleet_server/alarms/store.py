"""Alarms in the database: applying queued changes in one transaction, listing, acknowledging."""

from __future__ import annotations

import base64
import binascii
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from fleet_server.alarms.model import AlarmChange, AlarmEvent, AlarmRecord, ClearAlarms, RaiseAlarm
from fleet_server.auth.audit import Actor, record_audit
from fleet_server.db.base import utcnow
from fleet_server.db.models import Alarm, Mission, Robot
from fleet_server.errors import Conflict, InvalidInput
from fleet_server.missions.states import MissionState

log = logging.getLogger(__name__)

LIVE_MISSION_STATES = (
    MissionState.ASSIGNED,
    MissionState.DISPATCHED,
    MissionState.ACTIVE,
    MissionState.PAUSED,
)
MAX_ALARM_ID = 2**63 - 1


def live_mission_of(session: Session, robot_id: int) -> Mission | None:
    """The robot's mission that is assigned and not finished, if any (the newest)."""
    return session.scalar(
        select(Mission)
        .where(Mission.robot_id == robot_id, Mission.state.in_(LIVE_MISSION_STATES))
        .order_by(Mission.assigned_at.desc())
        .limit(1)
    )


def _mission_of_order(session: Session, order_id: str | None) -> Mission | None:
    # Our orderIds are the mission id, or it followed by "-r<round>" / "-return".
    if not order_id or len(order_id) < 36:
        return None
    try:
        mission_id = uuid.UUID(order_id[:36])
    except ValueError:
        return None
    return session.get(Mission, mission_id)


def _uncleared(session: Session, dedup_key: str) -> list[Alarm]:
    return list(
        session.scalars(
            select(Alarm).where(Alarm.dedup_key == dedup_key, Alarm.cleared_at.is_(None))
        )
    )


def _raise(session: Session, change: RaiseAlarm) -> AlarmEvent | None:
    if change.dedup_key is not None and _uncleared(session, change.dedup_key):
        return None
    if change.unless_registered and change.robot is not None:
        robot = session.scalar(
            select(Robot).where(
                Robot.manufacturer == change.robot[0], Robot.serial_number == change.robot[1]
            )
        )
        if robot is not None and not robot.decommissioned:
            return None
    mission: Mission | None = None
    if change.only_with_live_mission:
        if change.robot_id is None:
            return None
        mission = live_mission_of(session, change.robot_id)
        if mission is None:
            return None
    elif change.order_id is not None:
        mission = _mission_of_order(session, change.order_id)
    row = Alarm(
        site_id=change.site_id if change.site_id is not None else getattr(mission, "site_id", None),
        robot_id=change.robot_id,
        manufacturer=change.robot[0] if change.robot else None,
        serial_number=change.robot[1] if change.robot else None,
        mission_id=mission.id if mission is not None else None,
        source=change.source,
        severity=change.severity,
        code=change.code,
        message=change.message if mission is None else f"{change.message} (mission {mission.id})",
        raised_at=change.at,
        dedup_key=change.dedup_key,
    )
    session.add(row)
    session.flush()
    return AlarmEvent("alarm.raised", AlarmRecord.of(row))


def _clear(session: Session, change: ClearAlarms) -> list[AlarmEvent]:
    events = []
    for row in _uncleared(session, change.dedup_key):
        row.cleared_at = change.at
        events.append(AlarmEvent("alarm.cleared", AlarmRecord.of(row)))
    session.flush()
    return events


def apply_change(session: Session, change: AlarmChange) -> list[AlarmEvent]:
    """Apply one queued change to the session (the caller commits)."""
    if isinstance(change, ClearAlarms):
        return _clear(session, change)
    event = _raise(session, change)
    return [] if event is None else [event]


def uncleared_keys(session: Session, prefix: str) -> list[tuple[str, str | None, str | None]]:
    """(dedup_key, manufacturer, serial number) of uncleared alarms whose key has `prefix`."""
    rows = session.execute(
        select(Alarm.dedup_key, Alarm.manufacturer, Alarm.serial_number).where(
            Alarm.cleared_at.is_(None), Alarm.dedup_key.startswith(prefix, autoescape=True)
        )
    )
    return [(key, m, s) for key, m, s in rows if key is not None]


@dataclass(frozen=True)
class AlarmFilter:
    """Which alarms to list; None means any."""

    sites: frozenset[str] | None = None
    """The sites the caller may see (None: all, including alarms of no site)."""
    site_id: str | None = None
    severity: str | None = None
    active: bool | None = None
    """True: not cleared yet; False: cleared."""
    acknowledged: bool | None = None
    robot: str | None = None
    """A serial number."""
    code: str | None = None


def encode_cursor(last_id: int) -> str:
    """An opaque position after alarm `last_id` in newest-first order."""
    return base64.urlsafe_b64encode(f"alarm:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The alarm id a cursor continues after; InvalidInput naming `cursor` otherwise."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        tag, _, number = raw.partition(":")
        last_id = int(number)
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("cursor", "not a cursor returned by this endpoint") from exc
    if tag != "alarm" or not 1 <= last_id <= MAX_ALARM_ID:
        raise InvalidInput("cursor", "not a cursor returned by this endpoint")
    return last_id


def _filtered(query: Select[Alarm], f: AlarmFilter) -> Select[Alarm]:
    if f.sites is not None:
        query = query.where(Alarm.site_id.in_(f.sites))
    if f.site_id is not None:
        query = query.where(Alarm.site_id == f.site_id)
    if f.severity is not None:
        query = query.where(Alarm.severity == f.severity)
    if f.active is not None:
        cleared = Alarm.cleared_at.is_(None)
        query = query.where(cleared if f.active else ~cleared)
    if f.acknowledged is not None:
        unacked = Alarm.acknowledged_at.is_(None)
        query = query.where(~unacked if f.acknowledged else unacked)
    if f.robot is not None:
        query = query.where(Alarm.serial_number == f.robot)
    if f.code is not None:
        query = query.where(Alarm.code == f.code)
    return query


def list_alarms(
    session: Session, f: AlarmFilter, *, cursor: str | None, limit: int
) -> tuple[Sequence[Alarm], str | None]:
    """A page of alarms, newest first, and the cursor of the next page (None: last page)."""
    query = _filtered(select(Alarm), f)
    if cursor is not None:
        query = query.where(Alarm.id < decode_cursor(cursor))
    rows = list(session.scalars(query.order_by(Alarm.id.desc()).limit(limit + 1)))
    if len(rows) > limit:
        return rows[:limit], encode_cursor(rows[limit - 1].id)
    return rows, None


def _already_acknowledged(alarm: Alarm) -> Conflict:
    when = alarm.acknowledged_at.isoformat() if alarm.acknowledged_at else "?"
    return Conflict(
        f"alarm {alarm.id} was acknowledged by {alarm.acknowledged_by} at {when}",
        extra={"acknowledged_by": alarm.acknowledged_by, "acknowledged_at": when},
    )


def acknowledge(session: Session, alarm: Alarm, actor: Actor, comment: str | None) -> AlarmEvent:
    """Acknowledge and commit; Conflict if someone already did (also at the same moment)."""
    if alarm.acknowledged_at is not None:
        raise _already_acknowledged(alarm)
    # A conditional UPDATE, so two people acknowledging at once cannot both succeed.
    done = session.execute(
        update(Alarm)
        .where(Alarm.id == alarm.id, Alarm.acknowledged_at.is_(None))
        .values(acknowledged_by=actor.name, acknowledged_at=utcnow(), comment=comment)
        .execution_options(synchronize_session=False)
    )
    if getattr(done, "rowcount", 0) != 1:
        session.rollback()
        session.refresh(alarm)
        raise _already_acknowledged(alarm)
    record_audit(
        session,
        actor,
        "alarm.acknowledge",
        target=f"alarm:{alarm.id}",
        site_id=alarm.site_id,
        detail={"code": alarm.code},
    )
    session.commit()
    session.refresh(alarm)
    return AlarmEvent("alarm.acknowledged", AlarmRecord.of(alarm))

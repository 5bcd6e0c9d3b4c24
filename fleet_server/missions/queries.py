"""Reading missions: filters, cursor pages, events; and creating them from a mission body."""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session

from fleet_server.db.models import Mission, MissionEvent, Robot
from fleet_server.missions.state_machine import start_lifecycle
from fleet_server.missions.states import MissionState
from missions.types import MissionSpec, dump_mission


class BadCursor(ValueError):
    """A cursor this server did not hand out."""


@dataclass(frozen=True)
class MissionFilter:
    """What to list; None means any."""

    sites: frozenset[str] | None = None
    site_id: str | None = None
    state: MissionState | None = None
    kind: str | None = None
    robot: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


def encode_cursor(mission: Mission) -> str:
    """An opaque position after `mission` in newest-first order."""
    raw = f"{mission.created_at.isoformat()}|{mission.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """Undo `encode_cursor`; BadCursor if it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, ident = raw.split("|", 1)
        return datetime.fromisoformat(stamp), uuid.UUID(ident)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise BadCursor("cursor: not a cursor from this API") from exc


def _filtered(query: Select[Mission], f: MissionFilter) -> Select[Mission]:
    if f.sites is not None:
        query = query.where(Mission.site_id.in_(f.sites))
    if f.site_id is not None:
        query = query.where(Mission.site_id == f.site_id)
    if f.state is not None:
        query = query.where(Mission.state == f.state)
    if f.kind is not None:
        query = query.where(Mission.kind == f.kind)
    if f.robot is not None:
        query = query.join(Robot, Robot.id == Mission.robot_id).where(
            Robot.serial_number == f.robot
        )
    if f.created_after is not None:
        query = query.where(Mission.created_at >= f.created_after)
    if f.created_before is not None:
        query = query.where(Mission.created_at < f.created_before)
    return query


def list_missions(
    session: Session, f: MissionFilter, *, limit: int, cursor: str | None
) -> tuple[list[Mission], str | None]:
    """A page of missions, newest first, and the cursor of the next page (None: last page)."""
    query = _filtered(select(Mission), f)
    if cursor is not None:
        at, ident = decode_cursor(cursor)
        query = query.where(
            or_(Mission.created_at < at, and_(Mission.created_at == at, Mission.id < ident))
        )
    rows = list(
        session.scalars(
            query.order_by(Mission.created_at.desc(), Mission.id.desc()).limit(limit + 1)
        )
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1]) if more and rows else None


def mission_events(session: Session, mission_id: uuid.UUID) -> list[MissionEvent]:
    """Every lifecycle event of a mission, oldest first."""
    return list(
        session.scalars(
            select(MissionEvent)
            .where(MissionEvent.mission_id == mission_id)
            .order_by(MissionEvent.at, MissionEvent.id)
        )
    )


def create_mission(
    session: Session, spec: MissionSpec, site_id: str, actor: str, *, schedule_id: int | None = None
) -> Mission:
    """Store a new pending mission with its creation event; the caller commits."""
    mission = Mission(
        site_id=site_id,
        kind=spec.kind,
        priority=spec.priority.value,
        spec=dump_mission(spec),
        created_by=actor,
        schedule_id=schedule_id,
    )
    start_lifecycle(mission, f"created by {actor}", actor, session)
    return mission

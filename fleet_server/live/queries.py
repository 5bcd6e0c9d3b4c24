"""The database reads of the live stream; each is blocking and runs in a worker thread.

The catch-up reads walk primary keys (`mission_events.id`, `alarms.id`) from a watermark,
so they stay cheap however long the history grows.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from fleet_server.db import Database
from fleet_server.db.models import Alarm, Mission, MissionEvent, Site
from fleet_server.live.directory import Directory
from fleet_server.live.entries import Entry, alarm_entry, mission_entry
from fleet_server.missions.states import TERMINAL_STATES

MAX_SNAPSHOT_MISSIONS = 1000
MAX_SNAPSHOT_ALARMS = 500
CATCH_UP_BATCH = 500


@dataclass(frozen=True)
class SiteRecords:
    """A site's active missions and open alarms (None: every site's)."""

    missions: list[Entry]
    alarms: list[Entry]


@dataclass(frozen=True)
class Watermarks:
    """The newest mission event and alarm ids seen."""

    mission_event_id: int
    alarm_id: int


def read_watermarks(db: Database) -> Watermarks:
    """Where the catch-up reads start: everything stored so far is in snapshots."""
    with db.session() as session:
        event_id = session.scalar(select(func.max(MissionEvent.id))) or 0
        alarm_id = session.scalar(select(func.max(Alarm.id))) or 0
    return Watermarks(int(event_id), int(alarm_id))


def read_site_records(db: Database, site_id: str | None, directory: Directory) -> SiteRecords:
    """Active missions (not yet completed, failed or cancelled) and unacknowledged alarms."""
    with db.session() as session:
        missions_query = select(Mission).where(Mission.state.not_in(sorted(TERMINAL_STATES)))
        alarms_query = select(Alarm).where(Alarm.acknowledged_at.is_(None))
        if site_id is not None:
            missions_query = missions_query.where(Mission.site_id == site_id)
            alarms_query = alarms_query.where(Alarm.site_id == site_id)
        missions = session.scalars(
            missions_query.order_by(Mission.created_at.desc()).limit(MAX_SNAPSHOT_MISSIONS)
        )
        mission_entries = [mission_entry(m, _robot(directory, m.robot_id), None) for m in missions]
        alarms = session.scalars(
            alarms_query.order_by(Alarm.raised_at.desc()).limit(MAX_SNAPSHOT_ALARMS)
        )
        alarm_entries = [alarm_entry(a, _robot(directory, a.robot_id)) for a in alarms]
    return SiteRecords(mission_entries, alarm_entries)


def read_mission_changes(
    db: Database, after_event_id: int, directory: Directory
) -> tuple[list[Entry], int]:
    """Missions moved by events newer than `after_event_id` (as they are now), and the new
    watermark. Catches what no runtime hook reported: creations and other processes' work."""
    with db.session() as session:
        rows = session.execute(
            select(MissionEvent.id, MissionEvent.cause, Mission)
            .join(Mission, Mission.id == MissionEvent.mission_id)
            .where(MissionEvent.id > after_event_id)
            .order_by(MissionEvent.id)
            .limit(CATCH_UP_BATCH)
        )
        entries = []
        watermark = after_event_id
        for event_id, cause, mission in rows:
            entries.append(mission_entry(mission, _robot(directory, mission.robot_id), cause))
            watermark = event_id
    return entries, watermark


def read_new_alarms(db: Database, after_id: int, directory: Directory) -> tuple[list[Entry], int]:
    """Alarms raised since `after_id`, and the new watermark."""
    with db.session() as session:
        alarms = list(
            session.scalars(
                select(Alarm).where(Alarm.id > after_id).order_by(Alarm.id).limit(CATCH_UP_BATCH)
            )
        )
        entries = [alarm_entry(a, _robot(directory, a.robot_id)) for a in alarms]
    return entries, (alarms[-1].id if alarms else after_id)


def site_exists(db: Database, site_id: str) -> bool:
    """Whether a site with that id is stored."""
    with db.session() as session:
        return session.get(Site, site_id) is not None


def _robot(directory: Directory, robot_id: int | None) -> tuple[str, str] | None:
    return None if robot_id is None else directory.key_of_robot_id.get(robot_id)

"""Schedules become missions: each occurrence within the horizon gets one pending mission.

A tick looks at every schedule. Each occurrence after the schedule's watermark
(`materialised_until`) and up to now + horizon gets a mission made the way
`POST /api/v1/missions` makes one (checked against the site's map, a creation event, an
audit record), with `earliest_start` at the occurrence. An occurrence already more than
`lateness` in the past (the server was not running at its time) is recorded as missed and
raised as an alarm instead: it is never run late. One row per occurrence, unique per
schedule and instant, is written in the transaction that makes its mission, so neither a
restarted server nor a second materialiser ticking at the same moment can make a second
mission for it; the watermark only moves forward.

Missions made ahead stay pending until their time. If the server was down when that time
came and went, `settle_missed` (run once at start, before the mission runtime) cancels
them and records their occurrences as missed, so they are not started late either.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from fleet_server.alarms.model import AlarmEvent, RaiseAlarm, Severity
from fleet_server.alarms.service import AlarmService
from fleet_server.alarms.store import apply_change
from fleet_server.auth.audit import Actor, record_audit
from fleet_server.db import Database
from fleet_server.db.models import Mission, Schedule, ScheduleOccurrence
from fleet_server.db.outage import OutageLog
from fleet_server.errors import InvalidInput
from fleet_server.missions.queries import create_mission
from fleet_server.missions.site_check import check_mission_against_site
from fleet_server.missions.state_machine import transition
from fleet_server.missions.states import MissionState
from fleet_server.schedules.recurrence import Recurrence, occurrences
from fleet_server.schedules.rules import parse_timezone
from fleet_server.settings import Settings
from fleet_server.sites.store import SiteStore
from missions.types import MissionValidationError, parse_mission

log = logging.getLogger(__name__)

SCHEDULER = Actor("scheduler")
OCCURRENCE_MISSED = "schedule.occurrence_missed"
OCCURRENCE_REFUSED = "schedule.occurrence_refused"
DOWN = "the fleet server was not running at its time"


@dataclass(frozen=True)
class ScheduleTiming:
    """How far ahead missions are made, when an occurrence counts as missed, how often."""

    horizon: timedelta
    lateness: timedelta
    tick_s: float

    @classmethod
    def of(cls, settings: Settings) -> ScheduleTiming:
        """The timing the settings ask for (`FLEET_SCHEDULE_*`)."""
        return cls(
            timedelta(seconds=settings.schedule_horizon_s),
            timedelta(seconds=settings.schedule_lateness_s),
            settings.schedule_tick_s,
        )


@dataclass
class TickReport:
    """What one tick or settling did, counted in occurrences."""

    materialised: int = 0
    missed: int = 0
    refused: int = 0


def _when(at: datetime, schedule: Schedule) -> str:
    return at.astimezone(parse_timezone(schedule.timezone)).isoformat(timespec="minutes")


def _missed_alarm(schedule: Schedule, missed: list[datetime], at: datetime) -> RaiseAlarm:
    first, last = min(missed), max(missed)
    if len(missed) == 1:
        what = f"occurrence {_when(first, schedule)} was missed"
    else:
        what = (
            f"{len(missed)} occurrences from {_when(first, schedule)} "
            f"to {_when(last, schedule)} were missed"
        )
    return RaiseAlarm(
        source="system",
        severity="warning",
        code=OCCURRENCE_MISSED,
        message=f"schedule {schedule.name!r}: {what} ({DOWN}); not run late",
        at=at,
        site_id=schedule.site_id,
        dedup_key=f"{OCCURRENCE_MISSED}:{schedule.id}:{first.astimezone(UTC).isoformat()}",
    )


def _refused_alarm(schedule: Schedule, occurs_at: datetime, why: str, at: datetime) -> RaiseAlarm:
    severity: Severity = "error"
    return RaiseAlarm(
        source="system",
        severity=severity,
        code=OCCURRENCE_REFUSED,
        message=(
            f"schedule {schedule.name!r}: no mission for {_when(occurs_at, schedule)}: "
            f"the template no longer fits the site ({why})"
        )[:2000],
        at=at,
        site_id=schedule.site_id,
        dedup_key=f"{OCCURRENCE_REFUSED}:{schedule.id}:{occurs_at.astimezone(UTC).isoformat()}",
    )


class ScheduleMaterialiser:
    """Makes the missions of every enabled schedule a horizon ahead, each occurrence once."""

    def __init__(
        self,
        db: Database,
        sites: SiteStore,
        timing: ScheduleTiming,
        *,
        announce_alarm: Callable[[AlarmEvent], None] = lambda _event: None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.db = db
        self.sites = sites
        self.timing = timing
        self.announce_alarm = announce_alarm
        """Told about each alarm raised, after its commit (thread-safe)."""
        self.missions_created: Callable[[], None] = lambda: None
        """Called after a tick made missions (the runtime's poke, once it runs)."""
        self._now = now
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- ticking -----------------------------------------------------------------------------

    def tick(self) -> TickReport:
        """Deal with every schedule's occurrences up to now + horizon (worker thread)."""
        now = self._now().astimezone(UTC)  # arithmetic in UTC: wall time skips hours
        report = TickReport()
        with self.db.session() as session:
            # One read for all; only schedules with something due get a transaction.
            enabled = session.scalars(
                select(Schedule).where(Schedule.enabled.is_(True)).order_by(Schedule.id)
            )
            ids = [s.id for s in enabled if self._has_due(s, now)]
        for schedule_id in ids:
            try:
                self._tick_schedule(schedule_id, now, report)
            except (IntegrityError, StaleDataError):
                # Another materialiser recorded these occurrences first; its missions stand.
                log.info("schedule %s: occurrences recorded concurrently elsewhere", schedule_id)
            except Exception:
                # One broken schedule must not hold up the others; it is retried next tick.
                log.exception("schedule %s: materialising failed", schedule_id)
        if report.materialised:
            self.missions_created()
        return report

    def _tick_schedule(self, schedule_id: int, now: datetime, report: TickReport) -> None:
        events: list[AlarmEvent] = []
        with self.db.session() as session:
            schedule = session.get(Schedule, schedule_id)
            # Disabled: enabling it again moves its watermark to that moment. Nothing due:
            # the watermark may stay, as nothing up to `end` needs dealing with.
            if schedule is None or not schedule.enabled or not self._due(schedule, now):
                return
            # Lock the row and read it again: a change being committed is waited for (on
            # PostgreSQL), not acted on half-done.
            session.refresh(schedule, with_for_update=True)
            since, end = self._window(schedule, now)
            due = self._due(schedule, now)
            if not schedule.enabled or not due:
                return
            recorded = set(
                session.scalars(
                    select(ScheduleOccurrence.occurs_at).where(
                        ScheduleOccurrence.schedule_id == schedule_id,
                        ScheduleOccurrence.occurs_at > since,
                        ScheduleOccurrence.occurs_at <= end,
                    )
                )
            )
            missed: list[datetime] = []
            for occurs_at in due:
                if occurs_at in recorded:
                    continue
                if occurs_at < now - self.timing.lateness:
                    _record(session, schedule_id, occurs_at, "missed", detail=DOWN)
                    missed.append(occurs_at)
                    continue
                refused = self._materialise(session, schedule, occurs_at)
                if refused is not None:
                    events += apply_change(
                        session, _refused_alarm(schedule, occurs_at, refused, now)
                    )
                    report.refused += 1
                else:
                    report.materialised += 1
            if missed:
                events += apply_change(session, _missed_alarm(schedule, missed, now))
                report.missed += len(missed)
            _advance(session, schedule_id, end)
            session.commit()
        for event in events:
            self.announce_alarm(event)

    def _window(self, schedule: Schedule, now: datetime) -> tuple[datetime, datetime]:
        """(after, up to): the occurrences a tick at `now` deals with."""
        return schedule.materialised_until or schedule.created_at, now + self.timing.horizon

    def _has_due(self, schedule: Schedule, now: datetime) -> bool:
        try:
            return bool(self._due(schedule, now))
        except Exception:
            # Its own transaction will meet the same fault and log it with the schedule.
            return True

    def _due(self, schedule: Schedule, now: datetime) -> list[datetime]:
        since, end = self._window(schedule, now)
        return occurrences(Recurrence.of(schedule), since, end) if since < end else []

    def _materialise(self, session: Session, schedule: Schedule, occurs_at: datetime) -> str | None:
        """Make the occurrence's mission; why not (the occurrence recorded as refused)."""
        body = {
            **schedule.mission_template,
            "site": schedule.site_id,
            "earliest_start": occurs_at.isoformat(),
        }
        if not body.get("name"):
            body["name"] = schedule.name
        try:
            spec = parse_mission(body)
            check_mission_against_site(self.sites, session, spec)
        except (MissionValidationError, InvalidInput) as exc:
            why = str(exc)
            _record(session, schedule.id, occurs_at, "refused", detail=why[:2000])
            log.warning("schedule %s: occurrence %s refused: %s", schedule.id, occurs_at, why)
            return why
        mission = create_mission(
            session, spec, schedule.site_id, SCHEDULER.name, schedule_id=schedule.id
        )
        record_audit(
            session,
            SCHEDULER,
            "mission.create",
            target=f"mission:{mission.id}",
            site_id=schedule.site_id,
            detail={
                "kind": mission.kind,
                "schedule_id": schedule.id,
                "occurs_at": occurs_at.isoformat(),
            },
        )
        _record(session, schedule.id, occurs_at, "materialised", mission_id=mission.id)
        return None

    # -- after a restart ---------------------------------------------------------------------

    def settle_missed(self) -> TickReport:
        """Cancel pending scheduled missions whose occurrence is more than `lateness` past,
        recording the occurrence as missed (call before the mission runtime starts)."""
        now = self._now().astimezone(UTC)  # arithmetic in UTC: wall time skips hours
        report = TickReport()
        events: list[AlarmEvent] = []
        with self.db.session() as session:
            rows = session.execute(
                select(ScheduleOccurrence, Mission, Schedule)
                .join(Mission, Mission.id == ScheduleOccurrence.mission_id)
                .join(Schedule, Schedule.id == ScheduleOccurrence.schedule_id)
                .where(
                    ScheduleOccurrence.status == "materialised",
                    Mission.state == MissionState.PENDING,
                    ScheduleOccurrence.occurs_at < now - self.timing.lateness,
                )
                .order_by(ScheduleOccurrence.schedule_id, ScheduleOccurrence.occurs_at)
            ).all()
            missed: dict[int, list[datetime]] = defaultdict(list)
            schedules: dict[int, Schedule] = {}
            for occurrence, mission, schedule in rows:
                occurrence.status = "missed"
                occurrence.detail = DOWN
                cause = (
                    f"schedule occurrence {_when(occurrence.occurs_at, schedule)} missed: {DOWN}"
                )
                transition(mission, MissionState.CANCELLED, cause, SCHEDULER.name, session)
                missed[schedule.id].append(occurrence.occurs_at)
                schedules[schedule.id] = schedule
            for schedule_id, moments in missed.items():
                events += apply_change(session, _missed_alarm(schedules[schedule_id], moments, now))
                report.missed += len(moments)
            session.commit()
        for event in events:
            self.announce_alarm(event)
        if report.missed:
            log.warning("%s scheduled missions missed their time; cancelled", report.missed)
        return report

    # -- running -----------------------------------------------------------------------------

    def wake(self) -> None:
        """Tick soon (thread-safe), e.g. after a schedule was created or changed."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            loop.call_soon_threadsafe(wake.set)

    async def run(self) -> None:
        """Tick every `tick_s` and on every wake, until cancelled."""
        self._loop = asyncio.get_running_loop()
        self._wake = wake = asyncio.Event()
        outage = OutageLog(log, "schedules")
        while True:
            try:
                await asyncio.to_thread(self.tick)
            except Exception as exc:
                outage.failed(exc, "schedule tick failed")
            else:
                outage.succeeded()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), self.timing.tick_s)
            wake.clear()


def _record(
    session: Session,
    schedule_id: int,
    occurs_at: datetime,
    status: str,
    *,
    mission_id: uuid.UUID | None = None,
    detail: str | None = None,
) -> None:
    session.add(
        ScheduleOccurrence(
            schedule_id=schedule_id,
            occurs_at=occurs_at,
            status=status,
            mission_id=mission_id,
            detail=detail,
        )
    )
    session.flush()  # a concurrent materialiser's row for the same instant fails here


def _advance(session: Session, schedule_id: int, until: datetime) -> None:
    """Move the watermark forward to `until` (never back), leaving `updated_at` alone."""
    session.execute(
        update(Schedule)
        .where(
            Schedule.id == schedule_id,
            or_(Schedule.materialised_until.is_(None), Schedule.materialised_until < until),
        )
        .values(materialised_until=until, updated_at=Schedule.updated_at)
        .execution_options(synchronize_session=False)
    )


@contextlib.asynccontextmanager
async def running_schedules(
    settings: Settings, db: Database, sites: SiteStore, alarms: AlarmService
) -> AsyncIterator[ScheduleMaterialiser]:
    """A materialiser that has settled what was missed while the server was down and then
    ticks until the context ends (enter it before the mission runtime starts)."""
    materialiser = ScheduleMaterialiser(
        db, sites, ScheduleTiming.of(settings), announce_alarm=alarms.announce_from_thread
    )
    await asyncio.to_thread(materialiser.settle_missed)
    task = asyncio.create_task(materialiser.run(), name="schedule-materialiser")
    try:
        yield materialiser
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

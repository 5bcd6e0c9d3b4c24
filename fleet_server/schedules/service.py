"""Storing schedules: every field checked (the mission template against its site's map)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from fleet_server.auth.audit import Actor, record_audit
from fleet_server.db.base import utcnow
from fleet_server.db.models import Mission, Schedule, ScheduleOccurrence, Site
from fleet_server.db.models.sites import DEFAULT_SITE_TIMEZONE
from fleet_server.errors import Conflict, InvalidInput
from fleet_server.missions.site_check import check_mission_against_site
from fleet_server.missions.state_machine import IllegalTransition, transition
from fleet_server.missions.states import MissionState
from fleet_server.schedules.recurrence import Recurrence, check_recurrence
from fleet_server.schedules.rules import (
    FIRST_YEAR,
    LAST_YEAR,
    RuleError,
    local_time,
    parse_rule,
    parse_timezone,
)
from fleet_server.sites.store import SiteStore
from missions.types import MissionValidationError, dump_mission, parse_mission

DEFAULT_TIMEZONE = DEFAULT_SITE_TIMEZONE
MissionCanceller = Callable[[Session, Mission, str], None] | None
"""Cancels a mission and commits (the mission runtime's `cancel`); None: a plain transition."""
TEMPLATE = "mission_template"
log = logging.getLogger(__name__)

PER_OCCURRENCE_FIELDS = ("earliest_start", "deadline")
"""Mission fields a template leaves out: each materialised mission gets its own."""


class TemplateInvalid(InvalidInput):
    """A mission template that `parse_mission` refuses; lists every offending field."""

    def __init__(self, exc: MissionValidationError) -> None:
        errors = [
            {"field": f"{TEMPLATE}.{e.path}" if e.path else TEMPLATE, "message": e.message}
            for e in exc.errors
        ] or [{"field": TEMPLATE, "message": str(exc)}]
        super().__init__(errors[0]["field"], errors[0]["message"])
        self.extra = {"errors": errors}


@dataclass(frozen=True)
class ScheduleFields:
    """Everything a schedule is made of, as a request gives it."""

    name: str
    site_id: str
    rrule: str
    timezone: str | None
    """None: the site's time zone."""
    dtstart: datetime | None
    mission_template: Mapping[str, Any]
    exdates: Sequence[datetime]
    until: datetime | None
    enabled: bool

    @classmethod
    def of(cls, schedule: Schedule) -> ScheduleFields:
        """The stored fields (exdates as local wall times)."""
        return cls(
            name=schedule.name,
            site_id=schedule.site_id,
            rrule=schedule.rrule,
            timezone=schedule.timezone,
            dtstart=None,
            mission_template=schedule.mission_template,
            exdates=[datetime.fromisoformat(str(d)) for d in schedule.exdates],
            until=schedule.until,
            enabled=schedule.enabled,
        )


def _in_years(field: str, value: datetime) -> None:
    # Far-off years overflow when moved between time zones; no schedule needs them.
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise InvalidInput(field, f"must lie within the years {FIRST_YEAR}..{LAST_YEAR}")


def checked_template(
    sites: SiteStore, session: Session, template: Mapping[str, Any], site_id: str
) -> dict[str, Any]:
    """The template as `parse_mission` accepts it, at the schedule's site; else InvalidInput."""
    body = dict(template)
    if body.setdefault("site", site_id) != site_id:
        raise InvalidInput(f"{TEMPLATE}.site", f"must be the schedule's site {site_id!r} or absent")
    for name in PER_OCCURRENCE_FIELDS:
        if body.get(name) is not None:
            raise InvalidInput(f"{TEMPLATE}.{name}", "set per occurrence; leave it out")
    try:
        spec = parse_mission(body)
    except MissionValidationError as exc:
        raise TemplateInvalid(exc) from exc
    check_mission_against_site(sites, session, spec, field_prefix=f"{TEMPLATE}.")
    dumped = dump_mission(spec)
    _refuse_nul(dumped, TEMPLATE)
    return dumped


def _refuse_nul(value: object, path: str) -> None:
    """PostgreSQL's JSONB cannot hold a NUL character; say where one is instead of failing."""
    if isinstance(value, str) and "\x00" in value:
        raise InvalidInput(path, "must not contain NUL characters")
    if isinstance(value, dict):
        for key, item in value.items():
            _refuse_nul(key, path)
            _refuse_nul(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _refuse_nul(item, f"{path}.{index}")


def checked_recurrence(fields: ScheduleFields, default_start: datetime) -> Recurrence:
    """The recurrence of `fields`; InvalidInput naming `rrule`, `timezone`, `exdates[i]` or
    `until` otherwise. `default_start` (local wall time) applies when the rule has no DTSTART."""
    for index, exdate in enumerate(fields.exdates):
        _in_years(f"exdates[{index}]", exdate)
    if fields.until is not None:
        _in_years("until", fields.until)
    if fields.dtstart is not None:
        _in_years("dtstart", fields.dtstart)
    try:
        tz = parse_timezone(fields.timezone or DEFAULT_TIMEZONE)
        given = fields.dtstart is not None
        if fields.dtstart is not None:
            default_start = local_time(fields.dtstart, tz)
        rule = parse_rule(fields.rrule, tz, default_start, start_given=given)
        exdates = frozenset(local_time(d, tz).replace(microsecond=0) for d in fields.exdates)
        recurrence = Recurrence(rule, tz, exdates, fields.until)
        check_recurrence(recurrence)
    except RuleError as exc:
        raise InvalidInput(exc.field, exc.message) from exc
    return recurrence


def _check_site_and_name(session: Session, fields: ScheduleFields, schedule_id: int | None) -> None:
    if session.get(Site, fields.site_id) is None:
        raise InvalidInput("site_id", f"no site {fields.site_id!r}")
    clash = session.scalar(
        select(Schedule.id).where(Schedule.site_id == fields.site_id, Schedule.name == fields.name)
    )
    if clash is not None and clash != schedule_id:
        raise Conflict(f"site {fields.site_id!r} already has a schedule named {fields.name!r}")


def _with_site_timezone(session: Session, fields: ScheduleFields) -> ScheduleFields:
    """`fields` with its time zone, the site's when none is given."""
    if fields.timezone is not None:
        return fields
    site = session.get(Site, fields.site_id)
    if site is None:
        raise InvalidInput("site_id", f"no site {fields.site_id!r}")
    return replace(fields, timezone=site.timezone)


def _store(
    session: Session, sites: SiteStore, schedule: Schedule, fields: ScheduleFields, start: datetime
) -> None:
    _check_site_and_name(session, fields, schedule.id)
    recurrence = checked_recurrence(fields, start)
    schedule.mission_template = checked_template(
        sites, session, fields.mission_template, fields.site_id
    )
    schedule.name = fields.name
    schedule.site_id = fields.site_id
    schedule.rrule = recurrence.rule.text
    schedule.timezone = recurrence.timezone.key
    schedule.exdates = [d.isoformat() for d in sorted(recurrence.exdates)]
    schedule.until = fields.until
    schedule.enabled = fields.enabled


def create_schedule(
    session: Session, sites: SiteStore, fields: ScheduleFields, actor: Actor
) -> Schedule:
    """Check and store a new schedule; a rule without DTSTART starts at today's midnight,
    and one without a time zone is in its site's."""
    fields = _with_site_timezone(session, fields)
    try:
        today = local_time(datetime.now(UTC), parse_timezone(fields.timezone or DEFAULT_TIMEZONE))
    except RuleError as exc:
        raise InvalidInput(exc.field, exc.message) from exc
    schedule = Schedule()
    _store(
        session, sites, schedule, fields, today.replace(hour=0, minute=0, second=0, microsecond=0)
    )
    session.add(schedule)
    session.flush()
    record_audit(
        session,
        actor,
        "schedule.create",
        target=f"schedule:{schedule.id}",
        site_id=schedule.site_id,
        detail={"name": schedule.name},
    )
    session.commit()
    return schedule


def update_schedule(
    session: Session,
    sites: SiteStore,
    schedule: Schedule,
    changes: Mapping[str, Any],
    actor: Actor,
    *,
    cancel: MissionCanceller = None,
) -> Schedule:
    """Apply `changes` (field name → new value) and check the result as a whole.

    A rule without DTSTART (and no `dtstart`) keeps the schedule's start. Missions made
    ahead for occurrences still to come are cancelled (with `cancel`, by default a plain
    transition); the materialiser makes the changed schedule's anew."""
    stored = Recurrence.of(schedule).rule
    current = ScheduleFields.of(schedule)
    if changes.get("dtstart") is not None:
        current = replace(current, rrule=stored.body())  # the stored text carries DTSTART
    fields = _with_site_timezone(session, replace(current, **dict(changes)))
    _store(session, sites, schedule, fields, stored.dtstart)
    withdrawn = _forget_made_ahead(session, schedule.id)
    # Occurrences from now on are the changed schedule's: the materialiser makes them anew.
    schedule.materialised_until = utcnow()
    record_audit(
        session,
        actor,
        "schedule.update",
        target=f"schedule:{schedule.id}",
        site_id=schedule.site_id,
        detail={"fields": sorted(changes), "withdrawn_missions": len(withdrawn)},
    )
    session.commit()
    _cancel_all(session, withdrawn, actor, cancel)
    return schedule


def delete_schedule(
    session: Session, schedule: Schedule, actor: Actor, *, cancel: MissionCanceller = None
) -> None:
    """Remove a schedule; missions it made stay (their schedule becomes null), except those
    made ahead and not yet due, which are cancelled."""
    withdrawn = _forget_made_ahead(session, schedule.id)
    record_audit(
        session,
        actor,
        "schedule.delete",
        target=f"schedule:{schedule.id}",
        site_id=schedule.site_id,
        detail={"name": schedule.name, "withdrawn_missions": len(withdrawn)},
    )
    session.delete(schedule)
    session.commit()
    _cancel_all(session, withdrawn, actor, cancel)


def _forget_made_ahead(session: Session, schedule_id: int) -> list[Mission]:
    """The pending missions made for occurrences still to come, their occurrence rows
    deleted (the caller commits, then cancels the missions)."""
    rows = session.execute(
        select(ScheduleOccurrence, Mission)
        .join(Mission, Mission.id == ScheduleOccurrence.mission_id)
        .where(
            ScheduleOccurrence.schedule_id == schedule_id,
            ScheduleOccurrence.status == "materialised",
            ScheduleOccurrence.occurs_at > utcnow(),
            Mission.state == MissionState.PENDING,
        )
    ).all()
    for occurrence, _mission in rows:
        session.delete(occurrence)
    return [mission for _occurrence, mission in rows]


def _cancel_all(
    session: Session, missions: list[Mission], actor: Actor, cancel: MissionCanceller
) -> None:
    for mission in missions:
        try:
            if cancel is None:
                transition(mission, MissionState.CANCELLED, "schedule changed", actor.name, session)
                session.commit()
            else:
                cancel(session, mission, actor.name)
        except (IllegalTransition, StaleDataError):
            # Someone else moved it on meanwhile (it was cancelled or started): leave it be.
            session.rollback()
            log.info("scheduled mission %s changed meanwhile; not withdrawn", mission.id)


def list_schedules(
    session: Session,
    visible: frozenset[str] | None,
    site_id: str | None = None,
    enabled: bool | None = None,
) -> list[Schedule]:
    """Schedules at the sites in `visible` (None: all), by site and name."""
    query = select(Schedule)
    if visible is not None:
        query = query.where(Schedule.site_id.in_(visible))
    if site_id is not None:
        query = query.where(Schedule.site_id == site_id)
    if enabled is not None:
        query = query.where(Schedule.enabled.is_(enabled))
    return list(session.scalars(query.order_by(Schedule.site_id, Schedule.name, Schedule.id)))


def list_occurrences(
    session: Session,
    schedule_id: int,
    status: str | None = None,
    before: datetime | None = None,
    limit: int = 100,
) -> list[tuple[ScheduleOccurrence, MissionState | None]]:
    """The schedule's recorded occurrences with their mission's state, newest first."""
    query = (
        select(ScheduleOccurrence, Mission.state)
        .outerjoin(Mission, Mission.id == ScheduleOccurrence.mission_id)
        .where(ScheduleOccurrence.schedule_id == schedule_id)
    )
    if status is not None:
        query = query.where(ScheduleOccurrence.status == status)
    if before is not None:
        query = query.where(ScheduleOccurrence.occurs_at < before)
    rows = session.execute(query.order_by(ScheduleOccurrence.occurs_at.desc()).limit(limit))
    return [(row, None if state is None else MissionState(state)) for row, state in rows]

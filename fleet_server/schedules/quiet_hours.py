"""A site's wall clock: its time zone, and quiet hours per zone (no speech, no spraying).

Quiet hours are stored on the site as a list of periods, each naming zones of the site's
map and a local start and end time (an end before the start runs past midnight), on every
day or on the weekdays given (the day the period starts). Before an order is compiled,
`QuietHoursBook.option` turns the periods into the compiler's `QuietHours`: windows in
seconds after now, for the days ahead. A spray mission whose every spray falls in quiet
hours is not dispatched until they end (`missions.compiler.spraying_silenced`).
"""

from __future__ import annotations

import threading
import time as monotonic_time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet_server.auth.audit import Actor, record_audit
from fleet_server.db import Database
from fleet_server.db.models import Site as SiteRow
from fleet_server.errors import InvalidInput
from fleet_server.schedules.rules import RuleError, parse_timezone
from fleet_server.sites.store import SiteMapUnavailable, SiteStore
from missions.compiler import QuietHours

Weekday = Literal["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
WEEKDAYS: tuple[Weekday, ...] = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
ClockTime = Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
ZoneName = Annotated[str, StringConstraints(min_length=1, max_length=200)]
LOOK_AHEAD = timedelta(days=8)
"""Windows handed to the compiler reach this far ahead (longer orders see no more)."""
CACHE_S = 5.0
MAX_PERIODS = 100


class QuietPeriod(BaseModel):
    """Zones that must stay quiet from `start` to `end`, local time at the site."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    zones: list[ZoneName] = Field(min_length=1, max_length=100)
    start: ClockTime = Field(examples=["22:00"])
    end: ClockTime = Field(examples=["06:00"], description="before start: the next day")
    days: list[Weekday] | None = Field(
        default=None, description="weekdays the period starts on (default: every day)"
    )

    def bounds(self) -> tuple[time, time]:
        """(start, end) as times of day."""
        return time.fromisoformat(self.start), time.fromisoformat(self.end)


class SiteCalendar(BaseModel):
    """A site's time zone and quiet hours, as the sites API shows and takes them."""

    timezone: str
    quiet_hours: list[QuietPeriod]


class SiteCalendarUpdate(BaseModel):
    """Changes to a site's calendar; fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    timezone: str | None = Field(
        default=None, min_length=1, max_length=64, examples=["Asia/Shanghai"]
    )
    quiet_hours: list[QuietPeriod] | None = Field(default=None, max_length=MAX_PERIODS)
    """The whole list (an empty one removes every period)."""


def calendar_of(row: SiteRow) -> SiteCalendar:
    """The stored calendar of a site row."""
    periods = [QuietPeriod.model_validate(p) for p in row.quiet_hours or []]
    return SiteCalendar(timezone=row.timezone, quiet_hours=periods)


def check_quiet_hours(periods: Sequence[QuietPeriod], zone_names: set[str]) -> None:
    """InvalidInput naming `quiet_hours[i].…` for a period the site's map cannot hold."""
    if len(periods) > MAX_PERIODS:
        raise InvalidInput("quiet_hours", f"at most {MAX_PERIODS} periods")
    for i, period in enumerate(periods):
        start, end = period.bounds()
        if start == end:
            raise InvalidInput(f"quiet_hours[{i}].end", "must differ from start")
        for j, zone in enumerate(period.zones):
            if zone not in zone_names:
                known = ", ".join(sorted(zone_names)[:20]) or "none"
                raise InvalidInput(
                    f"quiet_hours[{i}].zones[{j}]",
                    f"no zone {zone!r} in the site's map (zones: {known})",
                )


def set_site_calendar(
    session: Session, sites: SiteStore, row: SiteRow, actor: Actor, update: SiteCalendarUpdate
) -> SiteCalendar:
    """Check and store a new time zone and/or quiet hours, audited; InvalidInput naming
    `timezone` or `quiet_hours[i].…` otherwise."""
    if update.timezone is not None:
        try:
            row.timezone = parse_timezone(update.timezone).key
        except RuleError as exc:
            raise InvalidInput("timezone", exc.message) from exc
    if update.quiet_hours is not None:
        try:
            site = sites.load(session, row.id)
            zones = {z.name for level in site.levels for z in level.zones}
        except SiteMapUnavailable:
            zones = set()
        check_quiet_hours(update.quiet_hours, zones)
        row.quiet_hours = [p.model_dump(mode="json") for p in update.quiet_hours]
    record_audit(
        session,
        actor,
        "site.calendar",
        target=f"site:{row.id}",
        site_id=row.id,
        detail={"fields": sorted(update.model_dump(exclude_none=True))},
    )
    session.commit()
    return calendar_of(row)


def _day_windows(
    period: QuietPeriod, tz: ZoneInfo, day: date, now: datetime
) -> tuple[float, float] | None:
    if period.days is not None and WEEKDAYS[day.weekday()] not in period.days:
        return None
    start, end = period.bounds()
    begins = datetime.combine(day, start, tzinfo=tz)
    ends = datetime.combine(day + timedelta(days=1) if end < start else day, end, tzinfo=tz)
    # Through UTC: a local time in a skipped hour becomes the instant that really happens.
    span = (
        (begins.astimezone(UTC) - now).total_seconds(),
        (ends.astimezone(UTC) - now).total_seconds(),
    )
    return span if span[1] > 0 and span[0] < LOOK_AHEAD.total_seconds() else None


def quiet_windows(periods: Sequence[QuietPeriod], tz: ZoneInfo, now: datetime) -> QuietHours:
    """The compiler's quiet hours for an order starting at `now` (aware)."""
    today = now.astimezone(tz).date()
    windows: dict[str, list[tuple[float, float]]] = {}
    for period in periods:
        for offset in range(-1, LOOK_AHEAD.days + 1):
            span = _day_windows(period, tz, today + timedelta(days=offset), now)
            if span is None:
                continue
            for zone in period.zones:
                windows.setdefault(zone, []).append(span)
    return QuietHours({zone: tuple(sorted(spans)) for zone, spans in windows.items()})


@dataclass
class _Cached:
    at: float
    timezone: str
    periods: list[QuietPeriod]


class QuietHoursBook:
    """Each site's quiet hours, read from the database at most every few seconds."""

    def __init__(
        self,
        db: Database,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = monotonic_time.monotonic,
    ) -> None:
        self.db = db
        self._now = now
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._cache: dict[str, _Cached] = {}

    def forget(self, site_id: str) -> None:
        """Read the site again next time (after its calendar changed)."""
        with self._lock:
            self._cache.pop(site_id, None)

    def option(self, site_id: str) -> QuietHours | None:
        """The compile option for an order starting now at the site (None: no quiet hours)."""
        entry = self._entry(site_id)
        if entry is None or not entry.periods:
            return None
        return quiet_windows(entry.periods, parse_timezone(entry.timezone), self._now())

    def _entry(self, site_id: str) -> _Cached | None:
        now = self._monotonic()
        with self._lock:
            entry = self._cache.get(site_id)
        if entry is not None and now - entry.at < CACHE_S:
            return entry
        with self.db.session() as session:
            found: Any = session.execute(
                select(SiteRow.timezone, SiteRow.quiet_hours).where(SiteRow.id == site_id)
            ).one_or_none()
        if found is None:
            return None
        periods = [QuietPeriod.model_validate(p) for p in found.quiet_hours or []]
        entry = _Cached(now, found.timezone, periods)
        with self._lock:
            self._cache[site_id] = entry
        return entry

"""When a schedule's missions fall due: occurrences of its rule in its time zone.

The rule is expanded in local wall time (RFC 5545 §3.3.10) and each local time is then
placed in the time zone with RFC 5545 §3.3.5: a time that occurs twice (autumn) means the
first one, a time that does not exist (spring) is read with the offset before the gap, so
02:30 on a spring-forward night in Berlin happens at 03:30 CEST. Two local times that land
on the same instant (an hourly rule across the gap) count once.

dateutil walks a rule from its start and, when no time matches, on to the year 9999. Two
things keep that cheap: rules without COUNT that step by hours, days or weeks start again
just before the window asked about (whole steps later, so they match the same times), and
the window is moved forward by whole 400-year Gregorian cycles, which repeat weekdays,
dates and leap years exactly, to lie a few centuries before 9999, so a walk that finds
nothing ends soon.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr

from fleet_server.db.models import Schedule
from fleet_server.schedules.rules import LOCAL_FORMAT, Rule, RuleError, parse_rule, parse_timezone

GREGORIAN_CYCLE = timedelta(days=146_097)
"""400 years: the calendar repeats exactly (146,097 days is also a whole number of weeks)."""
LATEST_YEAR = 9998
"""The last year a moved window may reach (dateutil stops after 9999)."""
STEP = {"HOURLY": timedelta(hours=1), "DAILY": timedelta(days=1), "WEEKLY": timedelta(weeks=1)}
FIRST_WITHIN = timedelta(days=3653)
"""A rule must match at least once within ten years of its start."""
DST_MARGIN = timedelta(hours=3)
MAX_PREVIEW = 1000
PREVIEW_WITHIN = timedelta(days=36_525)
"""Previews look a century ahead at most."""


@dataclass(frozen=True)
class Recurrence:
    """Everything that decides when a schedule falls due."""

    rule: Rule
    timezone: ZoneInfo
    exdates: frozenset[datetime] = frozenset()
    """Local wall times that are skipped."""
    until: datetime | None = None
    """No occurrence after this instant (aware)."""

    @classmethod
    def of(cls, schedule: Schedule) -> Recurrence:
        """The recurrence of a stored schedule (whose fields were checked when stored)."""
        tz = parse_timezone(schedule.timezone)
        rule = parse_rule(schedule.rrule, tz, schedule.created_at.astimezone(tz))
        exdates = frozenset(datetime.fromisoformat(str(value)) for value in schedule.exdates)
        return cls(rule, tz, exdates, schedule.until)


def _dateutil_rule(rule: Rule, start: datetime, until: datetime | None) -> rrule:
    body = rule.body(UNTIL=until.strftime(LOCAL_FORMAT)) if until is not None else rule.body()
    try:
        built = rrulestr(f"RRULE:{body}", dtstart=start)
    except (ValueError, TypeError, IndexError, KeyError, OverflowError) as exc:
        raise RuleError("rrule", f"not a usable rule: {exc}") from exc
    if not isinstance(built, rrule):  # a bare RRULE line never makes a set
        raise RuleError("rrule", "not a single recurrence rule")
    return built


def _restart(rule: Rule, low: datetime) -> datetime:
    """A start whole steps later and before `low`, where that matches the same times."""
    freq, start = rule.part("FREQ") or "", rule.dtstart
    if rule.part("COUNT") is not None or freq not in STEP:
        return start
    step = STEP[freq] * int(rule.part("INTERVAL") or 1)
    steps = (low - start) // step - 1
    return start + step * steps if steps > 0 else start


def local_times(rule: Rule, low: datetime, high: datetime) -> Iterator[datetime]:
    """The rule's local wall times t with low ≤ t ≤ high, in order (naive in, naive out)."""
    high = min(high, datetime(LATEST_YEAR, 12, 31))
    if high < low or high < rule.dtstart:
        return
    own_until = rule.part("UNTIL")
    until = high
    if own_until is not None:
        until = min(until, datetime.strptime(own_until, LOCAL_FORMAT))
    shift = GREGORIAN_CYCLE * ((LATEST_YEAR - high.year) // 400)
    start = _restart(rule, low)
    counted = rule.part("COUNT") is not None
    moved = _dateutil_rule(rule, start + shift, None if counted else until + shift)
    for moment in moved.xafter(low + shift, inc=True):
        if moment > until + shift:
            return
        yield moment - shift


def _placed(local: datetime, tz: ZoneInfo) -> datetime:
    # fold=0 is RFC 5545 §3.3.5 for both the repeated and the skipped hour; the round trip
    # through UTC turns a skipped 02:30 into the 03:30 that really happens.
    return local.replace(tzinfo=tz).astimezone(UTC).astimezone(tz)


def _recurrence(schedule: Schedule | Recurrence) -> Recurrence:
    return schedule if isinstance(schedule, Recurrence) else Recurrence.of(schedule)


def _require_aware(**values: datetime) -> None:
    for name, value in values.items():
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{name} must carry a time zone")


def _candidates(rec: Recurrence, after: datetime, high: datetime) -> Iterator[datetime]:
    """Aware occurrences from a little before `after` up to local time `high` (instant order
    may swap inside a skipped hour)."""
    low = after.astimezone(rec.timezone).replace(tzinfo=None) - DST_MARGIN
    if rec.until is not None:
        high = min(high, rec.until.astimezone(rec.timezone).replace(tzinfo=None) + DST_MARGIN)
    for local in local_times(rec.rule, low, high):
        if local in rec.exdates:
            continue
        moment = _placed(local, rec.timezone)
        if rec.until is None or moment <= rec.until:
            yield moment


def occurrences(
    schedule: Schedule | Recurrence, after: datetime, before: datetime
) -> list[datetime]:
    """Every occurrence t with after < t ≤ before, oldest first, aware in the schedule's zone.

    Exdates (local wall times) are skipped and nothing falls after the schedule's `until`.
    `after` and `before` must be aware; ValueError otherwise.
    """
    _require_aware(after=after, before=before)
    rec = _recurrence(schedule)
    high = before.astimezone(rec.timezone).replace(tzinfo=None) + DST_MARGIN
    found: set[datetime] = set()
    for moment in _candidates(rec, after, high):
        if after < moment <= before:
            found.add(moment)
    return sorted(found)


def next_occurrences(
    schedule: Schedule | Recurrence, after: datetime, count: int
) -> list[datetime]:
    """The first `count` occurrences later than `after` (aware), in the schedule's zone."""
    _require_aware(after=after)
    if not 1 <= count <= MAX_PREVIEW:
        raise ValueError(f"count must be within 1..{MAX_PREVIEW}, got {count}")
    rec = _recurrence(schedule)
    high = after.astimezone(rec.timezone).replace(tzinfo=None) + PREVIEW_WITHIN
    found: set[datetime] = set()
    enough_at: datetime | None = None
    for moment in _candidates(rec, after, high):
        # Keep going a little past the count-th: a skipped hour can put an earlier instant
        # after a later local time.
        if enough_at is not None and moment.replace(tzinfo=None) > enough_at:
            break
        if moment > after:
            found.add(moment)
            if len(found) == count:
                enough_at = moment.replace(tzinfo=None) + DST_MARGIN
    return sorted(found)[:count]


def check_recurrence(rec: Recurrence) -> None:
    """RuleError naming `rrule` unless dateutil takes the rule and it matches within ten
    years of its start (a rule like the 30th of February never does)."""
    rule = rec.rule
    _dateutil_rule(rule, rule.dtstart, None)
    first = next(local_times(rule, rule.dtstart, rule.dtstart + FIRST_WITHIN), None)
    if first is None:
        raise RuleError("rrule", "matches no time within ten years of DTSTART")

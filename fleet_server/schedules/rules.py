"""Reading RFC 5545 recurrence rules strictly, before python-dateutil ever sees them.

dateutil is lenient (it takes INTERVAL=0, BYMONTH=13, BYEASTER …) and some of what it
takes never ends; so every rule part is checked here against RFC 5545 §3.3.10, and only
then handed to `dateutil.rrule.rrulestr`. A rule is stored normalised as two lines,
`DTSTART:<local time>` and `RRULE:<parts in a fixed order>`; local times are wall-clock
times in the schedule's time zone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

MAX_RULE_CHARS = 2000
MAX_INTERVAL = 1000
MAX_COUNT = 1000
FIRST_YEAR, LAST_YEAR = 2000, 2200
FREQUENCIES = ("YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY")
LOCAL_FORMAT = "%Y%m%dT%H%M%S"
PART_ORDER = (
    "FREQ",
    "INTERVAL",
    "COUNT",
    "UNTIL",
    "BYMONTH",
    "BYWEEKNO",
    "BYYEARDAY",
    "BYMONTHDAY",
    "BYDAY",
    "BYHOUR",
    "BYMINUTE",
    "BYSECOND",
    "BYSETPOS",
    "WKST",
)
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_BYDAY = re.compile(r"([+-]?)(\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)")
_DATE_TIME = re.compile(r"(\d{8})(?:T(\d{6})(Z?))?")
_INT = re.compile(r"[+-]?\d{1,4}")
# (part, lowest, highest, may be negative); RFC 5545 §3.3.10 value ranges, leap second
# 60 left out (Python has none).
_NUMBER_LISTS = (
    ("BYSECOND", 0, 59, False),
    ("BYMINUTE", 0, 59, False),
    ("BYHOUR", 0, 23, False),
    ("BYMONTHDAY", 1, 31, True),
    ("BYYEARDAY", 1, 366, True),
    ("BYWEEKNO", 1, 53, True),
    ("BYMONTH", 1, 12, False),
    ("BYSETPOS", 1, 366, True),
)
# RFC 5545 §3.3.10: which BYxxx parts each frequency may use.
_NOT_WITH = {
    "BYWEEKNO": ("MONTHLY", "WEEKLY", "DAILY", "HOURLY"),
    "BYYEARDAY": ("MONTHLY", "WEEKLY", "DAILY"),
    "BYMONTHDAY": ("WEEKLY",),
}


class RuleError(ValueError):
    """A recurrence that cannot be used; `field` names the request field it came from."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Rule:
    """A checked recurrence: where it starts (local wall time) and its RRULE parts."""

    dtstart: datetime
    parts: tuple[tuple[str, str], ...]

    @property
    def text(self) -> str:
        """The normalised two-line form that is stored and shown."""
        return f"DTSTART:{self.dtstart.strftime(LOCAL_FORMAT)}\nRRULE:{self.body()}"

    def part(self, name: str) -> str | None:
        """The value of one part, if given."""
        return dict(self.parts).get(name)

    def body(self, **replace: str | None) -> str:
        """The RRULE value, with parts replaced (a None value removes the part)."""
        values = dict(self.parts)
        for name, value in replace.items():
            if value is None:
                values.pop(name, None)
            else:
                values[name] = value
        return ";".join(f"{name}={values[name]}" for name in PART_ORDER if name in values)


def parse_timezone(name: str) -> ZoneInfo:
    """The IANA time zone called `name`; RuleError naming `timezone` otherwise."""
    if not re.fullmatch(r"[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+){0,3}", name) or len(name) > 64:
        raise RuleError("timezone", f"{name!r} is not an IANA time zone name like Asia/Shanghai")
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError, OSError) as exc:  # ZoneInfoNotFoundError is a KeyError
        raise RuleError("timezone", f"{name!r} is not an IANA time zone") from exc


def local_time(value: datetime, tz: ZoneInfo) -> datetime:
    """The wall-clock time (naive) in `tz` of an aware time; a naive one is taken as it is."""
    if value.tzinfo is None:
        return value
    return value.astimezone(tz).replace(tzinfo=None)


def _error(message: str) -> RuleError:
    return RuleError("rrule", message)


def _parse_date_time(text: str, tz: ZoneInfo, what: str, *, end_of_day: bool) -> datetime:
    match = _DATE_TIME.fullmatch(text)
    if match is None:
        raise _error(f"{what} {text!r} is not YYYYMMDD or YYYYMMDDTHHMMSS[Z]")
    day, clock, utc = match.groups()
    try:
        if clock is None:
            value = datetime.strptime(day, "%Y%m%d")
            return value + timedelta(hours=23, minutes=59, seconds=59) if end_of_day else value
        value = datetime.strptime(day + "T" + clock, LOCAL_FORMAT)
    except ValueError as exc:
        raise _error(f"{what} {text!r} is not a valid date and time") from exc
    return local_time(value.replace(tzinfo=UTC), tz) if utc else value


def _split_lines(text: str, tz: ZoneInfo) -> tuple[datetime | None, str]:
    """(DTSTART if given, the RRULE value) from a rule in any of the accepted forms."""
    start: datetime | None = None
    body: str | None = None
    for line in (part.strip() for part in text.replace("\r", "\n").split("\n")):
        if not line:
            continue
        name, colon, value = line.partition(":")
        if not colon:
            name, value = "RRULE", line  # a bare FREQ=…;… line
        prop, _, params = name.partition(";")
        prop = prop.strip().upper()
        if prop == "DTSTART":
            if start is not None:
                raise _error("DTSTART is given twice")
            tzid = params.partition("TZID=")[2] if params else ""
            if params and tzid != tz.key:
                raise _error(f"DTSTART;{params} must not differ from the schedule's timezone")
            start = _parse_date_time(value.strip(), tz, "DTSTART", end_of_day=False)
        elif prop == "RRULE":
            if body is not None:
                raise _error("give exactly one RRULE")
            body = value.strip()
        else:
            raise _error(f"{prop} is not allowed here (exdates and until are fields of their own)")
    if body is None:
        raise _error("no RRULE given, e.g. FREQ=DAILY;BYHOUR=22")
    return start, body


def _numbers(name: str, value: str, low: int, high: int, signed: bool) -> None:
    for item in value.split(","):
        if not _INT.fullmatch(item):
            raise _error(f"{name}: {item!r} is not a number")
        number = int(item)
        if not (low <= abs(number) <= high and (signed or number >= 0)):
            sign = "±" if signed else ""
            raise _error(f"{name}: {item} is outside {sign}{low}..{high}")


def _check_byday(value: str, freq: str, parts: dict[str, str]) -> None:
    for item in value.split(","):
        match = _BYDAY.fullmatch(item)
        if match is None:
            raise _error(f"BYDAY: {item!r} is not a weekday like MO or an ordinal like -1FR")
        if match.group(2) is None:
            if match.group(1):
                raise _error(f"BYDAY: {item!r}: a sign needs an ordinal, e.g. -1FR")
            continue
        ordinal = int(match.group(2))
        if freq not in ("MONTHLY", "YEARLY") or "BYWEEKNO" in parts:
            raise _error(f"BYDAY: {item}: ordinals only with FREQ=MONTHLY or YEARLY (no BYWEEKNO)")
        limit = 5 if freq == "MONTHLY" or "BYMONTH" in parts else 53
        if not 1 <= ordinal <= limit:
            raise _error(f"BYDAY: {item}: the ordinal must be within ±1..{limit}")


def _check_parts(parts: dict[str, str]) -> None:
    freq = parts.get("FREQ")
    if freq is None:
        raise _error("FREQ is required")
    if freq not in FREQUENCIES:
        raise _error(f"FREQ={freq}: use one of {', '.join(FREQUENCIES)} (at most hourly)")
    for name, low, high, signed in _NUMBER_LISTS:
        if name in parts:
            _numbers(name, parts[name], low, high, signed)
    for name, frequencies in _NOT_WITH.items():
        if name in parts and freq in frequencies:
            raise _error(f"{name} cannot be used with FREQ={freq} (RFC 5545 §3.3.10)")
    if "INTERVAL" in parts:
        _numbers("INTERVAL", parts["INTERVAL"], 1, MAX_INTERVAL, False)
        if "," in parts["INTERVAL"]:
            raise _error("INTERVAL takes one number")
    if "COUNT" in parts:
        _numbers("COUNT", parts["COUNT"], 1, MAX_COUNT, False)
        if "," in parts["COUNT"] or "UNTIL" in parts:
            raise _error("COUNT takes one number and cannot be combined with UNTIL")
    if "BYDAY" in parts:
        _check_byday(parts["BYDAY"], freq, parts)
    if "BYSETPOS" in parts and not any(p.startswith("BY") and p != "BYSETPOS" for p in parts):
        raise _error("BYSETPOS needs another BYxxx part")
    if "WKST" in parts and parts["WKST"] not in WEEKDAYS:
        raise _error(f"WKST={parts['WKST']}: use one of {', '.join(WEEKDAYS)}")


def _parse_parts(body: str, tz: ZoneInfo) -> dict[str, str]:
    parts: dict[str, str] = {}
    for item in body.rstrip(";").split(";"):
        name, equals, value = item.partition("=")
        name, value = name.strip().upper(), value.strip().upper()
        if not equals or not value:
            raise _error(f"{item!r} is not NAME=VALUE")
        if name not in PART_ORDER:
            raise _error(f"unknown rule part {name} (RFC 5545 §3.3.10 parts only)")
        if name in parts:
            raise _error(f"{name} is given twice")
        parts[name] = value
    _check_parts(parts)
    if "UNTIL" in parts:
        until = _parse_date_time(parts["UNTIL"], tz, "UNTIL", end_of_day=True)
        parts["UNTIL"] = until.strftime(LOCAL_FORMAT)
    return parts


def parse_rule(
    text: str, tz: ZoneInfo, default_start: datetime, *, start_given: bool = False
) -> Rule:
    """Check a recurrence (`DTSTART`/`RRULE` lines or a bare `FREQ=…` line).

    `default_start` (local wall time) applies when the text has no DTSTART; with
    `start_given` (the start came in a field of its own) a DTSTART line is refused. A UTC
    UNTIL (RFC 5545 requires UTC when DTSTART has a time zone) becomes local wall time.
    Raises RuleError naming `rrule` (or `dtstart`).
    """
    if len(text) > MAX_RULE_CHARS:
        raise _error(f"longer than {MAX_RULE_CHARS} characters")
    start, body = _split_lines(text, tz)
    if start is not None and start_given:
        raise RuleError("dtstart", "give the start here or as a DTSTART line in rrule, not both")
    start = start or default_start.replace(microsecond=0)
    if not FIRST_YEAR <= start.year <= LAST_YEAR:
        field = "dtstart" if start_given else "rrule"
        raise RuleError(field, f"DTSTART must lie within the years {FIRST_YEAR}..{LAST_YEAR}")
    parts = _parse_parts(body, tz)
    return Rule(start, tuple((name, parts[name]) for name in PART_ORDER if name in parts))

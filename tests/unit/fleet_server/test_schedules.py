"""Schedules: strict RFC 5545 rules, and occurrences across exdates, until and DST changes."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr

from fleet_server.db.models import Schedule
from fleet_server.schedules.recurrence import (
    Recurrence,
    check_recurrence,
    next_occurrences,
    occurrences,
)
from fleet_server.schedules.rules import RuleError, parse_rule, parse_timezone

BERLIN = ZoneInfo("Europe/Berlin")
SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2025, 3, 1)


def _rec(text: str, tz: ZoneInfo = BERLIN, **kwargs: object) -> Recurrence:
    return Recurrence(parse_rule(text, tz, START), tz, **kwargs)  # type: ignore[arg-type]


def _utc(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def _hours_utc(moments: list[datetime]) -> list[str]:
    return [m.astimezone(UTC).strftime("%m-%d %H:%M") for m in moments]


# -- reading rules ---------------------------------------------------------------------------


def test_a_bare_rule_starts_at_the_default_and_is_stored_normalised() -> None:
    rule = parse_rule("byhour=22;freq=daily;", BERLIN, datetime(2025, 3, 1, 0, 0, 0, 123))
    assert rule.text == "DTSTART:20250301T000000\nRRULE:FREQ=DAILY;BYHOUR=22"
    assert parse_rule(rule.text, BERLIN, datetime(2030, 1, 1)) == rule


def test_dtstart_line_and_utc_until_become_local_wall_time() -> None:
    text = "DTSTART;TZID=Europe/Berlin:20250601T220000\nRRULE:FREQ=DAILY;UNTIL=20250610T200000Z"
    rule = parse_rule(text, BERLIN, START)
    assert rule.dtstart == datetime(2025, 6, 1, 22)
    assert rule.part("UNTIL") == "20250610T220000"  # 20:00 UTC is 22:00 CEST
    assert parse_rule("FREQ=DAILY;UNTIL=20250610", BERLIN, START).part("UNTIL") == (
        "20250610T235959"
    )


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "no RRULE"),
        ("FREQ=MINUTELY", "at most hourly"),
        ("FREQ=DAILY;INTERVAL=0", "INTERVAL: 0 is outside 1..1000"),
        ("FREQ=DAILY;BYMONTH=13", "BYMONTH: 13 is outside 1..12"),
        ("FREQ=DAILY;BYHOUR=24", "BYHOUR: 24"),
        ("FREQ=DAILY;BYMONTHDAY=0", "BYMONTHDAY: 0"),
        ("FREQ=DAILY;BYYEARDAY=400", "BYYEARDAY"),
        ("FREQ=DAILY;BYWEEKNO=5", "BYWEEKNO cannot be used with FREQ=DAILY"),
        ("FREQ=WEEKLY;BYMONTHDAY=3", "BYMONTHDAY cannot be used with FREQ=WEEKLY"),
        ("FREQ=DAILY;BYDAY=1MO", "ordinals only"),
        ("FREQ=MONTHLY;BYDAY=+6MO", "±1..5"),
        ("FREQ=MONTHLY;BYDAY=+MO", "a sign needs an ordinal"),
        ("FREQ=DAILY;BYDAY=XX", "not a weekday"),
        ("FREQ=DAILY;COUNT=5;UNTIL=20260101T000000", "cannot be combined with UNTIL"),
        ("FREQ=DAILY;COUNT=5000", "COUNT: 5000"),
        ("FREQ=DAILY;BYSETPOS=1", "BYSETPOS needs another"),
        ("FREQ=DAILY;BYEASTER=0", "unknown rule part BYEASTER"),
        ("FREQ=DAILY;FREQ=WEEKLY", "FREQ is given twice"),
        ("FREQ=DAILY;;BYHOUR=1", "is not NAME=VALUE"),
        ("FREQ=DAILY;WKST=XY", "WKST=XY"),
        ("FREQ=DAILY;UNTIL=2025", "UNTIL '2025' is not YYYYMMDD"),
        ("EXDATE:20250101T000000\nRRULE:FREQ=DAILY", "EXDATE is not allowed"),
        ("RRULE:FREQ=DAILY\nRRULE:FREQ=WEEKLY", "exactly one RRULE"),
        ("DTSTART:19990101T000000\nRRULE:FREQ=DAILY", "within the years 2000..2200"),
        ("DTSTART;TZID=Asia/Tokyo:20250101T000000\nRRULE:FREQ=DAILY", "timezone"),
        ("DTSTART:20250230T000000\nRRULE:FREQ=DAILY", "not a valid date"),
    ],
)
def test_bad_rules_are_refused_naming_rrule_and_the_part(text: str, says: str) -> None:
    with pytest.raises(RuleError) as caught:
        parse_rule(text, BERLIN, START)
    assert caught.value.field == "rrule"
    assert says in caught.value.message


def test_a_start_in_its_own_field_and_in_the_rule_is_refused_naming_dtstart() -> None:
    with pytest.raises(RuleError) as caught:
        parse_rule("DTSTART:20250101T000000\nRRULE:FREQ=DAILY", BERLIN, START, start_given=True)
    assert caught.value.field == "dtstart"


@pytest.mark.parametrize("name", ["Mars/Olympus", "../etc/passwd", "", "Europe", "UTC;x"])
def test_unknown_time_zones_are_refused_naming_timezone(name: str) -> None:
    with pytest.raises(RuleError) as caught:
        parse_timezone(name)
    assert caught.value.field == "timezone"


def test_rules_that_never_match_are_refused_quickly() -> None:
    for text in (
        "FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=30",
        "FREQ=YEARLY;INTERVAL=4;BYMONTHDAY=29;BYMONTH=2",
    ):
        started = time.perf_counter()
        with pytest.raises(RuleError, match="matches no time within ten years"):
            check_recurrence(_rec(text))
        # dateutil alone walks to the year 9999 here (about 10 s for the hourly rule).
        assert time.perf_counter() - started < 3.0
    check_recurrence(_rec("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29"))  # leap days do come


# -- occurrences -----------------------------------------------------------------------------


def test_daily_at_22_keeps_the_wall_clock_across_both_dst_changes() -> None:
    rec = _rec("FREQ=DAILY;BYHOUR=22")
    spring = occurrences(rec, _utc(2025, 3, 28), _utc(2025, 4, 1))
    assert [m.hour for m in spring] == [22, 22, 22, 22]
    assert _hours_utc(spring) == ["03-28 21:00", "03-29 21:00", "03-30 20:00", "03-31 20:00"]
    autumn = occurrences(rec, _utc(2025, 10, 25), _utc(2025, 10, 27))
    assert _hours_utc(autumn) == ["10-25 20:00", "10-26 21:00"]
    assert all(m.tzinfo == BERLIN for m in spring + autumn)


def test_a_skipped_local_time_happens_once_with_the_offset_before_the_gap() -> None:
    # RFC 5545 §3.3.5: 02:30 does not exist on 30 March 2025 in Berlin; it is read as
    # 02:30+01:00, which is 03:30 CEST.
    at_0230 = occurrences(
        _rec("FREQ=DAILY;BYHOUR=2;BYMINUTE=30"), _utc(2025, 3, 29), _utc(2025, 3, 31)
    )
    assert [m.isoformat() for m in at_0230] == [
        "2025-03-29T02:30:00+01:00",
        "2025-03-30T03:30:00+02:00",
    ]
    hourly = occurrences(
        _rec("FREQ=HOURLY;BYHOUR=1,2,3,4"), _utc(2025, 3, 29, 22), _utc(2025, 3, 30, 6)
    )
    # 02:00 falls into the gap and lands on 03:00 CEST: one mission, not two.
    assert [m.isoformat() for m in hourly] == [
        "2025-03-30T01:00:00+01:00",
        "2025-03-30T03:00:00+02:00",
        "2025-03-30T04:00:00+02:00",
    ]


def test_a_repeated_local_time_means_its_first_occurrence() -> None:
    hourly = occurrences(
        _rec("FREQ=HOURLY;BYHOUR=1,2,3"), _utc(2025, 10, 25, 22), _utc(2025, 10, 26, 6)
    )
    assert [m.isoformat() for m in hourly] == [
        "2025-10-26T01:00:00+02:00",
        "2025-10-26T02:00:00+02:00",  # not 02:00+01:00, an hour later
        "2025-10-26T03:00:00+01:00",
    ]


def test_exdates_and_until_remove_occurrences() -> None:
    skipped = frozenset({datetime(2025, 3, 3, 22)})
    until = datetime(2025, 3, 5, 21, tzinfo=UTC)  # 22:00 in Berlin on the 5th
    rec = _rec("FREQ=DAILY;BYHOUR=22", exdates=skipped, until=until)
    found = occurrences(rec, _utc(2025, 3, 1), _utc(2025, 3, 31))
    assert [m.day for m in found] == [1, 2, 4, 5]
    assert next_occurrences(rec, _utc(2025, 3, 5, 21), 3) == []


def test_after_is_exclusive_and_before_inclusive() -> None:
    rec = _rec("FREQ=DAILY;BYHOUR=22")
    at = datetime(2025, 3, 2, 22, tzinfo=BERLIN)
    assert occurrences(rec, at, at) == []
    assert occurrences(rec, at - timedelta(seconds=1), at) == [at]
    assert next_occurrences(rec, at, 1) == [at + timedelta(days=1)]


def test_count_and_rule_until_end_a_rule() -> None:
    counted = _rec("DTSTART:20250301T080000\nRRULE:FREQ=WEEKLY;COUNT=3;BYDAY=MO,FR")
    assert [m.day for m in next_occurrences(counted, _utc(2025, 1, 1), 10)] == [3, 7, 10]
    bounded = _rec("DTSTART:20250301T080000\nRRULE:FREQ=DAILY;UNTIL=20250303T080000")
    assert len(occurrences(bounded, _utc(2025, 1, 1), _utc(2026, 1, 1))) == 3


@pytest.mark.parametrize(
    "body",
    [
        "FREQ=HOURLY;INTERVAL=5;BYMINUTE=15",
        "FREQ=DAILY;INTERVAL=3;BYHOUR=6,18",
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,SA;BYHOUR=9",
        "FREQ=MONTHLY;BYDAY=-1FR;BYHOUR=17",
        "FREQ=MONTHLY;BYMONTHDAY=31;BYHOUR=12",
        "FREQ=YEARLY;BYWEEKNO=12;BYDAY=MO",
        "FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR;BYHOUR=8,12;BYSETPOS=-1",
    ],
)
def test_years_later_the_local_times_are_dateutils_own(body: str) -> None:
    # The restarted, 400-year-moved expansion must list what dateutil lists from DTSTART.
    text = f"DTSTART:20240105T073000\nRRULE:{body}"
    rule = parse_rule(text, SHANGHAI, START)
    after, before = _utc(2031, 2, 1), _utc(2031, 4, 1)
    ours = [m.replace(tzinfo=None) for m in occurrences(Recurrence(rule, SHANGHAI), after, before)]
    low, high = (t.astimezone(SHANGHAI).replace(tzinfo=None) for t in (after, before))
    theirs = [t for t in rrulestr(text).between(low, high, inc=True) if t > low]
    assert ours == theirs
    assert ours, "the window should hold occurrences"


def test_an_old_hourly_schedule_is_cheap_to_evaluate() -> None:
    rec = _rec("DTSTART:20000101T000000\nRRULE:FREQ=HOURLY;BYMINUTE=0")
    started = time.perf_counter()
    for _ in range(20):
        assert len(next_occurrences(rec, _utc(2180, 1, 1), 5)) == 5
    assert time.perf_counter() - started < 1.0


def test_naive_bounds_are_refused() -> None:
    with pytest.raises(ValueError, match="after must carry a time zone"):
        occurrences(_rec("FREQ=DAILY"), datetime(2025, 1, 1), _utc(2025, 2, 1))


def test_a_stored_schedule_row_is_read_back() -> None:
    row = Schedule(
        rrule="DTSTART:20250301T060000\nRRULE:FREQ=DAILY",
        timezone="Asia/Shanghai",
        exdates=["2025-03-02T06:00:00"],
        until=None,
        created_at=_utc(2025, 3, 1),
    )
    found = occurrences(row, _utc(2025, 2, 28), _utc(2025, 3, 4))
    assert [m.isoformat() for m in found] == [
        "2025-03-01T06:00:00+08:00",
        "2025-03-03T06:00:00+08:00",
        "2025-03-04T06:00:00+08:00",
    ]

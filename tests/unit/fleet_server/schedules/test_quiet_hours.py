"""Quiet hours in a site's local time become the compiler's windows, DST included."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from fleet_server.errors import InvalidInput
from fleet_server.schedules.quiet_hours import QuietPeriod, check_quiet_hours, quiet_windows

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
HOUR = 3600.0


def _night(**changes: object) -> QuietPeriod:
    return QuietPeriod.model_validate(
        {"zones": ["ward"], "start": "22:00", "end": "06:00", **changes}
    )


def test_a_night_period_gives_one_window_per_night_from_now_on() -> None:
    now = datetime(2027, 1, 10, 21, 0, tzinfo=SHANGHAI)
    windows = quiet_windows([_night()], SHANGHAI, now).windows["ward"]
    assert windows[0] == (1 * HOUR, 9 * HOUR)
    assert windows[1] == (25 * HOUR, 33 * HOUR)
    assert len(windows) == 8  # tonight and the 7 nights after (8 days ahead)
    # Inside the window, it started in the past and still counts.
    inside = quiet_windows([_night()], SHANGHAI, datetime(2027, 1, 11, 2, 0, tzinfo=SHANGHAI))
    assert inside.windows["ward"][0] == (-4 * HOUR, 4 * HOUR)


def test_the_spring_forward_night_in_berlin_is_an_hour_shorter() -> None:
    now = datetime(2027, 3, 27, 21, 0, tzinfo=BERLIN)
    windows = quiet_windows([_night()], BERLIN, now).windows["ward"]
    assert windows[0] == (1 * HOUR, 8 * HOUR)  # 22:00 CET to 06:00 CEST
    assert windows[1] == (24 * HOUR, 32 * HOUR)  # a whole night of summer time


def test_weekdays_choose_the_nights_a_period_starts_on() -> None:
    now = datetime(2027, 1, 11, 12, 0, tzinfo=SHANGHAI)  # a Monday
    period = _night(days=["SA"], zones=["ward", "lobby"], start="09:00", end="17:00")
    quiet = quiet_windows([period], SHANGHAI, now)
    assert quiet.windows["ward"] == quiet.windows["lobby"] == ((117 * HOUR, 125 * HOUR),)


@pytest.mark.parametrize(
    ("period", "field"),
    [
        ({"zones": ["ward"], "start": "22:00", "end": "22:00"}, "quiet_hours[0].end"),
        ({"zones": ["ward", "attic"], "start": "22:00", "end": "06:00"}, "quiet_hours[0].zones[1]"),
    ],
)
def test_periods_the_map_cannot_hold_are_refused_naming_the_field(
    period: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        check_quiet_hours([QuietPeriod.model_validate(period)], {"ward", "lobby"})
    assert raised.value.extra["errors"][0]["field"] == field

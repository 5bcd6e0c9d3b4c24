"""Schedule timing from the environment: defaults, and errors naming the FLEET_ variable."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from fleet_server.schedules.materialise import ScheduleTiming
from fleet_server.settings import SettingsError, load_settings


def test_defaults_make_missions_an_hour_ahead(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    timing = ScheduleTiming.of(load_settings())
    assert timing == ScheduleTiming(timedelta(hours=1), timedelta(minutes=10), 30.0)
    monkeypatch.setenv("FLEET_SCHEDULE_HORIZON_S", "7200")
    assert ScheduleTiming.of(load_settings()).horizon == timedelta(hours=2)


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"FLEET_SCHEDULE_HORIZON_S": "-1"}, "FLEET_SCHEDULE_HORIZON_S"),
        ({"FLEET_SCHEDULE_LATENESS_S": "0"}, "FLEET_SCHEDULE_LATENESS_S"),
        (
            {"FLEET_SCHEDULE_TICK_S": "120", "FLEET_SCHEDULE_LATENESS_S": "60"},
            "FLEET_SCHEDULE_TICK_S",
        ),
    ],
)
def test_bad_timing_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variables: dict[str, str], named: str
) -> None:
    monkeypatch.chdir(tmp_path)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=named):
        load_settings()

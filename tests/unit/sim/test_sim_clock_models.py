"""Simulated time and robot models."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from sim.clock import ManualClock, SimClock
from sim.models import ModelFileError, load_models

CST = timezone(timedelta(hours=8))


class FakeReal:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_sim_clock_runs_time_scale_times_faster() -> None:
    real = FakeReal()
    start = datetime(2025, 3, 3, 6, 0, tzinfo=CST)
    clock = SimClock(60, start=start, real_monotonic=real)
    assert clock.monotonic() == 0.0
    real.t += 8 * 60  # eight real minutes ...
    assert clock.monotonic() == 8 * 3600  # ... are a simulated eight-hour day
    assert clock.wallclock() == datetime(2025, 3, 3, 14, 0, tzinfo=CST)
    assert clock.real_seconds(8 * 3600) == 480


def test_clocks_refuse_bad_input() -> None:
    with pytest.raises(ValueError, match="time_scale"):
        SimClock(0)
    with pytest.raises(ValueError, match="start"):
        SimClock(1, start=datetime(2025, 3, 3, 6, 0))
    with pytest.raises(ValueError, match="sim_seconds"):
        ManualClock().advance(-1)


async def test_manual_clock_moves_only_when_told() -> None:
    clock = ManualClock(start=datetime(2025, 3, 3, tzinfo=CST))
    await clock.sleep(30)
    clock.advance(30)
    assert clock.monotonic() == 60 and clock.wallclock().minute == 1


def test_default_models_cover_every_kind_with_its_devices() -> None:
    models = load_models()
    assert set(models) >= {"patrol", "uvc", "spray", "guide", "reception"}
    assert models["uvc"].has_uv_lamp and not models["uvc"].has_sprayer
    assert models["spray"].has_sprayer and models["spray"].sprayer_w > 0
    assert "smoke" in models["patrol"].sensors
    description = models["uvc"].description()
    assert description.capabilities == ["uv_disinfection"]
    assert description.uv_irradiance_at_1m_mw_cm2 == models["uvc"].uv_irradiance_at_1m_mw_cm2


def test_model_file_overrides_and_adds_kinds(tmp_path: Path) -> None:
    file = tmp_path / "models.yaml"
    file.write_text(
        "uvc: {uv_lamp_w: 1200}\n"
        "delivery: {capabilities: [patrol], max_speed_m_s: 1.5, accel_m_s2: 1,"
        " battery_capacity_wh: 500, idle_w: 20, drive_w: 60, charge_w: 250}\n"
    )
    models = load_models(file)
    assert models["uvc"].uv_lamp_w == 1200 and models["uvc"].max_speed_m_s == 0.8
    assert models["delivery"].kind == "delivery"


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("uvc: {max_speed_m_s: -1}", "uvc.max_speed_m_s"),
        ("uvc: {lamp: 3}", "uvc.lamp"),
        ("spray: {spray_rate_ml_s: null}", "spray_rate_ml_s"),
        ("uvc: 3", "uvc: must be a mapping"),
        ("[1, 2]", "must be a mapping"),
        ("a: [", "not valid YAML"),
    ],
)
def test_bad_model_files_name_the_file_and_field(tmp_path: Path, text: str, field: str) -> None:
    file = tmp_path / "bad.yaml"
    file.write_text(text)
    with pytest.raises(ModelFileError, match=r"bad\.yaml") as err:
        load_models(file)
    assert field in str(err.value)

"""UV-C point dose: inverse square, cosine of incidence, dwell times and the worked figures."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from missions.uv_dose import (
    LampModel,
    delivered_dose_mj_cm2,
    irradiance_at,
    uv_dwell_seconds,
)

# A HERO21-class robot: 2.67 mJ·cm⁻²·s⁻¹ measured at 1 m.
HERO21 = LampModel(irradiance_at_1m_mw_cm2=2.67)
WORKED_DOSE_MJ_CM2 = 37.3


def test_worked_figure_at_one_metre() -> None:
    assert uv_dwell_seconds(WORKED_DOSE_MJ_CM2, HERO21, 1.0) == pytest.approx(13.97, abs=0.01)
    assert round(uv_dwell_seconds(WORKED_DOSE_MJ_CM2, HERO21, 1.0)) == 14


def test_worked_figure_at_three_metres() -> None:
    # Pure inverse square: 2.67 / 3² = 0.2967 mJ·cm⁻²·s⁻¹, hence 37.3 / 0.2967 = 125.7 s.
    # The published HERO21 measurement is 0.29 mJ·cm⁻²·s⁻¹ at 3 m, i.e. 128.6 s. The two
    # agree to 2.4 %: the measured 1 m / 3 m ratio is 9.21, a fall-off exponent of 2.02.
    # Why the measurement is the lower one, reasoned out rather than guessed:
    # - A lamp that is not a point source (a ~1.2 m column of tubes) falls off *slower*
    #   than 1/d² near it: for a line source of length L the irradiance goes as
    #   1/(d·√(d² + L²/4)), so 1 m → 3 m loses only a factor 7.9, and the 3 m figure would
    #   be ~0.34, above the inverse-square 0.297. Lamp geometry therefore does not explain a
    #   lower reading; it pushes the other way.
    # - Room reflections add a roughly distance-independent background, which also raises
    #   the far reading relative to the near one (254 nm reflects poorly off paint, so it is
    #   small either way).
    # - What does lower it: where "distance" is measured from. If the detector's sensing
    #   plane or the effective emitting surface is ~2 cm off the nominal mark, the ratio
    #   ((3 − δ)/(1 − δ))² with δ = 0.017 m reproduces 9.21; shading by the robot's own
    #   mast and the detector's imperfect cosine response act similarly. And 0.29 is given
    #   to two figures, within the ±5–10 % of a 254 nm radiometer.
    # So the model keeps pure inverse square, and under-doses by ~2 % at 3 m relative to the
    # measured figure; a mission that needs the margin sets a higher target dose.
    at_three = uv_dwell_seconds(WORKED_DOSE_MJ_CM2, HERO21, 3.0)
    assert at_three == pytest.approx(125.7, abs=0.05)
    assert 125 <= at_three <= 130
    measured = WORKED_DOSE_MJ_CM2 / 0.29
    assert measured == pytest.approx(128.6, abs=0.05)
    assert abs(at_three - measured) / measured < 0.03


def test_irradiance_follows_inverse_square() -> None:
    assert irradiance_at(HERO21, 1.0) == pytest.approx(2.67)
    assert irradiance_at(HERO21, 2.0) == pytest.approx(2.67 / 4)
    assert irradiance_at(HERO21, 3.0) == pytest.approx(0.2967, abs=1e-4)


def test_cosine_of_incidence() -> None:
    assert irradiance_at(HERO21, 2.0, incidence_deg=60) == pytest.approx(2.67 / 4 * 0.5)
    assert irradiance_at(HERO21, 2.0, incidence_deg=90) == pytest.approx(0.0, abs=1e-12)
    assert irradiance_at(HERO21, 2.0, incidence_deg=135) == 0.0


def test_dwell_grows_as_surface_turns_away() -> None:
    facing = uv_dwell_seconds(10, HERO21, 1.5)
    tilted = uv_dwell_seconds(10, HERO21, 1.5, incidence_deg=60)
    assert tilted == pytest.approx(2 * facing)
    with pytest.raises(ValueError, match="faces away"):
        uv_dwell_seconds(10, HERO21, 1.5, incidence_deg=90)


def test_near_field_is_capped_rather_than_infinite() -> None:
    lamp = LampModel(irradiance_at_1m_mw_cm2=2.0, near_field_distance_m=0.5)
    assert irradiance_at(lamp, 0.1) == irradiance_at(lamp, 0.5) == pytest.approx(8.0)


def test_delivered_dose_is_irradiance_times_time() -> None:
    assert delivered_dose_mj_cm2(HERO21, 1.0, 14.0) == pytest.approx(37.38)
    assert delivered_dose_mj_cm2(HERO21, 1.0, 0.0) == 0.0


@given(
    irradiance=st.floats(0.05, 50),
    distance=st.floats(0.3, 10),
    dose=st.floats(1, 500),
    angle=st.floats(0, 80),
)
def test_dwell_delivers_exactly_the_target(
    irradiance: float, distance: float, dose: float, angle: float
) -> None:
    lamp = LampModel(irradiance_at_1m_mw_cm2=irradiance)
    dwell = uv_dwell_seconds(dose, lamp, distance, angle)
    assert delivered_dose_mj_cm2(lamp, distance, dwell, angle) == pytest.approx(dose)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: irradiance_at(HERO21, 0.0), "distance_m"),
        (lambda: irradiance_at(HERO21, -1.0), "distance_m"),
        (lambda: irradiance_at(HERO21, math.nan), "distance_m"),
        (lambda: irradiance_at(HERO21, 1.0, incidence_deg=-5), "incidence_deg"),
        (lambda: uv_dwell_seconds(0.0, HERO21, 1.0), "target_dose_mj_cm2"),
        (lambda: delivered_dose_mj_cm2(HERO21, 1.0, -1.0), "dwell_s"),
    ],
)
def test_bad_arguments_name_the_argument(call: object, field: str) -> None:
    assert callable(call)
    with pytest.raises(ValueError, match=field):
        call()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"irradiance_at_1m_mw_cm2": 0}, "irradiance_at_1m_mw_cm2"),
        ({"irradiance_at_1m_mw_cm2": "2.67"}, "irradiance_at_1m_mw_cm2"),
        ({"irradiance_at_1m_mw_cm2": 2.67, "lamp_height_m": -1}, "lamp_height_m"),
        ({"irradiance_at_1m_mw_cm2": 2.67, "power_w": 100}, "power_w"),
    ],
)
def test_lamp_model_rejects_bad_fields(data: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        LampModel.model_validate(data)
    assert [e["loc"] for e in info.value.errors()] == [(field,)]

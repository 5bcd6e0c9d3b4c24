"""A table of bad mission bodies: each is refused with an error naming the offending field."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from missions.types import MISSION_ADAPTER, MissionValidationError, load_mission_text, parse_mission

PATROL = {"kind": "patrol", "site": "clinic", "checkpoints": ["lobby", "pharmacy"]}
UV = {"kind": "disinfection", "site": "clinic", "method": "uv", "targets": [{"room": "ward_1"}]}
SPRAY = {
    "kind": "disinfection",
    "site": "clinic",
    "method": "spray",
    "targets": [{"room": "ward_1"}],
    "agent": "hydrogen_peroxide_3pct",
    "rate_ml_per_m3": 8,
    "room_volume_m3": 60,
    "contact_time_s": 1800,
    "re_entry_time_s": 3600,
}
GUIDE = {"kind": "guidance", "site": "clinic", "from": "entrance", "to": "cardiology"}


def _with(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    body = {**base, **changes}
    return {k: v for k, v in body.items() if v is not _DROP}


_DROP = object()

# (case id, body, the path the error must name)
BAD_MISSIONS: list[tuple[str, dict[str, Any], str]] = [
    ("no kind", {"site": "clinic", "zone": "z"}, "kind"),
    ("unknown kind", _with(PATROL, kind="delivery"), "kind"),
    ("no site", _with(PATROL, site=_DROP), "site"),
    ("blank site", _with(PATROL, site="   "), "site"),
    ("unknown field", _with(PATROL, speed=3), "speed"),
    ("bad priority", _with(PATROL, priority="urgent"), "priority"),
    ("naive start time", _with(PATROL, earliest_start="2025-03-01T22:00:00"), "earliest_start"),
    (
        "deadline before start",
        _with(
            PATROL,
            earliest_start="2025-03-01T22:00:00+08:00",
            deadline="2025-03-01T21:00:00+08:00",
        ),
        "deadline",
    ),
    ("patrol without route", _with(PATROL, checkpoints=_DROP), "checkpoints"),
    ("patrol with route and zone", _with(PATROL, zone="ground_floor"), "checkpoints"),
    ("empty checkpoints", _with(PATROL, checkpoints=[]), "checkpoints"),
    ("blank checkpoint", _with(PATROL, checkpoints=["lobby", ""]), "checkpoints.1.waypoint"),
    ("zero rounds", _with(PATROL, rounds=0), "rounds"),
    ("rounds as text", _with(PATROL, rounds="forever"), "rounds"),
    ("rounds as boolean", _with(PATROL, rounds=True), "rounds"),
    ("negative dwell", _with(PATROL, dwell_s=-1), "dwell_s"),
    (
        "dwell as string",
        _with(PATROL, checkpoints=[{"waypoint": "a", "dwell_s": "10"}]),
        "checkpoints.0.dwell_s",
    ),
    (
        "unknown check",
        _with(PATROL, checkpoints=[{"waypoint": "a", "checks": ["window_open"]}]),
        "checkpoints.0.checks.0.kind",
    ),
    (
        "temperature without threshold",
        _with(PATROL, checks=["door_closed", "temperature_below"]),
        "checks.1.threshold_c",
    ),
    (
        "temperature as text",
        _with(PATROL, checks=[{"temperature_below": "hot"}]),
        "checks.0.threshold_c",
    ),
    ("threshold on door check", _with(PATROL, checks=[{"door_closed": 3}]), "checks.0.threshold_c"),
    (
        "patrol needs patrol robot",
        _with(PATROL, required_capability="guidance"),
        "required_capability",
    ),
    ("no method", _with(UV, method=_DROP), "method"),
    ("unknown method", _with(UV, method="ozone"), "method"),
    ("no targets", _with(UV, targets=[]), "targets"),
    ("point x not a number", _with(UV, targets=[{"x": "a", "y": 1, "level": "L1"}]), "targets.0.x"),
    ("point missing y", _with(UV, targets=[{"room": "r"}, {"x": 1, "level": "L1"}]), "targets.1.y"),
    ("point missing level", _with(UV, targets=[{"x": 1, "y": 2}]), "targets.0.level"),
    ("target of two forms", _with(UV, targets=[{"room": "r", "waypoint": "w"}]), "targets.0"),
    ("empty target", _with(UV, targets=[{}]), "targets.0"),
    (
        "infinite coordinate",
        _with(UV, targets=[{"x": float("inf"), "y": 0, "level": "L1"}]),
        "targets.0.x",
    ),
    ("negative dose", _with(UV, target_dose_mj_cm2=-5), "target_dose_mj_cm2"),
    ("unknown organism", _with(UV, organism="prion"), "organism"),
    (
        "zero lamp irradiance",
        _with(UV, lamp={"irradiance_at_1m_mw_cm2": 0}),
        "lamp.irradiance_at_1m_mw_cm2",
    ),
    ("spray field on uv", _with(UV, agent="ethanol"), "agent"),
    (
        "uv needs uv robot",
        _with(UV, required_capability="spray_disinfection"),
        "required_capability",
    ),
    ("dose on spray", _with(SPRAY, target_dose_mj_cm2=10), "target_dose_mj_cm2"),
    ("spray without agent", _with(SPRAY, agent=_DROP), "agent"),
    ("spray without re-entry time", _with(SPRAY, re_entry_time_s=_DROP), "re_entry_time_s"),
    ("spray without any volume", _with(SPRAY, room_volume_m3=_DROP), "room_volume_m3"),
    ("spray rate zero", _with(SPRAY, rate_ml_per_m3=0), "rate_ml_per_m3"),
    ("volume on uv target", _with(UV, targets=[{"room": "r", "volume_m3": 50}]), "targets"),
    ("guide without from", _with(GUIDE, **{"from": _DROP}), "from"),
    ("guide to where it starts", _with(GUIDE, to="entrance"), "to"),
    ("guide too fast", _with(GUIDE, max_speed_m_s=2.5), "max_speed_m_s"),
    ("guide in french", _with(GUIDE, language="fr"), "language"),
    ("prompts for unknown language", _with(GUIDE, prompts={"de": {}}), "prompts.de.[key]"),
    ("unknown prompt slot", _with(GUIDE, prompts={"en": {"goodbye": "Bye"}}), "prompts.en.goodbye"),
    ("zero wait timeout", _with(GUIDE, wait_for_person_timeout_s=0), "wait_for_person_timeout_s"),
    ("bad no-show action", _with(GUIDE, on_no_show="explode"), "on_no_show"),
    ("guide needs guide robot", _with(GUIDE, required_capability="patrol"), "required_capability"),
]


def test_table_is_large_enough() -> None:
    assert len(BAD_MISSIONS) >= 15
    assert len({case for case, _, _ in BAD_MISSIONS}) == len(BAD_MISSIONS)


@pytest.mark.parametrize(
    ("case", "body", "path"), BAD_MISSIONS, ids=[c for c, _, _ in BAD_MISSIONS]
)
def test_bad_mission_names_the_field(case: str, body: dict[str, Any], path: str) -> None:
    with pytest.raises(MissionValidationError) as info:
        parse_mission(body)
    assert path in info.value.paths, (case, info.value.errors)
    assert path in str(info.value)


@pytest.mark.parametrize(
    ("case", "body", "path"), BAD_MISSIONS, ids=[c for c, _, _ in BAD_MISSIONS]
)
def test_api_validation_carries_the_same_location(
    case: str, body: dict[str, Any], path: str
) -> None:
    """What FastAPI reports: pydantic's loc, with the kind tag in front for union members."""
    with pytest.raises(ValidationError) as info:
        MISSION_ADAPTER.validate_python(body)
    locations = {".".join(map(str, e["loc"])) for e in info.value.errors()}
    if path == "kind":
        assert "" in locations
    else:
        assert f"{body['kind']}.{path}" in locations, (case, locations)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kind: patrol\nsite: [unclosed", "not valid yaml"),
        ('{"kind": "patrol",', "not valid json"),
        ("- just\n- a list\n", "must be a mapping"),
        ("", "must be a mapping"),
        # More digits than Python converts to an int: a ValueError of its own.
        ("kind: patrol\ndwell_s: " + "9" * 5000, "not valid yaml"),
        ('{"kind": "patrol", "dwell_s": ' + "9" * 5000 + "}", "not valid json"),
    ],
)
def test_unparseable_text_is_refused(text: str, message: str) -> None:
    with pytest.raises(MissionValidationError, match=message) as info:
        load_mission_text(text, source="mission.yaml")
    assert "mission.yaml" in str(info.value)

"""Valid mission bodies: parsing, defaults, derived fields, round trips and loaders."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from missions.types import (
    MISSION_ADAPTER,
    Capability,
    CheckKind,
    DisinfectionMethod,
    DisinfectionMission,
    GuidanceMission,
    Language,
    MissionValidationError,
    NoShowAction,
    Organism,
    PatrolMission,
    Priority,
    PromptSlot,
    TargetKind,
    dump_mission,
    load_mission_file,
    load_mission_text,
    parse_mission,
)

PATROL_YAML = """
kind: patrol
site: clinic
name: Night round, ground floor
priority: high
earliest_start: 2025-03-01T22:00:00+08:00
deadline: 2025-03-02T06:00:00+08:00
checkpoints:
  - lobby
  - waypoint: pharmacy
    dwell_s: 30
    checks: [door_closed, {temperature_below: 25}]
    speak_on_arrival: 药房检查
  - waypoint: back_door
    checks: []
rounds: until_stopped
dwell_s: 5
checks: [no_person, smoke_absent]
"""


def _uv(**extra: Any) -> dict[str, Any]:
    return {"kind": "disinfection", "site": "clinic", "method": "uv", **extra}


def _spray(**extra: Any) -> dict[str, Any]:
    body = {
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
    return {**body, **extra}


def test_patrol_from_yaml_with_overrides_and_defaults() -> None:
    mission = load_mission_text(PATROL_YAML)
    assert isinstance(mission, PatrolMission)
    assert mission.priority is Priority.HIGH
    assert mission.rounds == "until_stopped"
    assert mission.capability is Capability.PATROL
    assert mission.earliest_start is not None
    assert mission.earliest_start.utcoffset() == timedelta(hours=8)
    assert mission.checkpoints is not None
    lobby, pharmacy, back_door = mission.checkpoints
    assert lobby.waypoint == "lobby"
    assert mission.dwell_at(lobby) == 5
    assert mission.dwell_at(pharmacy) == 30
    assert [c.kind for c in mission.checks_at(lobby)] == [
        CheckKind.NO_PERSON,
        CheckKind.SMOKE_ABSENT,
    ]
    door, temperature = mission.checks_at(pharmacy)
    assert door.kind is CheckKind.DOOR_CLOSED and door.threshold_c is None
    assert temperature.kind is CheckKind.TEMPERATURE_BELOW and temperature.threshold_c == 25
    assert mission.checks_at(back_door) == []  # an explicit empty list overrides the default
    assert mission.speech_at(pharmacy) == "药房检查"
    assert mission.speech_at(lobby) is None


def test_patrol_may_sweep_a_zone_instead() -> None:
    mission = parse_mission({"kind": "patrol", "site": "bank", "zone": "vault_corridor"})
    assert isinstance(mission, PatrolMission)
    assert mission.zone == "vault_corridor" and mission.checkpoints is None
    assert mission.rounds == 1
    assert mission.priority is Priority.NORMAL


def test_uv_dose_defaults_follow_the_organism() -> None:
    plain = parse_mission(_uv(targets=[{"room": "ward_1"}]))
    virus = parse_mission(_uv(targets=[{"room": "ward_1"}], organism="virus"))
    unknown = parse_mission(_uv(targets=[{"room": "ward_1"}], organism="unknown"))
    explicit = parse_mission(_uv(targets=[{"room": "ward_1"}], target_dose_mj_cm2=37.3))
    assert isinstance(plain, DisinfectionMission)
    assert isinstance(virus, DisinfectionMission)
    assert isinstance(unknown, DisinfectionMission)
    assert isinstance(explicit, DisinfectionMission)
    assert plain.target_dose_mj_cm2 == 10.0
    assert virus.target_dose_mj_cm2 == 10.0
    assert unknown.organism is Organism.UNKNOWN and unknown.target_dose_mj_cm2 == 100.0
    assert explicit.target_dose_mj_cm2 == 37.3
    assert plain.capability is Capability.UV_DISINFECTION
    assert plain.distance_m == 1.0 and plain.dwell_points_per_room == 4


def test_uv_targets_in_all_three_forms_with_a_lamp() -> None:
    mission = parse_mission(
        _uv(
            targets=[
                {"waypoint": "bed_3"},
                {"room": "ward_2"},
                {"x": 12.5, "y": -3, "level": "L2"},
            ],
            lamp={"irradiance_at_1m_mw_cm2": 2.67, "lamp_height_m": 1.2, "name": "HERO21"},
            distance_m=1.5,
        )
    )
    assert isinstance(mission, DisinfectionMission)
    kinds = [t.kind for t in mission.targets]
    assert kinds == [TargetKind.WAYPOINT, TargetKind.ROOM, TargetKind.POINT]
    assert [t.label for t in mission.targets] == ["bed_3", "ward_2", "(12.50, -3.00) @ L2"]
    assert mission.lamp is not None and mission.lamp.irradiance_at_1m_mw_cm2 == 2.67
    assert mission.agent is None and mission.re_entry_time_s is None


def test_spray_volumes_per_target_or_per_mission() -> None:
    mission = parse_mission(
        _spray(
            targets=[{"room": "ward_1"}, {"room": "ward_2", "volume_m3": 40}],
            room_volume_m3=60,
        )
    )
    assert isinstance(mission, DisinfectionMission)
    assert mission.method is DisinfectionMethod.SPRAY
    assert mission.capability is Capability.SPRAY_DISINFECTION
    assert mission.target_dose_mj_cm2 is None and mission.distance_m is None
    assert [mission.spray_volume_ml(t) for t in mission.targets] == [480.0, 320.0]
    only_own = parse_mission(_spray(targets=[{"room": "a", "volume_m3": 10}], room_volume_m3=None))
    assert isinstance(only_own, DisinfectionMission)
    assert only_own.spray_volume_ml(only_own.targets[0]) == 80.0


def test_guidance_defaults_and_prompts() -> None:
    mission = parse_mission(
        {
            "kind": "guidance",
            "site": "clinic",
            "from": "entrance",
            "to": "cardiology",
            "prompts": {"en": {"arrived": "This is cardiology."}},
        }
    )
    assert isinstance(mission, GuidanceMission)
    assert mission.from_ == "entrance" and mission.to == "cardiology"
    assert mission.language is Language.ZH_CN
    assert mission.max_speed_m_s == 0.5
    assert mission.on_no_show is NoShowAction.RETURN_TO_START
    assert mission.capability is Capability.GUIDANCE
    assert mission.prompt(PromptSlot.ARRIVED, Language.EN) == "This is cardiology."
    assert mission.prompt(PromptSlot.FOLLOW_ME) == "请跟我来。"
    assert mission.prompt(PromptSlot.FOLLOW_ME, Language.EN) == "Please follow me."


def test_a_reception_robot_may_guide() -> None:
    body = {"kind": "guidance", "site": "bank", "from": "door", "to": "counter_3"}
    mission = parse_mission({**body, "required_capability": "reception"})
    assert mission.capability is Capability.RECEPTION


def test_priorities_order_by_urgency_not_alphabet() -> None:
    shuffled = [Priority.NORMAL, Priority.EMERGENCY, Priority.LOW, Priority.HIGH]
    assert sorted(shuffled) == [Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.EMERGENCY]
    assert max(shuffled) is Priority.EMERGENCY
    assert Priority.HIGH > Priority.NORMAL > Priority.LOW
    assert Priority.EMERGENCY >= "high"
    assert Priority.LOW < "normal"
    with pytest.raises(TypeError):
        _ = Priority.LOW < "urgent"


@pytest.mark.parametrize(
    "body",
    [
        load_mission_text(PATROL_YAML),
        parse_mission(_uv(targets=[{"x": 1, "y": 2, "level": "L1"}], organism="unknown")),
        parse_mission(_spray()),
        parse_mission({"kind": "guidance", "site": "c", "from": "a", "to": "b", "language": "en"}),
    ],
    ids=["patrol", "uv", "spray", "guidance"],
)
def test_dump_round_trips_through_json(body: Any) -> None:
    dumped = dump_mission(body)
    text = json.dumps(dumped, ensure_ascii=False)
    assert parse_mission(json.loads(text)) == body
    assert load_mission_text(text) == body


def test_json_schema_describes_every_kind_and_accepts_a_dumped_body() -> None:
    schema = MISSION_ADAPTER.json_schema()
    assert set(schema["discriminator"]["mapping"]) == {"patrol", "disinfection", "guidance"}
    jsonschema.validate(dump_mission(parse_mission(_spray())), schema)


def test_load_mission_file_names_the_file(tmp_path: Path) -> None:
    good = tmp_path / "guide.json"
    good.write_text(json.dumps({"kind": "guidance", "site": "c", "from": "a", "to": "b"}))
    assert isinstance(load_mission_file(good), GuidanceMission)
    bad = tmp_path / "uv.yaml"
    bad.write_text("kind: disinfection\nsite: clinic\nmethod: uv\ntargets: []\n")
    with pytest.raises(MissionValidationError) as info:
        load_mission_file(bad)
    assert info.value.source == str(bad)
    assert info.value.paths == ["targets"]
    assert str(bad) in str(info.value) and "targets" in str(info.value)


def test_deadline_in_another_zone_compares_by_instant() -> None:
    start = datetime(2025, 3, 1, 14, 0, tzinfo=UTC)
    body = {
        "kind": "patrol",
        "site": "plaza",
        "zone": "square",
        "earliest_start": start.isoformat(),
        "deadline": "2025-03-01T22:30:00+08:00",  # 14:30 UTC
    }
    mission = parse_mission(body)
    assert mission.deadline is not None and mission.deadline - start == timedelta(minutes=30)

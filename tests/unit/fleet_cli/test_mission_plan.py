"""`fleet mission plan`: the shipped examples compile into schema-valid orders; bad input
exits with status 2 and names the file and the field."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fleet_cli.main import app
from missions.sites import Zone, ZoneKind, import_site
from tests.support.vda_schemas import schema_errors

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "missions" / "examples"
CLINIC = ROOT / "tests" / "fixtures" / "maps" / "rmf" / "clinic.building.yaml"
ROBOT = EXAMPLES / "robot.yaml"

runner = CliRunner()

GUIDE = "kind: guidance\nsite: clinic\nfrom: L1_left_nurse_center\nto: L2_north_counter\n"
PATROL_ROBOT = "manufacturer: acme\nserial_number: x\ncapabilities: [patrol]\n"


def plan(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["mission", "plan", *args])
    return result.exit_code, result.stdout, result.stderr


def plan_json(*args: str) -> dict[str, Any]:
    code, out, err = plan(*args, "--json")
    assert code == 0, err
    document: dict[str, Any] = json.loads(out)
    return document


@pytest.mark.parametrize("example", ["patrol", "uv_disinfection", "spray_disinfection", "guidance"])
@pytest.mark.parametrize("robot", [["--robot", str(ROBOT)], []], ids=["robot.yaml", "generic"])
def test_each_example_plans_into_valid_orders(example: str, robot: list[str]) -> None:
    document = plan_json(str(EXAMPLES / f"{example}.yaml"), "--site", str(CLINIC), *robot)
    assert set(document) == {"orders", "estimated_duration_s", "dwell_points"}
    assert document["estimated_duration_s"] > 0
    orders = document["orders"]
    assert orders
    for k, order in enumerate(orders):
        assert schema_errors("order", order) == []
        assert (order["headerId"], order["orderUpdateId"]) == (k, k)
    assert len({o["orderId"] for o in orders}) == 1
    if example.endswith("disinfection"):
        assert document["dwell_points"]
        for point in document["dwell_points"]:
            assert {"node_id", "x", "y", "level", "dwell_s", "predicted_dose_mj_cm2"} <= set(point)
    else:
        assert document["dwell_points"] == []


def test_the_examples_start_at_the_robots_dock() -> None:
    document = plan_json(
        str(EXAMPLES / "patrol.yaml"), "--site", str(CLINIC), "--robot", str(ROBOT)
    )
    first = document["orders"][0]
    assert first["nodes"][0]["nodeId"] == "L1:429"  # deliveryRobot_1_charger
    assert (first["manufacturer"], first["serialNumber"]) == ("fleetsim", "clinic-01")


def test_guidance_example_crosses_floors_and_is_held_at_the_meeting_point() -> None:
    document = plan_json(
        str(EXAMPLES / "guidance.yaml"), "--site", str(CLINIC), "--robot", str(ROBOT)
    )
    first, update = document["orders"]
    held = [n for n in first["nodes"] if n["released"]]
    assert any(a["actionType"] == "guideWaitForPerson" for a in held[-1]["actions"])
    assert update["nodes"][0] == held[-1]
    maps = [n["nodePosition"]["mapId"] for n in update["nodes"]]
    assert maps[0] == "L1" and maps[-1] == "L2"
    actions = [a for n in first["nodes"] + update["nodes"] for a in n["actions"]]
    assert any(a["actionType"] == "callLift" for a in actions)
    spoken = [
        p["value"] for a in actions if a["actionType"] == "speak" for p in a["actionParameters"]
    ]
    assert "This is the north counter. Please take a number." not in spoken  # zh-CN mission
    assert "请跟我来。" in spoken


def test_uv_example_dwell_points_carry_the_dose() -> None:
    document = plan_json(
        str(EXAMPLES / "uv_disinfection.yaml"), "--site", str(CLINIC), "--robot", str(ROBOT)
    )
    points = document["dwell_points"]
    assert [p["node_id"] for p in points][:2] == ["L1:384", "L1:409"]
    assert all(p["predicted_dose_mj_cm2"] >= 100 for p in points)  # organism unknown
    assert all(p["level"] == "L1" and p["dwell_s"] > 37 for p in points)


def test_release_every_splits_the_base_into_updates() -> None:
    document = plan_json(
        str(EXAMPLES / "patrol.yaml"), "--site", str(CLINIC), "--release-every", "10"
    )
    orders = document["orders"]
    total = len(orders[0]["nodes"])
    assert len(orders) == -(-(total - 1) // 10)
    for previous, update in itertools.pairwise(orders):
        assert update["nodes"][0] == [n for n in previous["nodes"] if n["released"]][-1]


def test_room_targets_need_a_site_with_zones(tmp_path: Path) -> None:
    clinic = import_site(CLINIC)
    room = Zone(
        name="treatment_1",
        kind=ZoneKind.UV_ALLOWED,
        polygon=((7.6, -11.6), (11.7, -11.6), (11.7, -15.8), (7.6, -15.8)),
    )
    levels = [
        level.model_copy(update={"zones": (room,)}) if level.name == "L1" else level
        for level in clinic.levels
    ]
    site_json = tmp_path / "clinic.json"
    site_json.write_text(clinic.model_copy(update={"levels": tuple(levels)}).model_dump_json())
    mission = tmp_path / "room.yaml"
    mission.write_text(
        "kind: disinfection\nsite: clinic\nmethod: uv\ntargets: [{room: treatment_1}]\n"
    )
    document = plan_json(str(mission), "--site", str(site_json), "--start", "L1_left_nurse_center")
    assert len(document["dwell_points"]) >= 2
    assert all(p["node_id"].startswith("treatment_1#") for p in document["dwell_points"])
    code, _, err = plan(str(mission), "--site", str(CLINIC), "--start", "L1_left_nurse_center")
    assert code == 2 and "room.yaml: targets.0.room" in err and "treatment_1" in err


def test_summary_without_json() -> None:
    code, out, _ = plan(str(EXAMPLES / "guidance.yaml"), "--site", str(CLINIC))
    assert code == 0
    assert "2 message(s)" in out and "lift lift_1: L1 to L2" in out


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    ("files", "extra", "says"),
    [
        (
            {"m.yaml": "kind: patrol\nsite: clinic\ncheckpoints: [a]\nrounds: 0\n"},
            [],
            ["m.yaml", "rounds"],
        ),
        (
            {"m.yaml": "kind: patrol\nsite: clinic\ncheckpoints: [L1_left_nurse_center, nope]\n"},
            [],
            ["m.yaml", "checkpoints.1", "'nope'"],
        ),
        ({"m.yaml": "kind: guidance\nsite: clinic\nfrom: [\n"}, [], ["m.yaml", "not valid yaml"]),
        (
            {
                "m.yaml": GUIDE,
                "r.yaml": PATROL_ROBOT,
            },
            ["--robot", "r.yaml"],
            ["m.yaml", "required_capability"],
        ),
        (
            {
                "m.yaml": "kind: patrol\nsite: clinic\ncheckpoints: [L1_left_nurse_center]\n",
                "r.yaml": PATROL_ROBOT + "max_speed_m_s: fast\n",
            },
            ["--robot", "r.yaml"],
            ["r.yaml", "max_speed_m_s"],
        ),
        (
            {"m.yaml": "kind: patrol\nsite: clinic\ncheckpoints: [L1_left_nurse_center]\n"},
            ["--start", "L9_nowhere"],
            ["--start", "L9_nowhere"],
        ),
        (
            {"m.yaml": "kind: patrol\nsite: clinic\ncheckpoints: [L1_left_nurse_center]\n"},
            ["--start", "1,2"],
            ["--start", "x,y,level"],
        ),
        (
            {
                "m.yaml": "kind: patrol\nsite: clinic\ncheckpoints: [L1_left_nurse_center]\n",
                "s.building.yaml": "levels: {L1: {vertices: [[0, 0, 0, a]], lanes: [[0, 7]]}}\n",
            },
            ["--site", "s.building.yaml"],
            ["s.building.yaml"],
        ),
        (
            {"m.yaml": "kind: patrol\nsite: clinic\nzone: west_wing\n"},
            [],
            ["m.yaml", "give --start"],
        ),
    ],
    ids=[
        "invalid mission",
        "unknown checkpoint",
        "broken yaml",
        "robot lacks capability",
        "bad robot file",
        "unknown start",
        "bad start",
        "bad site file",
        "no first place",
    ],
)
def test_bad_input_exits_2_naming_file_and_field(
    tmp_path: Path, files: dict[str, str], extra: list[str], says: list[str]
) -> None:
    for name, text in files.items():
        write(tmp_path, name, text)
    args = [str(tmp_path / a) if (tmp_path / a).exists() else a for a in extra]
    if "--site" not in args:
        args += ["--site", str(CLINIC)]
    code, out, err = plan(str(tmp_path / "m.yaml"), *args)
    assert code == 2, (out, err)
    assert err.startswith("error: ")
    for text in says:
        assert text in err, err

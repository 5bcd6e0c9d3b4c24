"""Bundled scenarios load, refer only to places on their maps, and bad files name the field."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from missions.sites import resolve_waypoint
from missions.types import DisinfectionMission, GuidanceMission, PatrolMission
from sim.scenario import SCENARIOS_DIR, ScenarioError, bundled_scenarios, load_scenario

SCENARIOS = ["bank_hall", "clinic_day_30", "hospital_day", "plaza_patrol"]


def test_the_bundled_scenarios_are_listed() -> None:
    assert bundled_scenarios() == SCENARIOS


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_loads_and_every_place_is_on_its_map(name: str) -> None:
    scenario = load_scenario(name)
    site = scenario.site
    raw = yaml.safe_load((SCENARIOS_DIR / f"{name}.yaml").read_text())
    names: list[str] = []
    for group in raw["robots"]:
        if isinstance(group.get("start"), list):
            names += group["start"]
    for flow in raw.get("people", {}).get("flows", []):
        names += flow.get("waypoints", [])
    names += [f["waypoint"] for f in raw.get("faults", []) if "waypoint" in f]
    for mission in scenario.missions:
        spec = mission.spec
        if isinstance(spec, PatrolMission):
            names += [c.waypoint for c in spec.checkpoints or []]
        elif isinstance(spec, DisinfectionMission):
            names += [t.waypoint for t in spec.targets if t.waypoint]
        elif isinstance(spec, GuidanceMission):
            names += [spec.from_, spec.to]
        assert spec.site == raw["site"]["name"]
    assert names
    for ref in names:
        resolve_waypoint(site, ref)  # raises if absent or ambiguous
    kinds = {type(m.spec) for m in scenario.missions}
    assert len(kinds) >= 2
    assert all(0 <= m.at_s <= raw["duration_s"] for m in scenario.missions)
    assert scenario.robot_serials()[0].startswith(name.split("_")[0][:4])


def test_hospital_day_has_what_the_issue_asks_for() -> None:
    scenario = load_scenario("hospital_day")
    specs = [m.spec for m in scenario.missions]
    uv = [s for s in specs if isinstance(s, DisinfectionMission) and s.method.value == "uv"]
    guidance = [s for s in specs if isinstance(s, GuidanceMission)]
    patrols = [m for m in scenario.missions if isinstance(m.spec, PatrolMission)]
    assert uv and any(s.priority.value == "emergency" for s in specs)
    levels = {resolve_waypoint(scenario.site, g.to).level for g in guidance}
    assert levels == {"L1", "L2"}  # across floors
    assert all(m.at.hour >= 22 or m.at.hour < 6 for m in patrols)
    first_guide = next(m for m in scenario.missions if m.entry == "guide-entrance-to-cardiology")
    assert first_guide.at_s == (8 - 6) * 3600 + 15 * 60


def test_fault_plans_are_the_same_for_the_same_seed() -> None:
    a, b = load_scenario("plaza_patrol"), load_scenario("plaza_patrol")
    assert a.faults == b.faults
    assert any(f.kind == "network_cut" for f in a.faults)  # drawn at random
    assert any(f.anomaly == "intruder" for f in a.faults)


def mutate(tmp_path: Path, name: str, change: Any) -> Path:
    raw = yaml.safe_load((SCENARIOS_DIR / f"{name}.yaml").read_text())
    raw = copy.deepcopy(raw)
    change(raw)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _set(path: list[Any], value: Any) -> Any:
    def change(raw: Any) -> None:
        node = raw
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return change


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            _set(["missions", 5, "body", "checkpoints", 1], "nowhere"),
            "missions[5].body.checkpoints.1.waypoint: no waypoint 'nowhere'",
        ),
        (_set(["missions", 0, "body", "method"], "laser"), "missions[0].body.method"),
        (_set(["missions", 0, "body", "site"], "bank"), "missions[0].body.site"),
        (_set(["missions", 2, "rrule"], "FREQ=SOMETIMES"), "missions[2].rrule"),
        (_set(["missions", 4, "rrule"], "FREQ=DAILY"), "exactly one of at"),
        (_set(["missions", 3, "body", "to"], "L1_sub_waiting_area_4"), "ambiguous"),
        (_set(["robots", 0, "kind"], "tank"), "robots[0].kind"),
        (_set(["robots", 1, "name"], "hospital-uvc"), "robots[1].name"),
        (_set(["faults", 1, "robot"], "hospital-guide-09"), "faults[1].robot"),
        (_set(["faults", 2, "lift"], "lift_99"), "faults[2].lift"),
        (_set(["faults", 3, "at"], "25:00"), "faults[3].at"),
        (_set(["people", "flows", 0, "level"], "L7"), "people.flows[0].level"),
        (_set(["people", "flows", 0, "hourly"], {"7-12": 3, "11-13": 2}), "in two ranges"),
        (_set(["people", "visitors", "follows"], 0.5), "people.visitors"),
        (_set(["site", "map"], "castle"), "site.map"),
        (_set(["start"], "2025-03-03T06:00:00"), "start"),
        (_set(["surprise"], 1), "surprise"),
        (_set(["models"], {"uvc": {"uv_lamp_w": -5}}), "uvc.uv_lamp_w"),
    ],
)
def test_bad_scenarios_name_the_field(tmp_path: Path, change: Any, field: str) -> None:
    path = mutate(tmp_path, "hospital_day", change)
    with pytest.raises(ScenarioError, match=r"hospital_day\.yaml") as err:
        load_scenario(path)
    assert field in str(err.value)


def test_unknown_scenario_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="bundled: " + ", ".join(SCENARIOS)):
        load_scenario("mars_base")
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [")
    with pytest.raises(ScenarioError, match="not valid YAML"):
        load_scenario(broken)
    broken.write_text("- 1\n")
    with pytest.raises(ScenarioError, match="mapping"):
        load_scenario(broken)

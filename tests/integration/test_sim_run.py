"""`fleet sim run`: each bundled scenario over a real server and broker, and determinism.

Each run starts a short simulated span just before a scheduled mission (`--start-at`) at
a time scale of 30-60; the server's own timers run on real time, which is why the scales
stay modest. Each test takes under 60 s real time.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fleet_cli.main import app
from fleet_cli.sim_run import ScenarioRunOptions, run_scenario

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def run(name: str, **options: Any) -> dict[str, Any]:
    return asyncio.run(run_scenario(name, ScenarioRunOptions(**options)))


def assert_all_finished(report: dict[str, Any], kinds: dict[str, int]) -> None:
    """Every mission created in the span completed; none failed, none left running."""
    by_kind = report["missions"]["by_kind"]
    assert {k: v["created"] for k, v in by_kind.items()} == kinds, report["mission_list"]
    for kind, kpis in by_kind.items():
        assert kpis["completed"] == kpis["created"], (kind, report["mission_list"])
        assert kpis["failed"] == kpis["cancelled"] == kpis["unfinished"] == 0
        assert kpis["wait_s"]["p50"] is not None
        assert kpis["completion_s"]["p95"] >= kpis["completion_s"]["p50"] > 0
    assert report["drained"] is True
    assert report["traffic"]["reservation_conflicts"] == 0
    assert report["traffic"]["deadlocks"] == 0
    assert report["expect"]["completion_ratio_min"]["met"] is True


def test_bank_hall_reception_guidance_through_the_cli(tmp_path: Path) -> None:
    out = tmp_path / "bank.json"
    result = CliRunner().invoke(
        app,
        [
            "sim", "run", "bank_hall", "--start-at", "09:13", "--duration", "300",
            "--time-scale", "30", "--drain", "30", "--report", str(out),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "2 missions created, 2 completed, 0 failed" in result.output
    report = json.loads(out.read_text())
    assert_all_finished(report, {"guidance": 2})
    expect = report["expect"]
    assert expect["completion_ratio_min"] == {"target": 0.9, "actual": 1.0, "met": True}
    assert expect["deadlocks_max"]["met"] is True
    reception = [r for r in report["robots"]["robots"] if r["kind"] == "reception"]
    assert reception[0]["distance_m"] > 5
    assert reception[0]["utilisation"] > 0


def test_hospital_night_patrol_completes() -> None:
    report = run("hospital_day", start_at="21:59", duration_s=240, time_scale=30, drain_s=30)
    assert_all_finished(report, {"patrol": 1})
    patrol = report["mission_list"][0]
    assert patrol["robot"] == "hospital-patrol-01"
    assert report["robots"]["by_kind"]["patrol"]["distance_m"] > 20
    assert report["disinfection"]["coverage"] is None
    assert report["expect"]["disinfection_coverage_min"]["met"] is None


def test_plaza_dawn_spray_covers_every_target() -> None:
    report = run("plaza_patrol", start_at="05:59", duration_s=120, time_scale=60, drain_s=40)
    assert_all_finished(report, {"disinfection": 1})
    assert report["disinfection"] == {
        "missions": 1,
        "points": 3,
        "points_passed": 3,
        "coverage": 1.0,
    }
    assert report["expect"]["disinfection_coverage_min"]["met"] is True
    assert report["robots"]["by_kind"]["spray"]["energy_wh"] > 0


def robot_side(report: dict[str, Any]) -> dict[str, Any]:
    return {r["robot"]: r for r in report["robots"]["robots"]}


def test_one_seed_gives_one_report_up_to_timing_noise() -> None:
    """Counts and the fault plan match exactly; robot-side KPIs within 5 % (orders reach
    the robots at real-time-dependent moments, which shifts start times by a few tenths
    of simulated seconds per hop at this scale)."""
    first = run("hospital_day", start_at="21:59", duration_s=240, time_scale=30, seed=5)
    second = run("hospital_day", start_at="21:59", duration_s=240, time_scale=30, seed=5)
    assert first["seed"] == second["seed"] == 5
    assert first["missions"]["totals"] == second["missions"]["totals"]
    assert first["faults_planned"] == second["faults_planned"]
    assert [m["robot"] for m in first["mission_list"]] == [
        m["robot"] for m in second["mission_list"]
    ]
    a, b = robot_side(first), robot_side(second)
    assert a.keys() == b.keys()
    for serial in a:
        for key in ("distance_m", "energy_wh", "charging_s", "utilisation"):
            assert b[serial][key] == pytest.approx(a[serial][key], rel=0.05, abs=0.5), (
                serial,
                key,
            )

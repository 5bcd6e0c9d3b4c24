"""Thirty robots on the clinic (two floors, lifts) for a compressed day, under traffic control.

`clinic_day_30` packs a clinic's day of guidance across floors, UV-C rounds, patrols and an
emergency into 20 simulated minutes with 30 robots running the real agent over a real
broker, against a real server, at 30x real time (about a minute of wall time). Every
mission must finish; the server's traffic control must hold no two conflicting
reservations and leave no deadlock unresolved; the three guides that start low on
battery charge, and no battery runs flat.
"""

from __future__ import annotations

import asyncio

import pytest

from fleet_cli.sim_run import ScenarioRunOptions, run_scenario

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_thirty_robots_finish_a_compressed_clinic_day_without_conflicts() -> None:
    report = asyncio.run(
        run_scenario("clinic_day_30", ScenarioRunOptions(time_scale=30, drain_s=60))
    )
    assert report["robots_count"] == 30
    totals = report["missions"]["totals"]
    refused = [m for m in report["mission_list"] if m["id"] is None]
    assert not refused, (
        f"{len(refused)} missions were refused when the scenario created them "
        f"({totals['created']} created, {len(report['mission_list'])} listed): "
        + "; ".join(f"{m['entry']} at {m['at_s']:.0f} s: {m['error']}" for m in refused)
    )
    assert totals["created"] == len(report["mission_list"]) >= 15
    unfinished = [m for m in report["mission_list"] if m["state"] != "completed"]
    assert not unfinished, (
        f"{len(unfinished)} of {totals['created']} missions did not complete "
        f"(drained: {report['drained']}): "
        + "; ".join(
            f"{m['entry']} at {m['at_s']:.0f} s: {m['state']} on {m.get('robot')}"
            for m in unfinished
        )
        + f"; traffic: {report['traffic']}"
    )
    assert totals["completed"] == totals["created"]
    assert report["drained"] is True
    traffic = report["traffic"]
    assert traffic["reservation_conflicts"] == 0, traffic
    assert traffic["deadlocks"] == traffic["deadlocks_unresolved"] == 0, traffic
    assert traffic["errors"] == 0 and traffic["unmanaged"] == 0, traffic
    # The crowd needed traffic control: paths were released in steps, robots made way.
    assert traffic["updates_sent"] > totals["created"]
    assert traffic["make_way"] + traffic["reroutes"] > 0
    # Across floors: some guidance went up by lift to the L2 counters.
    upstairs = [m for m in report["mission_list"] if m["entry"].startswith("guide-entrance-to-l2")]
    assert upstairs and all(m["state"] == "completed" for m in upstairs)
    assert report["disinfection"]["coverage"] == 1.0
    # Charging: the three guides that start low charge; no battery runs flat.
    robots = report["robots"]["robots"]
    low = [r for r in robots if r["robot"].startswith("clinic-guide-low-")]
    assert len(low) == 3 and all(r["charging_s"] > 0 for r in low), low
    assert all(r["battery_end_pct"] > r["battery_min_pct"] for r in low), low
    assert all(r["battery_min_pct"] > 5 for r in robots)
    assert report["expect"]["all_met"] is True, report["expect"]

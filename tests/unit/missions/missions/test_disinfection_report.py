"""Disinfection report: pass, fail, missing results, interruptions, rooms, JSON and HTML."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest

from missions.report import (
    ActionOutcome,
    DisinfectionReport,
    Interruption,
    PlannedPoint,
    ResultFormatError,
    SprayDisinfectResult,
    UvDisinfectResult,
    build_disinfection_report,
    room_planned_points,
)
from missions.types import DisinfectionMission, Language, parse_mission
from missions.uv_dose import LampModel, plan_room

T0 = datetime(2025, 3, 1, 20, 0, tzinfo=UTC)
GENERATED = datetime(2025, 3, 1, 21, 0, tzinfo=UTC)
LAMP = LampModel(irradiance_at_1m_mw_cm2=2.67, lamp_height_m=1.5)
WARD = [(0.0, 0.0), (7.5, 0.0), (7.5, 6.0), (0.0, 6.0)]


def _uv_mission(**extra: Any) -> DisinfectionMission:
    body = {
        "kind": "disinfection",
        "site": "clinic",
        "name": "Ward 3 terminal clean",
        "method": "uv",
        "targets": [{"waypoint": "bed_1"}, {"waypoint": "bed_2"}],
        **extra,
    }
    mission = parse_mission(body)
    assert isinstance(mission, DisinfectionMission)
    return mission


def _uv_done(
    action_id: str, dose: float, dwell: float, interruptions: list[Interruption] | None = None
) -> ActionOutcome:
    result = UvDisinfectResult(
        delivered_dose_mj_cm2=dose,
        dwell_s=dwell,
        distance_m=1.0,
        started_at=T0,
        finished_at=T0 + timedelta(seconds=dwell),
        interruptions=interruptions or [],
    )
    return ActionOutcome(action_id, "FINISHED", result.to_result_description())


POINTS = [
    PlannedPoint("uv-1", "bed_1", level="L1", x=1.0, y=2.0, planned_dwell_s=3.8),
    PlannedPoint("uv-2", "bed_2", level="L1", x=4.0, y=2.0, planned_dwell_s=3.8),
]


def _report(
    mission: DisinfectionMission,
    points: list[PlannedPoint],
    outcomes: list[ActionOutcome],
    **kw: Any,
) -> DisinfectionReport:
    return build_disinfection_report(mission, points, outcomes, generated_at=GENERATED, **kw)


def test_every_point_at_dose_passes() -> None:
    report = _report(
        _uv_mission(), POINTS, [_uv_done("uv-1", 10.2, 3.8), _uv_done("uv-2", 10.0, 3.8)]
    )
    assert report.passed and report.verdict == "pass"
    assert [p.passed for p in report.points] == [True, True]
    assert report.points[0].target == 10.0 and report.points[0].delivered == 10.2
    assert report.points[0].unit == "mJ/cm²"
    assert report.rooms == [] and report.unplanned_action_ids == []


def test_a_point_below_target_fails_the_mission() -> None:
    report = _report(
        _uv_mission(), POINTS, [_uv_done("uv-1", 10.2, 3.8), _uv_done("uv-2", 9.1, 3.4)]
    )
    assert not report.passed and report.verdict == "fail"
    failed = report.points[1]
    assert not failed.passed
    assert [r.code for r in failed.reasons] == ["below_target"]
    assert failed.reasons[0].message == "delivered 9.1 mJ/cm², below the target 10.0 mJ/cm²"


def test_point_target_overrides_mission_target() -> None:
    points = [PlannedPoint("uv-1", "bed_1", target_dose_mj_cm2=37.3), POINTS[1]]
    report = _report(
        _uv_mission(), points, [_uv_done("uv-1", 20.0, 7.5), _uv_done("uv-2", 10.0, 3.8)]
    )
    assert report.points[0].target == 37.3 and not report.points[0].passed
    assert report.points[1].passed


def test_missing_result_counts_as_fail_with_reason() -> None:
    report = _report(_uv_mission(), POINTS, [_uv_done("uv-1", 10.2, 3.8)])
    assert not report.passed
    missing = report.points[1]
    assert not missing.passed and missing.status is None and missing.delivered is None
    assert [r.code for r in missing.reasons] == ["no_result"]


@pytest.mark.parametrize(
    ("outcome", "codes"),
    [
        (ActionOutcome("uv-2", "RUNNING"), ["not_finished"]),
        (ActionOutcome("uv-2", "FINISHED"), ["no_result_description"]),
        (ActionOutcome("uv-2", "FINISHED", "lamp ok, 10 mJ"), ["unreadable_result"]),
        (ActionOutcome("uv-2", "FINISHED", '{"v": 1, "dwellS": 3.8}'), ["unreadable_result"]),
        (
            ActionOutcome("uv-2", "FINISHED", '{"v": 2, "deliveredDoseMjCm2": 10, "dwellS": 4}'),
            ["unreadable_result"],
        ),
        (
            ActionOutcome("uv-2", "FAILED", '{"deliveredDoseMjCm2": 4.0, "dwellS": 1.5}'),
            ["action_failed", "below_target"],
        ),
        (
            ActionOutcome("uv-2", "FAILED", "no UV lamp on this robot"),
            ["action_failed_because"],
        ),
    ],
    ids=[
        "running",
        "no-description",
        "free-text",
        "no-dose",
        "future-version",
        "failed-partial",
        "failed-explained",
    ],
)
def test_unusable_outcomes_fail_with_a_reason(outcome: ActionOutcome, codes: list[str]) -> None:
    report = _report(_uv_mission(), POINTS, [_uv_done("uv-1", 10.2, 3.8), outcome])
    assert not report.passed
    assert [r.code for r in report.points[1].reasons] == codes


def test_unreadable_result_names_the_field() -> None:
    with pytest.raises(ResultFormatError, match="deliveredDoseMjCm2"):
        UvDisinfectResult.from_result_description('{"v": 1, "dwellS": 3.8}')
    with pytest.raises(ResultFormatError, match=r"interruptions\.0\.durationS"):
        UvDisinfectResult.from_result_description(
            '{"deliveredDoseMjCm2": 1, "dwellS": 1, "interruptions": '
            '[{"startedAt": "2025-03-01T20:00:00Z", "durationS": -3, "cause": "doorOpened"}]}'
        )


def test_interruptions_are_counted_timed_and_classified() -> None:
    trips = [
        Interruption(started_at=T0 + timedelta(seconds=2), duration_s=3.1, cause="personDetected"),
        Interruption(started_at=T0 + timedelta(seconds=9), duration_s=12.0, cause="pauseRequested"),
        Interruption(started_at=T0 + timedelta(seconds=30), duration_s=0.9, cause="doorOpened"),
    ]
    outcomes = [_uv_done("uv-1", 10.5, 3.9, trips), _uv_done("uv-2", 10.0, 3.8, trips[:1])]
    report = _report(_uv_mission(), POINTS, outcomes)
    assert report.passed  # resumed and completed: interruptions alone do not fail a point
    first = report.points[0].interruption_summary
    assert (first.count, first.interlock_trips) == (3, 2)
    assert first.total_s == pytest.approx(16.0)
    total = report.interruption_summary
    assert (total.count, total.interlock_trips) == (4, 3)
    assert total.total_s == pytest.approx(19.1)


def test_result_description_round_trips_in_protocol_form() -> None:
    result = UvDisinfectResult(
        delivered_dose_mj_cm2=12.3,
        dwell_s=14.2,
        interruptions=[Interruption(started_at=T0, duration_s=3.1, cause="personDetected")],
    )
    text = result.to_result_description()
    assert json.loads(text) == {
        "v": 1,
        "deliveredDoseMjCm2": 12.3,
        "dwellS": 14.2,
        "doseSource": "model",
        "interruptions": [
            {"startedAt": "2025-03-01T20:00:00Z", "durationS": 3.1, "cause": "personDetected"}
        ],
    }
    assert UvDisinfectResult.from_result_description(text) == result
    # Robots may add fields; they are ignored rather than refused.
    extended = json.dumps({**json.loads(text), "lampTemperatureC": 41})
    assert UvDisinfectResult.from_result_description(extended) == result


def test_last_outcome_for_an_action_wins_and_strays_are_listed() -> None:
    outcomes = [
        ActionOutcome("uv-1", "RUNNING"),
        _uv_done("uv-1", 10.2, 3.8),
        _uv_done("uv-2", 10.0, 3.8),
        _uv_done("uv-99", 10.0, 3.8),
    ]
    report = _report(_uv_mission(), POINTS, outcomes)
    assert report.passed
    assert report.unplanned_action_ids == ["uv-99"]


def test_action_outcome_from_vda5050_action_state() -> None:
    state = {
        "actionId": "uv-1",
        "actionType": "uvDisinfect",
        "actionStatus": "FINISHED",
        "resultDescription": "{}",
    }
    assert ActionOutcome.from_action_state(state) == ActionOutcome("uv-1", "FINISHED", "{}")
    with pytest.raises(ValueError, match=r"actionState\.actionStatus"):
        ActionOutcome.from_action_state({"actionId": "uv-1", "actionStatus": "DONE"})
    with pytest.raises(ValueError, match=r"actionState\.actionId"):
        ActionOutcome.from_action_state({"actionStatus": "FINISHED"})


def _room_setup() -> tuple[DisinfectionMission, list[PlannedPoint], Any]:
    mission = _uv_mission(targets=[{"room": "ward_3"}])
    plan = plan_room(WARD, LAMP, mission.target_dose_mj_cm2 or 0.0, dwell_point_count=4)
    ids = [f"ward_3-{i}" for i in range(4)]
    return mission, room_planned_points("ward_3", "L1", plan, ids), plan


def test_room_passes_when_every_dwell_point_completes() -> None:
    mission, points, plan = _room_setup()
    outcomes = [_uv_done(p.action_id, 3.0, p.planned_dwell_s or 0.0) for p in points]
    report = _report(mission, points, outcomes, room_plans={"ward_3": plan})
    (room,) = report.rooms
    assert room.passed and report.passed
    assert room.delivered == pytest.approx(plan.min_dose_mj_cm2)
    assert room.target == 10.0 and room.point_count == 4
    assert room.delivered_min_at is not None


def test_room_recomputes_its_dose_from_the_dwell_achieved() -> None:
    mission, points, plan = _room_setup()
    longest = max(points, key=lambda p: p.planned_dwell_s or 0.0)
    outcomes = [
        _uv_done(p.action_id, 1.0, (p.planned_dwell_s or 0.0) * (0.5 if p is longest else 1.0))
        for p in points
    ]
    report = _report(mission, points, outcomes, room_plans={"ward_3": plan})
    (room,) = report.rooms
    assert not room.passed and not report.passed
    assert room.delivered is not None and room.delivered < 10.0
    assert {r.code for r in room.reasons} == {"point_failed", "below_target"}
    short = next(p for p in report.points if p.action_id == longest.action_id)
    assert [r.code for r in short.reasons] == ["short_dwell"]


def test_room_without_a_plan_cannot_pass() -> None:
    mission, points, _ = _room_setup()
    outcomes = [_uv_done(p.action_id, 3.0, p.planned_dwell_s or 0.0) for p in points]
    report = _report(mission, points, outcomes)
    assert [r.code for r in report.rooms[0].reasons] == ["no_room_plan"]
    assert not report.passed


def test_spray_report_sums_volume_and_gives_re_entry_time() -> None:
    mission = parse_mission(
        {
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
    )
    assert isinstance(mission, DisinfectionMission)
    points = [PlannedPoint("sp-1", "ward_1", room="ward_1", planned_volume_ml=480.0)]
    finished = T0 + timedelta(minutes=2)
    result = SprayDisinfectResult(sprayed_volume_ml=481.0, duration_s=120.0, finished_at=finished)
    outcome = ActionOutcome("sp-1", "FINISHED", result.to_result_description())
    report = _report(mission, points, [outcome])
    assert report.passed
    assert report.rooms[0].unit == "mL" and report.rooms[0].delivered == 481.0
    assert report.safe_to_reenter_after == finished + timedelta(hours=1)
    short = SprayDisinfectResult(sprayed_volume_ml=300.0, duration_s=80.0, finished_at=finished)
    failed = _report(
        mission, points, [ActionOutcome("sp-1", "FINISHED", short.to_result_description())]
    )
    assert not failed.passed and not failed.rooms[0].passed


def test_caller_mistakes_are_refused() -> None:
    mission = _uv_mission()
    with pytest.raises(ValueError, match="at least one planned point"):
        build_disinfection_report(mission, [], [])
    with pytest.raises(ValueError, match="duplicate action_id"):
        build_disinfection_report(mission, [POINTS[0], POINTS[0]], [])
    with pytest.raises(ValueError, match="room_dwell_index"):
        build_disinfection_report(mission, [PlannedPoint("a", "r #1", room="r")], [])


def test_json_report_is_machine_readable() -> None:
    report = _report(_uv_mission(), POINTS, [_uv_done("uv-1", 10.2, 3.8)])
    data = json.loads(report.to_json())
    assert data["verdict"] == "fail"
    assert data["generated_at"] == "2025-03-01T21:00:00Z"
    assert data["points"][1]["reasons"][0]["code"] == "no_result"
    assert DisinfectionReport.model_validate(data) == report


class _TextAndTags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_escapes_everything_from_outside() -> None:
    hostile = '<script>alert("x")</script>'
    mission = _uv_mission(name=hostile, targets=[{"waypoint": "bed_1"}])
    points = [PlannedPoint("uv-1", "<img src=x onerror=alert(1)>", level="L&1")]
    interruption = Interruption(started_at=T0, duration_s=2.0, cause="bogusCause")
    page = _report(mission, points, [_uv_done("uv-1", 10.0, 3.8, [interruption])]).to_html()
    parser = _TextAndTags()
    parser.feed(page)
    assert "script" not in parser.tags and "img" not in parser.tags
    text = "".join(parser.text)
    assert hostile in text and "<img src=x onerror=alert(1)>" in text and "L&1" in text
    assert "&lt;script&gt;" in page and "L&amp;1" in page
    assert "bogusCause" in text  # unknown causes are shown as given, escaped


def test_html_is_printable_and_self_contained() -> None:
    page = _report(_uv_mission(), POINTS, [_uv_done("uv-1", 10.2, 3.8)]).to_html()
    assert page.startswith("<!DOCTYPE html>")
    assert "@media print" in page and "@page" in page
    assert not re.search(r"<(script|link)\b|src=|https?://", page)
    assert "FAIL" in page and "no result reported" in page


def test_html_in_chinese() -> None:
    trip = Interruption(started_at=T0, duration_s=3.1, cause="personDetected")
    outcomes = [_uv_done("uv-1", 10.2, 3.8, [trip]), _uv_done("uv-2", 9.0, 3.4)]
    page = _report(_uv_mission(), POINTS, outcomes).to_html(Language.ZH_CN)
    assert '<html lang="zh-CN">' in page
    for phrase in ("消毒报告", "不合格", "检测到人员", "实际剂量 9.0 mJ/cm²，低于目标 10.0 mJ/cm²"):
        assert phrase in page


@pytest.mark.parametrize(("shortfall_s", "passes"), [(0.04, True), (0.2, False)])
def test_robot_timing_tolerance_holds_for_points_and_room(shortfall_s: float, passes: bool) -> None:
    """The plan's margin means a point that passes within tolerance leaves no room shortfall."""
    mission, points, plan = _room_setup()
    outcomes = [
        _uv_done(p.action_id, 3.0, max(0.0, (p.planned_dwell_s or 0.0) - shortfall_s))
        for p in points
    ]
    report = _report(mission, points, outcomes, room_plans={"ward_3": plan})
    assert [p.passed for p in report.points] == [passes] * 4
    assert report.rooms[0].passed is passes
    assert report.passed is passes


def test_more_than_200_interruptions_is_refused() -> None:
    trip = {"startedAt": "2025-03-01T20:00:00Z", "durationS": 1.0, "cause": "doorOpened"}
    body = {"deliveredDoseMjCm2": 10.0, "dwellS": 4.0}
    UvDisinfectResult.from_result_description(json.dumps({**body, "interruptions": [trip] * 200}))
    with pytest.raises(ResultFormatError, match="interruptions"):
        UvDisinfectResult.from_result_description(
            json.dumps({**body, "interruptions": [trip] * 201})
        )

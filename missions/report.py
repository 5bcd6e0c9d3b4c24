"""Disinfection report: did every point and every room get its dose?

How a robot reports an action's result
--------------------------------------
VDA 5050 (§6.11, §6.10.6) gives each action state a free-text ``resultDescription``,
reported when the action is FINISHED (or FAILED). For our ``uvDisinfect`` and
``sprayDisinfect`` actions that string is a compact JSON object (camelCase, like the rest
of VDA 5050); ``docs/protocol.md`` ("uvDisinfect / sprayDisinfect results") is the
reference. ``uvDisinfect``::

    {"v": 1, "deliveredDoseMjCm2": 12.3, "dwellS": 14.2, "distanceM": 1.0,
     "doseSource": "model", "startedAt": "2025-03-01T20:15:02Z",
     "finishedAt": "2025-03-01T20:15:19Z",
     "interruptions": [{"startedAt": "2025-03-01T20:15:08Z", "durationS": 3.1,
                        "cause": "personDetected"}]}

``sprayDisinfect``::

    {"v": 1, "sprayedVolumeMl": 480.0, "durationS": 95.0, "startedAt": "...",
     "finishedAt": "...", "interruptions": []}

``deliveredDoseMjCm2`` is the dose at ``distanceM`` from the lamp (normal incidence)
accumulated while the lamp was on; ``dwellS`` is the lamp-on time, interruptions
excluded. Interruption ``cause`` is camelCase; known causes are listed in
:data:`INTERRUPTION_CAUSES`, of which :data:`INTERLOCK_CAUSES` are safety-interlock trips.
Unknown fields are ignored so robots can add to the object; ``v`` other than 1 is refused.

The report
----------
:func:`build_disinfection_report` joins the planned points (what the server sent) with
the action outcomes (what the robot reported) into a :class:`DisinfectionReport`: per
point and per room the target, what was delivered, interruptions (count, total time,
interlock trips) and pass/fail with reasons; and one overall verdict. A point without a
readable FINISHED result fails. A UV room's delivered dose is recomputed from the dwell
times the robot achieved at each of its dwell points with the room's dose plan
(:class:`missions.uv_dose.RoomDosePlan`), so an interrupted-and-abandoned dwell point
shows up as the dose it left missing somewhere in the room.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, Self

import numpy as np
from pydantic import (
    AllowInfNan,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    ValidationError,
)
from pydantic.alias_generators import to_camel

from missions.types import DisinfectionMethod, DisinfectionMission, Language
from missions.uv_dose import DWELL_TOLERANCE_S, RoomDosePlan

_Number = Annotated[float, Strict(), AllowInfNan(False)]
_Cause = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9]{0,63}$")]

INTERLOCK_CAUSES = frozenset({"personDetected", "motionDetected", "doorOpened"})
"""Causes that are safety-interlock trips: the lamp went off because someone could be exposed."""

INTERRUPTION_CAUSES = INTERLOCK_CAUSES | {
    "pauseRequested",
    "emergencyStop",
    "lampFault",
    "lowBattery",
    "other",
}
"""Interruption causes a robot should use; others are accepted and shown as given."""

VDA5050_ACTION_STATUSES = frozenset(
    {"WAITING", "INITIALIZING", "RUNNING", "PAUSED", "FINISHED", "FAILED"}
)
"""VDA 5050 §6.11 Table 2 (the 2.1.0 JSON schema omits PAUSED; the text has it)."""

_RESULT_CONFIG = ConfigDict(
    alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
)


class ResultFormatError(ValueError):
    """A ``resultDescription`` that is not the JSON object the protocol defines."""


class Interruption(BaseModel):
    """A stretch during an action when the lamp (or sprayer) was off against the plan."""

    model_config = _RESULT_CONFIG

    started_at: AwareDatetime
    duration_s: _Number = Field(ge=0)
    cause: _Cause

    @property
    def is_interlock_trip(self) -> bool:
        """Whether a safety interlock (person, motion, door) caused this interruption."""
        return self.cause in INTERLOCK_CAUSES


class _ActionResult(BaseModel):
    model_config = _RESULT_CONFIG

    v: Literal[1] = 1
    started_at: AwareDatetime | None = None
    finished_at: AwareDatetime | None = None
    interruptions: list[Interruption] = Field(default_factory=list, max_length=200)

    def to_result_description(self) -> str:
        """The compact JSON string for VDA 5050 ``actionState.resultDescription``."""
        return self.model_dump_json(by_alias=True, exclude_none=True)

    @classmethod
    def from_result_description(cls, text: str) -> Self:
        """Parse a ``resultDescription``; :class:`ResultFormatError` names the bad field."""
        try:
            return cls.model_validate_json(text)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or '(result)'}: {e['msg']}"
                for e in exc.errors(include_url=False)
            )
            raise ResultFormatError(problems) from exc


class UvDisinfectResult(_ActionResult):
    """What a robot reports when a ``uvDisinfect`` action ends."""

    delivered_dose_mj_cm2: _Number = Field(ge=0)
    dwell_s: _Number = Field(ge=0)
    distance_m: _Number | None = Field(None, gt=0)
    dose_source: Literal["model", "sensor"] = "model"


class SprayDisinfectResult(_ActionResult):
    """What a robot reports when a ``sprayDisinfect`` action ends."""

    sprayed_volume_ml: _Number = Field(ge=0)
    duration_s: _Number = Field(ge=0)


@dataclass(frozen=True)
class ActionOutcome:
    """The last action state a robot reported for one action (VDA 5050 §6.11)."""

    action_id: str
    action_status: str
    result_description: str | None = None

    @classmethod
    def from_action_state(cls, state: Mapping[str, Any]) -> ActionOutcome:
        """Build from a VDA 5050 ``actionState`` JSON object; ValueError names the bad field."""
        action_id = state.get("actionId")
        status = state.get("actionStatus")
        result = state.get("resultDescription")
        if not isinstance(action_id, str) or not action_id:
            raise ValueError(
                f"actionState.actionId: expected a non-empty string, got {action_id!r}"
            )
        if status not in VDA5050_ACTION_STATUSES:
            raise ValueError(
                f"actionState.actionStatus: expected one of {sorted(VDA5050_ACTION_STATUSES)}, "
                f"got {status!r}"
            )
        if result is not None and not isinstance(result, str):
            raise ValueError("actionState.resultDescription: expected a string")
        return cls(action_id, str(status), result)


@dataclass(frozen=True)
class PlannedPoint:
    """One disinfection action the server planned, as the report needs to know it.

    A UV point or waypoint target carries its own ``target_dose_mj_cm2`` (None: the
    mission's). A UV dwell point planned for a room carries ``room`` and
    ``room_dwell_index``, its index in that room's :class:`RoomDosePlan`; the room carries
    the target. A spray point carries ``planned_volume_ml`` and, for a room, ``room``.
    """

    action_id: str
    label: str
    level: str | None = None
    x: float | None = None
    y: float | None = None
    room: str | None = None
    room_dwell_index: int | None = None
    planned_dwell_s: float | None = None
    target_dose_mj_cm2: float | None = None
    planned_volume_ml: float | None = None


def room_planned_points(
    room: str, level: str | None, plan: RoomDosePlan, action_ids: Sequence[str]
) -> list[PlannedPoint]:
    """Planned points for every dwell point of a room plan, labelled ``room #n``."""
    if len(action_ids) != len(plan.dwell_points):
        raise ValueError(
            f"action_ids: {len(action_ids)} given for {len(plan.dwell_points)} dwell points"
        )
    return [
        PlannedPoint(
            action_id=action_id,
            label=f"{room} #{index + 1}",
            level=level,
            x=point.x,
            y=point.y,
            room=room,
            room_dwell_index=index,
            planned_dwell_s=point.dwell_s,
        )
        for index, (action_id, point) in enumerate(zip(action_ids, plan.dwell_points, strict=True))
    ]


# ------------------------------------------------------------------- report model


class FailureReason(BaseModel):
    """Why a point or room failed: a stable code, its values, and an English message."""

    model_config = ConfigDict(frozen=True)

    code: str
    values: dict[str, str] = Field(default_factory=dict)
    message: str


_REASON_TEXT: Mapping[Language, Mapping[str, str]] = {
    Language.EN: {
        "no_result": "no result reported",
        "not_finished": "action not finished (last state {status})",
        "action_failed": "action FAILED",
        "action_failed_because": "action FAILED: {text}",
        "no_result_description": "FINISHED without a resultDescription",
        "unreadable_result": "unreadable resultDescription: {error}",
        "below_target": "delivered {delivered} {unit}, below the target {target} {unit}",
        "short_dwell": "lamp on for {dwell} s, less than the planned {planned} s",
        "no_room_plan": "no dose plan for this room, so its dose cannot be computed",
        "point_failed": "{count} of its points failed",
    },
    Language.ZH_CN: {
        "no_result": "未收到结果",
        "not_finished": "动作未完成（最后状态 {status}）",
        "action_failed": "动作失败（FAILED）",
        "action_failed_because": "动作失败（FAILED）：{text}",
        "no_result_description": "已完成但没有 resultDescription",
        "unreadable_result": "无法解析的 resultDescription：{error}",
        "below_target": "实际剂量 {delivered} {unit}，低于目标 {target} {unit}",
        "short_dwell": "灯管开启 {dwell} 秒，少于计划的 {planned} 秒",
        "no_room_plan": "该房间没有剂量规划，无法计算剂量",
        "point_failed": "其中 {count} 个点不合格",
    },
}


def _reason(code: str, **values: str) -> FailureReason:
    return FailureReason(
        code=code, values=values, message=_REASON_TEXT[Language.EN][code].format(**values)
    )


class InterruptionSummary(BaseModel):
    """Interruptions of one point or room: how many, how long, how many interlock trips."""

    model_config = ConfigDict(frozen=True)

    count: int = 0
    total_s: float = 0.0
    interlock_trips: int = 0

    @classmethod
    def of(cls, interruptions: Sequence[Interruption]) -> InterruptionSummary:
        """Summarise a list of interruptions."""
        return cls(
            count=len(interruptions),
            total_s=sum(i.duration_s for i in interruptions),
            interlock_trips=sum(i.is_interlock_trip for i in interruptions),
        )

    def __add__(self, other: InterruptionSummary) -> InterruptionSummary:
        return InterruptionSummary(
            count=self.count + other.count,
            total_s=self.total_s + other.total_s,
            interlock_trips=self.interlock_trips + other.interlock_trips,
        )


Unit = Literal["mJ/cm²", "mL"]


class PointReport(BaseModel):
    """One planned point: what it should have had, what it got, and the verdict."""

    model_config = ConfigDict(frozen=True)

    action_id: str
    label: str
    room: str | None
    room_dwell_index: int | None
    level: str | None
    x: float | None
    y: float | None
    status: str | None
    unit: Unit
    target: float | None
    delivered: float | None
    planned_dwell_s: float | None
    dwell_s: float | None
    interruptions: list[Interruption]
    interruption_summary: InterruptionSummary
    passed: bool
    reasons: list[FailureReason]


class RoomReport(BaseModel):
    """One room: its target, the lowest dose anywhere in it (UV) or the volume sprayed."""

    model_config = ConfigDict(frozen=True)

    room: str
    unit: Unit
    target: float | None
    delivered: float | None
    delivered_min_at: tuple[float, float] | None
    point_count: int
    interruption_summary: InterruptionSummary
    passed: bool
    reasons: list[FailureReason]


class DisinfectionReport(BaseModel):
    """The proof of a disinfection mission: per point, per room and overall."""

    model_config = ConfigDict(frozen=True)

    mission_name: str | None
    site: str
    method: DisinfectionMethod
    target_dose_mj_cm2: float | None
    agent: str | None
    generated_at: AwareDatetime
    points: list[PointReport]
    rooms: list[RoomReport]
    unplanned_action_ids: list[str]
    interruption_summary: InterruptionSummary
    safe_to_reenter_after: AwareDatetime | None
    passed: bool

    @property
    def verdict(self) -> Literal["pass", "fail"]:
        """'pass' only if every point and every room passed."""
        return "pass" if self.passed else "fail"

    def to_json(self) -> str:
        """Machine-readable report (JSON, snake_case, UTC timestamps)."""
        data = self.model_dump(mode="json")
        data["verdict"] = self.verdict
        return json.dumps(data, ensure_ascii=False, indent=2)

    def to_html(self, language: Language = Language.EN) -> str:
        """Printable, self-contained HTML (no scripts, no external files), all text escaped."""
        return _render_html(self, language)


# ------------------------------------------------------------------------ building


def build_disinfection_report(
    mission: DisinfectionMission,
    planned_points: Sequence[PlannedPoint],
    action_results: Sequence[ActionOutcome],
    room_plans: Mapping[str, RoomDosePlan] | None = None,
    generated_at: datetime | None = None,
) -> DisinfectionReport:
    """Join planned points with the robot's action outcomes into a report.

    ``action_results`` may hold several outcomes for one action; the last one counts.
    UV rooms need their dose plan in ``room_plans``; without it the room fails, because
    its dose cannot be shown.
    """
    _check_plan(mission, planned_points)
    outcomes = {outcome.action_id: outcome for outcome in action_results}
    planned_ids = {p.action_id for p in planned_points}
    results: dict[str, _ActionResult | None] = {}
    points = []
    for planned in planned_points:
        report, result = _point_report(mission, planned, outcomes.get(planned.action_id))
        points.append(report)
        results[planned.action_id] = result
    rooms = [
        _room_report(mission, room, [p for p in points if p.room == room], (room_plans or {}))
        for room in dict.fromkeys(p.room for p in planned_points if p.room is not None)
    ]
    total = InterruptionSummary()
    for point in points:
        total = total + point.interruption_summary
    return DisinfectionReport(
        mission_name=mission.name,
        site=mission.site,
        method=mission.method,
        target_dose_mj_cm2=mission.target_dose_mj_cm2,
        agent=mission.agent,
        generated_at=generated_at or datetime.now(UTC),
        points=points,
        rooms=rooms,
        unplanned_action_ids=sorted(set(outcomes) - planned_ids),
        interruption_summary=total,
        safe_to_reenter_after=_reentry_time(mission, list(results.values())),
        passed=all(p.passed for p in points) and all(r.passed for r in rooms),
    )


def _check_plan(mission: DisinfectionMission, planned_points: Sequence[PlannedPoint]) -> None:
    """Refuse a plan that cannot belong to this mission: a caller's mistake, not the robot's."""
    if not planned_points:
        raise ValueError("planned_points: a report needs at least one planned point")
    seen: set[str] = set()
    for index, planned in enumerate(planned_points):
        where = f"planned_points[{index}] ({planned.action_id!r})"
        if planned.action_id in seen:
            raise ValueError(f"{where}: duplicate action_id")
        seen.add(planned.action_id)
        if mission.method is DisinfectionMethod.SPRAY and planned.planned_volume_ml is None:
            raise ValueError(f"{where}: a spray point needs planned_volume_ml")
        room_point = mission.method is DisinfectionMethod.UV and planned.room is not None
        if room_point and (planned.room_dwell_index is None or planned.planned_dwell_s is None):
            raise ValueError(f"{where}: a UV room point needs room_dwell_index and planned_dwell_s")


def _point_report(
    mission: DisinfectionMission, planned: PlannedPoint, outcome: ActionOutcome | None
) -> tuple[PointReport, _ActionResult | None]:
    uv = mission.method is DisinfectionMethod.UV
    result, reasons = _read_outcome(outcome, UvDisinfectResult if uv else SprayDisinfectResult)
    target, delivered, dwell = _point_figures(mission, planned, result)
    unit: Unit = "mJ/cm²" if uv else "mL"
    if target is not None and delivered is not None and delivered < target * (1 - 1e-9):
        reasons.append(
            _reason("below_target", delivered=_fmt(delivered), target=_fmt(target), unit=unit)
        )
    planned_dwell = planned.planned_dwell_s
    # A room's dose is judged from its plan; per room point, the lamp-on time is what counts.
    if uv and planned.room is not None and _short_dwell(dwell, planned_dwell):
        reasons.append(
            _reason("short_dwell", dwell=_fmt(dwell or 0.0), planned=_fmt(planned_dwell or 0.0))
        )
    interruptions = list(result.interruptions) if result is not None else []
    report = PointReport(
        action_id=planned.action_id,
        label=planned.label,
        room=planned.room,
        room_dwell_index=planned.room_dwell_index,
        level=planned.level,
        x=planned.x,
        y=planned.y,
        status=outcome.action_status if outcome is not None else None,
        unit=unit,
        target=target,
        delivered=delivered,
        planned_dwell_s=planned_dwell,
        dwell_s=dwell,
        interruptions=interruptions,
        interruption_summary=InterruptionSummary.of(interruptions),
        passed=not reasons,
        reasons=reasons,
    )
    return report, result


def _short_dwell(dwell: float | None, planned: float | None) -> bool:
    return dwell is not None and planned is not None and dwell < planned - DWELL_TOLERANCE_S


def _read_outcome(
    outcome: ActionOutcome | None, result_type: type[_ActionResult]
) -> tuple[_ActionResult | None, list[FailureReason]]:
    """The parsed result (if readable) and what is wrong with the outcome as such.

    A FAILED action's result still counts for what it delivered (e.g. a room's dose).
    """
    if outcome is None:
        return None, [_reason("no_result")]
    reasons = []
    if outcome.action_status == "FAILED":
        reasons.append(_reason("action_failed"))
    elif outcome.action_status != "FINISHED":
        reasons.append(_reason("not_finished", status=outcome.action_status))
    if outcome.result_description is None:
        if outcome.action_status == "FINISHED":
            reasons.append(_reason("no_result_description"))
        return None, reasons
    try:
        return result_type.from_result_description(outcome.result_description), reasons
    except ResultFormatError as exc:
        if outcome.action_status == "FAILED" and not outcome.result_description.startswith("{"):
            # A failure explained in words ("no UV lamp on this robot") is not a format error.
            explained = _reason("action_failed_because", text=outcome.result_description[:300])
            return None, [explained]
        return None, [*reasons, _reason("unreadable_result", error=str(exc))]


def _point_figures(
    mission: DisinfectionMission, planned: PlannedPoint, result: _ActionResult | None
) -> tuple[float | None, float | None, float | None]:
    """(target, delivered, lamp-on or spraying time) for one point."""
    if isinstance(result, SprayDisinfectResult) or mission.method is DisinfectionMethod.SPRAY:
        spray = result if isinstance(result, SprayDisinfectResult) else None
        return (
            planned.planned_volume_ml,
            spray.sprayed_volume_ml if spray else None,
            spray.duration_s if spray else None,
        )
    uv = result if isinstance(result, UvDisinfectResult) else None
    target = None
    if planned.room is None:
        target = planned.target_dose_mj_cm2 or mission.target_dose_mj_cm2
    return target, uv.delivered_dose_mj_cm2 if uv else None, uv.dwell_s if uv else None


def _room_report(
    mission: DisinfectionMission,
    room: str,
    points: list[PointReport],
    room_plans: Mapping[str, RoomDosePlan],
) -> RoomReport:
    reasons: list[FailureReason] = []
    failed = sum(not p.passed for p in points)
    if failed:
        reasons.append(_reason("point_failed", count=str(failed)))
    summary = InterruptionSummary()
    for point in points:
        summary = summary + point.interruption_summary
    unit: Unit
    delivered_at: tuple[float, float] | None = None
    if mission.method is DisinfectionMethod.SPRAY:
        unit = "mL"
        target: float | None = sum(p.target or 0.0 for p in points)
        delivered: float | None = sum(p.delivered or 0.0 for p in points)
    else:
        unit = "mJ/cm²"
        plan = room_plans.get(room)
        target = plan.target_dose_mj_cm2 if plan else mission.target_dose_mj_cm2
        delivered = None
        if plan is None:
            reasons.append(_reason("no_room_plan"))
        else:
            delivered, delivered_at = _room_min_dose(plan, points)
    if target is not None and delivered is not None and delivered < target * (1 - 1e-9):
        reasons.append(
            _reason("below_target", delivered=_fmt(delivered), target=_fmt(target), unit=unit)
        )
    return RoomReport(
        room=room,
        unit=unit,
        target=target,
        delivered=delivered,
        delivered_min_at=delivered_at,
        point_count=len(points),
        interruption_summary=summary,
        passed=not reasons,
        reasons=reasons,
    )


def _room_min_dose(
    plan: RoomDosePlan, points: list[PointReport]
) -> tuple[float, tuple[float, float]]:
    """The room's lowest dose for the dwell times achieved; a point with no result gave 0 s."""
    achieved = np.zeros(len(plan.dwell_points))
    for point in points:
        index = point.room_dwell_index
        if index is None or not 0 <= index < len(plan.dwell_points):
            raise ValueError(
                f"{point.action_id!r}: room_dwell_index {index} is not one of the room plan's "
                f"{len(plan.dwell_points)} dwell points"
            )
        achieved[index] += point.dwell_s or 0.0
    doses = plan.dose_for_dwell(achieved)
    worst = int(np.argmin(doses))
    x, y = plan.sample_xy[worst]
    return float(doses[worst]), (float(x), float(y))


def _reentry_time(
    mission: DisinfectionMission, results: list[_ActionResult | None]
) -> datetime | None:
    """Spray: when people may go back in, if every point reported when it finished."""
    if mission.method is not DisinfectionMethod.SPRAY or mission.re_entry_time_s is None:
        return None
    finished = [r.finished_at if r is not None else None for r in results]
    if not finished or any(f is None for f in finished):
        return None
    return max(f for f in finished if f is not None) + timedelta(seconds=mission.re_entry_time_s)


def _fmt(value: float) -> str:
    return f"{value:.1f}"


# ---------------------------------------------------------------------------- HTML

_LABELS: Mapping[Language, Mapping[str, str]] = {
    Language.EN: {
        "title": "Disinfection report",
        "pass": "PASS",
        "fail": "FAIL",
        "site": "Site",
        "mission": "Mission",
        "method": "Method",
        "method_uv": "UV-C irradiation",
        "method_spray": "Spray",
        "target_dose": "Target dose",
        "agent": "Agent",
        "generated_at": "Generated",
        "reenter": "Safe to re-enter after",
        "interruptions": "Interruptions",
        "interruption_totals": "{count} ({total} s), interlock trips: {trips}",
        "rooms": "Rooms",
        "points": "Points",
        "room": "Room",
        "point": "Point",
        "level": "Level",
        "position": "Position (m)",
        "status": "Status",
        "target": "Target",
        "delivered": "Delivered",
        "room_min": "Lowest dose in room",
        "planned_dwell": "Planned (s)",
        "dwell": "Actual (s)",
        "result": "Result",
        "reasons": "Reasons",
        "started": "Started",
        "duration": "Duration (s)",
        "cause": "Cause",
        "unplanned": "Results for actions not in the plan",
        "no_interruptions": "No interruptions.",
        "checked_by": "Checked by",
        "date": "Date",
        "at": "at",
    },
    Language.ZH_CN: {
        "title": "消毒报告",
        "pass": "合格",
        "fail": "不合格",
        "site": "场所",
        "mission": "任务",
        "method": "方式",
        "method_uv": "紫外线（UV-C）照射",
        "method_spray": "喷雾",
        "target_dose": "目标剂量",
        "agent": "消毒剂",
        "generated_at": "生成时间",
        "reenter": "可重新进入时间",
        "interruptions": "中断",
        "interruption_totals": "{count} 次（共 {total} 秒），其中联锁触发 {trips} 次",
        "rooms": "房间",
        "points": "消毒点",
        "room": "房间",
        "point": "点位",
        "level": "楼层",
        "position": "位置（米）",
        "status": "状态",
        "target": "目标",
        "delivered": "实际",
        "room_min": "房间内最低剂量",
        "planned_dwell": "计划（秒）",
        "dwell": "实际（秒）",
        "result": "结果",
        "reasons": "原因",
        "started": "开始",
        "duration": "时长（秒）",
        "cause": "原因",
        "unplanned": "计划外动作的结果",
        "no_interruptions": "无中断。",
        "checked_by": "核对人",
        "date": "日期",
        "at": "位于",
    },
}

_CAUSE_TEXT: Mapping[Language, Mapping[str, str]] = {
    Language.EN: {
        "personDetected": "person detected",
        "motionDetected": "motion detected",
        "doorOpened": "door opened",
        "pauseRequested": "paused by operator",
        "emergencyStop": "emergency stop",
        "lampFault": "lamp fault",
        "lowBattery": "low battery",
        "other": "other",
    },
    Language.ZH_CN: {
        "personDetected": "检测到人员",
        "motionDetected": "检测到移动",
        "doorOpened": "门被打开",
        "pauseRequested": "操作员暂停",
        "emergencyStop": "急停",
        "lampFault": "灯管故障",
        "lowBattery": "电量低",
        "other": "其他",
    },
}

_CSS = """
body { font-family: "Noto Sans", "Noto Sans CJK SC", "Microsoft YaHei", Arial, sans-serif;
       font-size: 10.5pt; color: #111; margin: 1.5em; }
h1 { font-size: 16pt; margin: 0 0 .3em; }
h2 { font-size: 12.5pt; margin: 1.2em 0 .4em; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #888; padding: 3px 6px; text-align: left; vertical-align: top; }
th { background: #eee; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.meta { width: auto; }
table.meta th { width: 12em; }
.verdict { display: inline-block; font-size: 14pt; font-weight: bold; padding: 2px 12px;
           border: 3px solid currentColor; }
.pass { color: #05651f; }
.fail { color: #a3000b; }
.signature { margin-top: 2.5em; display: flex; gap: 4em; }
.signature span { display: inline-block; min-width: 14em; border-bottom: 1px solid #000; }
@page { size: A4; margin: 12mm; }
@media print {
  body { margin: 0; font-size: 9.5pt; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  thead { display: table-header-group; }
  tr, .signature { break-inside: avoid; page-break-inside: avoid; }
  h2 { break-after: avoid; page-break-after: avoid; }
}
"""


def _num(value: float | None) -> str:
    return "—" if value is None else _fmt(value)


def _amount(value: float | None, unit: str) -> str:
    return "—" if value is None else f"{_fmt(value)} {unit}"


def _time(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _render_html(report: DisinfectionReport, language: Language) -> str:
    return _HtmlPage(report, language).render()


class _HtmlPage:
    """One report as a printable page; every value from outside passes through ``escape``."""

    def __init__(self, report: DisinfectionReport, language: Language) -> None:
        self.report = report
        self.language = language
        self.text = _LABELS[language]

    @staticmethod
    def escape(value: str) -> str:
        return html.escape(value)

    def render(self) -> str:
        e, text, report = self.escape, self.text, self.report
        parts = [
            "<!DOCTYPE html>",
            f'<html lang="{e(self.language.value)}">',
            '<head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{e(text['title'])} — {e(report.site)}</title>",
            f"<style>{_CSS}</style></head>",
            "<body>",
            f"<h1>{e(text['title'])}</h1>",
            f'<p class="verdict {report.verdict}">{e(text[report.verdict])}</p>',
            *self.summary(),
            *self.rooms(),
            *self.points(),
            *self.interruptions(),
            *self.unplanned(),
            '<div class="signature">',
            f"<p>{e(text['checked_by'])}: <span></span></p>",
            f"<p>{e(text['date'])}: <span></span></p>",
            "</div>",
            "</body></html>",
        ]
        return "\n".join(parts) + "\n"

    def verdict(self, passed: bool) -> str:
        word = self.text["pass"] if passed else self.text["fail"]
        return f'<span class="{"pass" if passed else "fail"}">{self.escape(word)}</span>'

    def reasons(self, items: list[FailureReason]) -> str:
        texts = [_REASON_TEXT[self.language][r.code].format(**r.values) for r in items]
        return "<br>".join(self.escape(t) for t in texts)

    def interruption_totals(self, summary: InterruptionSummary) -> str:
        if summary.count == 0:
            return "—"
        totals = self.text["interruption_totals"].format(
            count=summary.count, total=_fmt(summary.total_s), trips=summary.interlock_trips
        )
        return self.escape(totals)

    def table_head(self, headers: list[str]) -> str:
        cells = "".join(f"<th>{self.escape(h)}</th>" for h in headers)
        return f"<table><thead><tr>{cells}</tr></thead><tbody>"

    def summary(self) -> list[str]:
        e, text, report = self.escape, self.text, self.report
        uv = report.method is DisinfectionMethod.UV
        rows = [
            (text["site"], e(report.site)),
            (text["mission"], e(report.mission_name or "—")),
            (text["method"], e(text["method_uv" if uv else "method_spray"])),
        ]
        if report.target_dose_mj_cm2 is not None:
            rows.append((text["target_dose"], e(_amount(report.target_dose_mj_cm2, "mJ/cm²"))))
        if report.agent is not None:
            rows.append((text["agent"], e(report.agent)))
        rows.append((text["interruptions"], self.interruption_totals(report.interruption_summary)))
        if report.safe_to_reenter_after is not None:
            rows.append((text["reenter"], e(_time(report.safe_to_reenter_after))))
        rows.append((text["generated_at"], e(_time(report.generated_at))))
        body = [f"<tr><th>{e(label)}</th><td>{value}</td></tr>" for label, value in rows]
        return ['<table class="meta"><tbody>', *body, "</tbody></table>"]

    def rooms(self) -> list[str]:
        e, text, report = self.escape, self.text, self.report
        if not report.rooms:
            return []
        uv = report.method is DisinfectionMethod.UV
        headers = [
            text["room"],
            text["target"],
            text["room_min"] if uv else text["delivered"],
            text["interruptions"],
            text["result"],
            text["reasons"],
        ]
        parts = [f"<h2>{e(text['rooms'])}</h2>", self.table_head(headers)]
        for room in report.rooms:
            where = ""
            if room.delivered_min_at is not None:
                x, y = room.delivered_min_at
                where = f" ({e(text['at'])} {x:.1f}, {y:.1f})"
            parts.append(
                "<tr>"
                f"<td>{e(room.room)}</td>"
                f'<td class="num">{e(_amount(room.target, room.unit))}</td>'
                f'<td class="num">{e(_amount(room.delivered, room.unit))}{where}</td>'
                f"<td>{self.interruption_totals(room.interruption_summary)}</td>"
                f"<td>{self.verdict(room.passed)}</td><td>{self.reasons(room.reasons)}</td></tr>"
            )
        return [*parts, "</tbody></table>"]

    def points(self) -> list[str]:
        e, text = self.escape, self.text
        keys = ["point", "room", "level", "position", "status", "target", "delivered"]
        keys += ["planned_dwell", "dwell", "interruptions", "result", "reasons"]
        parts = [f"<h2>{e(text['points'])}</h2>", self.table_head([text[k] for k in keys])]
        for point in self.report.points:
            position = "—"
            if point.x is not None and point.y is not None:
                position = f"{point.x:.2f}, {point.y:.2f}"
            parts.append(
                "<tr>"
                f"<td>{e(point.label)}</td><td>{e(point.room or '—')}</td>"
                f"<td>{e(point.level or '—')}</td><td>{e(position)}</td>"
                f"<td>{e(point.status or '—')}</td>"
                f'<td class="num">{e(_amount(point.target, point.unit))}</td>'
                f'<td class="num">{e(_amount(point.delivered, point.unit))}</td>'
                f'<td class="num">{e(_num(point.planned_dwell_s))}</td>'
                f'<td class="num">{e(_num(point.dwell_s))}</td>'
                f"<td>{self.interruption_totals(point.interruption_summary)}</td>"
                f"<td>{self.verdict(point.passed)}</td><td>{self.reasons(point.reasons)}</td></tr>"
            )
        return [*parts, "</tbody></table>"]

    def interruptions(self) -> list[str]:
        e, text = self.escape, self.text
        parts = [f"<h2>{e(text['interruptions'])}</h2>"]
        rows = [(point, i) for point in self.report.points for i in point.interruptions]
        if not rows:
            return [*parts, f"<p>{e(text['no_interruptions'])}</p>"]
        headers = [text["point"], text["started"], text["duration"], text["cause"]]
        parts.append(self.table_head(headers))
        for point, interruption in rows:
            cause = _CAUSE_TEXT[self.language].get(interruption.cause, interruption.cause)
            parts.append(
                f"<tr><td>{e(point.label)}</td><td>{e(_time(interruption.started_at))}</td>"
                f'<td class="num">{e(_fmt(interruption.duration_s))}</td><td>{e(cause)}</td></tr>'
            )
        return [*parts, "</tbody></table>"]

    def unplanned(self) -> list[str]:
        e = self.escape
        if not self.report.unplanned_action_ids:
            return []
        items = [f"<li>{e(action_id)}</li>" for action_id in self.report.unplanned_action_ids]
        return [f"<h2>{e(self.text['unplanned'])}</h2><ul>", *items, "</ul>"]

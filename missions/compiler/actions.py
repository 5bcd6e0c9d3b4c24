"""The node actions we put into orders, with the parameter keys the onboard agent reads.

Each builder returns an :class:`ActionSpec`: an action without its ``actionId``, which is
given once the action's place in the order is known (:func:`action_id`). The keys and
their meaning are documented in ``docs/protocol.md`` ("Custom actions").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import JsonValue

from missions.report import PlannedPoint
from missions.types import CheckKind, PatrolCheck
from missions.vda5050 import Action, ActionParameter, ActionParameterValue, BlockingType


@dataclass(frozen=True)
class DwellInfo:
    """What a UV or spray action at a stop plans, for ``dwell_points`` and the report.

    ``planned_point`` is complete but for its ``action_id``, filled in when ids are given.
    """

    dwell_s: float
    predicted_dose_mj_cm2: float | None
    volume_ml: float | None
    planned_point: PlannedPoint


@dataclass(frozen=True)
class ActionSpec:
    """An action to place on a node, before it has an id."""

    action_type: str
    blocking: BlockingType
    parameters: Mapping[str, ActionParameterValue]
    description: str | None = None
    duration_s: float = 0.0
    """Expected time the action holds the robot, for the mission's duration estimate."""
    dwell: DwellInfo | None = field(default=None, compare=False)

    def build(self, action_id: str) -> Action:
        """The VDA 5050 action with this id."""
        return Action(
            action_type=self.action_type,
            action_id=action_id,
            action_description=self.description,
            blocking_type=self.blocking,
            action_parameters=[ActionParameter(key=k, value=v) for k, v in self.parameters.items()]
            or None,
        )


def action_id(order_id: str, index: int, action_type: str) -> str:
    """Ids carry the orderId: an agent refuses an actionId it still holds from an earlier
    order (§6.6.6 asks for unique ids; the spec suggests UUIDs)."""
    return f"{order_id}-{index:03d}-{action_type}"


def speak(text: str, language: str | None) -> ActionSpec:
    """``speak``: SOFT, so the robot stands still while it talks; no language: the robot's."""
    params: dict[str, ActionParameterValue] = {"text": text}
    if language is not None:
        params["language"] = language
    return ActionSpec("speak", BlockingType.SOFT, params, description=text)


def patrol_check(dwell_s: float, checks: list[PatrolCheck]) -> ActionSpec:
    """``patrolCheck``: dwell, then evaluate the checks (agent vocabulary)."""
    return ActionSpec(
        "patrolCheck",
        BlockingType.HARD,
        {"dwellS": dwell_s, "checks": [_check_json(c) for c in checks]},
        duration_s=dwell_s,
    )


def _check_json(check: PatrolCheck) -> JsonValue:
    # The agent takes names, and {"temperature_below": N} for the one check with a limit.
    if check.kind is CheckKind.TEMPERATURE_BELOW and check.threshold_c is not None:
        return {check.kind.value: check.threshold_c}
    return check.kind.value


def uv_disinfect(
    *,
    dwell_s: float,
    target_dose_mj_cm2: float,
    distance_m: float,
    irradiance_at_1m_mw_cm2: float,
    room: str | None,
    dwell: DwellInfo,
) -> ActionSpec:
    """``uvDisinfect`` in dwell mode."""
    params: dict[str, ActionParameterValue] = {
        "lamp": "dwell",
        "dwellS": dwell_s,
        "targetDoseMjCm2": target_dose_mj_cm2,
        "distanceM": distance_m,
        "irradianceAt1mMwCm2": irradiance_at_1m_mw_cm2,
    }
    if room is not None:
        params["roomId"] = room
    return ActionSpec(
        "uvDisinfect",
        BlockingType.HARD,
        params,
        description=dwell.planned_point.label,
        duration_s=dwell_s,
        dwell=dwell,
    )


def spray_disinfect(
    *,
    agent: str,
    volume_ml: float,
    rate_ml_per_m3: float,
    volume_m3: float,
    contact_time_s: float | None,
    re_entry_time_s: float | None,
    room: str | None,
    duration_s: float,
    dwell: DwellInfo,
) -> ActionSpec:
    """``sprayDisinfect``: volumeMl = rate × volume."""
    params: dict[str, ActionParameterValue] = {
        "agent": agent,
        "volumeMl": volume_ml,
        "rateMlPerM3": rate_ml_per_m3,
        "roomVolumeM3": volume_m3,
    }
    if contact_time_s is not None:
        params["contactTimeS"] = contact_time_s
    if re_entry_time_s is not None:
        params["reEntryTimeS"] = re_entry_time_s
    if room is not None:
        params["roomId"] = room
    return ActionSpec(
        "sprayDisinfect",
        BlockingType.HARD,
        params,
        description=dwell.planned_point.label,
        duration_s=duration_s,
        dwell=dwell,
    )


def guide_wait_for_person(timeout_s: float) -> ActionSpec:
    """``guideWaitForPerson``; FAILED after ``timeout_s`` without the person."""
    return ActionSpec("guideWaitForPerson", BlockingType.HARD, {"timeoutS": timeout_s})


def open_door(door: str) -> ActionSpec:
    """``openDoor`` before a lane that crosses ``door``."""
    return ActionSpec(
        "openDoor", BlockingType.HARD, {"doorName": door}, description=f"open door {door}"
    )


def call_lift(lift: str, to_level: str) -> ActionSpec:
    """``callLift`` before boarding; ``toMapId`` is the level the ride goes to."""
    return ActionSpec(
        "callLift",
        BlockingType.HARD,
        {"liftName": lift, "toMapId": to_level},
        description=f"call lift {lift} to go to {to_level}",
    )

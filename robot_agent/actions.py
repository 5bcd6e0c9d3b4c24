"""Node, edge and instant actions the agent can run, with their VDA 5050 status.

Standard actions (§6.8) and ours (see docs/protocol.md): `patrolCheck`, `uvDisinfect`,
`sprayDisinfect`, `guideWaitForPerson`, `speak`, `startCharging`, `stopCharging`.
Each handler is ticked by the executor; none blocks.
"""

from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from missions.uv_dose import LampModel, irradiance_at
from missions.vda5050 import Action, ActionStatus
from robot_agent.adapter import Device, PlatformAdapter

RESULT_VERSION = 1


class ActionParameterError(ValueError):
    """An action parameter is missing or of the wrong type (→ orderError)."""

    def __init__(self, action: Action, key: str, why: str) -> None:
        super().__init__(f"{action.action_type} {action.action_id}: parameter {key!r} {why}")
        self.key = key


def number_param(
    action: Action, key: str, default: float | None = None, *, minimum: float = 0.0
) -> float:
    """A numeric parameter ≥ minimum, or the default when absent."""
    value = action.parameter(key)
    if value is None:
        if default is None:
            raise ActionParameterError(action, key, "is required")
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ActionParameterError(action, key, "must be a number")
    if value < minimum:
        raise ActionParameterError(action, key, f"must be at least {minimum}")
    return float(value)


def text_param(action: Action, key: str, default: str | None = None) -> str:
    """A string parameter, or the default when absent."""
    value = action.parameter(key)
    if value is None:
        if default is None:
            raise ActionParameterError(action, key, "is required")
        return default
    if not isinstance(value, str):
        raise ActionParameterError(action, key, "must be a string")
    return value


@dataclass
class ActionContext:
    """What handlers may use: the platform and two clocks."""

    adapter: PlatformAdapter
    monotonic: Callable[[], float]
    wallclock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    uv_irradiance_at_1m_mw_cm2: float = 2.67
    spray_rate_ml_s: float = 4.0

    def iso(self, at: datetime | None = None) -> str:
        """A UTC timestamp for result descriptions."""
        moment = at or self.wallclock()
        return (
            moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.")
            + f"{moment.microsecond // 1000:03d}Z"
        )


class ActionHandler(ABC):
    """One action's behaviour; the executor owns its status."""

    result_description: str | None = None
    findings: list[dict[str, Any]]
    """Anomalies to report in state.errors (patrol findings)."""

    def __init__(self, action: Action, ctx: ActionContext) -> None:
        self.action = action
        self.ctx = ctx
        self.findings = []

    @abstractmethod
    def start(self) -> ActionStatus:
        """Begin; returns RUNNING, FINISHED or FAILED."""

    def tick(self) -> ActionStatus:
        """Carry on; returns the status now."""
        return ActionStatus.FINISHED

    def pause(self) -> None:  # noqa: B027 - an optional hook; most actions need nothing
        """Hold (startPause); devices go safe."""

    def resume(self) -> None:  # noqa: B027 - an optional hook; most actions need nothing
        """Carry on after stopPause."""

    def cancel(self) -> None:  # noqa: B027 - an optional hook; most actions need nothing
        """Stop for good (cancelOrder); devices go safe."""


class SpeakHandler(ActionHandler):
    """`speak`: text (required), language (default zh-CN)."""

    def __init__(self, action: Action, ctx: ActionContext) -> None:
        super().__init__(action, ctx)
        self.text = text_param(action, "text")
        self.language = text_param(action, "language", "zh-CN")

    def start(self) -> ActionStatus:
        self.ctx.adapter.speak(self.text, self.language)
        return ActionStatus.FINISHED


class ChargingHandler(ActionHandler):
    """`startCharging` / `stopCharging` (§6.8.1)."""

    def start(self) -> ActionStatus:
        adapter = self.ctx.adapter
        ok = (
            adapter.start_charging()
            if self.action.action_type == "startCharging"
            else adapter.stop_charging()
        )
        if not ok:
            self.result_description = "not on a charger"
        return ActionStatus.FINISHED if ok else ActionStatus.FAILED


class TimedHandler(ActionHandler):
    """An action that needs `need_s` seconds of effective time; interruptions stop its clock.

    It gives up (FAILED) once interruptions add up to more than `maxInterruptionS`.
    """

    need_s: float = 0.0

    def __init__(self, action: Action, ctx: ActionContext) -> None:
        super().__init__(action, ctx)
        self.max_interruption_s = number_param(action, "maxInterruptionS", 600.0)
        self.effective_s = 0.0
        self.paused = False
        self._last: float | None = None
        self.started_at: datetime | None = None
        self.interruptions: list[dict[str, Any]] = []
        self._interrupted_since: tuple[float, datetime, str] | None = None

    def start(self) -> ActionStatus:
        self.started_at = self.ctx.wallclock()
        self._last = self.ctx.monotonic()
        return self.tick()

    def blocked_by(self) -> str | None:
        """Why the action may not make progress right now (None: it may)."""
        return "pauseRequested" if self.paused else None

    def on_progress(self, running: bool) -> None:
        """Switch devices as the action runs or holds."""

    def tick(self) -> ActionStatus:
        now = self.ctx.monotonic()
        dt = 0.0 if self._last is None else max(0.0, now - self._last)
        self._last = now
        cause = self.blocked_by()
        if cause is None:
            self._end_interruption(now)
            self.on_progress(True)
            self.effective_s += dt
        else:
            self.on_progress(False)
            if self._interrupted_since is None:
                self._interrupted_since = (now, self.ctx.wallclock(), cause)
        if self.effective_s >= self.need_s:
            self.on_progress(False)
            self._end_interruption(now)
            self.result_description = self.result()
            return ActionStatus.FINISHED
        if self._interrupted_total(now) > self.max_interruption_s:
            self.on_progress(False)
            self._end_interruption(now)
            self.result_description = self.result()
            return ActionStatus.FAILED
        return ActionStatus.PAUSED if self.paused else ActionStatus.RUNNING

    def _interrupted_total(self, now: float) -> float:
        total = sum(float(i["durationS"]) for i in self.interruptions)
        if self._interrupted_since is not None and not self.paused:
            # A pause is the operator's choice, not a failure to make progress.
            total += now - self._interrupted_since[0]
        return total

    def _end_interruption(self, now: float) -> None:
        if self._interrupted_since is None:
            return
        since, at, cause = self._interrupted_since
        self._interrupted_since = None
        self.interruptions.append(
            {"startedAt": self.ctx.iso(at), "durationS": round(now - since, 3), "cause": cause}
        )

    def pause(self) -> None:
        self.tick()
        self.paused = True
        self.on_progress(False)

    def resume(self) -> None:
        self.paused = False
        self._last = self.ctx.monotonic()

    def cancel(self) -> None:
        self.on_progress(False)
        self._end_interruption(self.ctx.monotonic())
        self.result_description = self.result()

    def result(self) -> str:
        """The JSON resultDescription (docs/protocol.md)."""
        body = {"v": RESULT_VERSION, **self.result_fields()}
        if self.started_at is not None:
            body["startedAt"] = self.ctx.iso(self.started_at)
        body["finishedAt"] = self.ctx.iso()
        body["interruptions"] = self.interruptions
        return json.dumps(body, separators=(",", ":"))

    def result_fields(self) -> dict[str, Any]:
        """Action-specific result members."""
        return {}


class InterlockedDeviceHandler(TimedHandler):
    """A timed action whose device may only run while nobody can be exposed to it."""

    device: Device
    device_name: str

    def __init__(self, action: Action, ctx: ActionContext) -> None:
        super().__init__(action, ctx)
        self.device_on = False

    def start(self) -> ActionStatus:
        if not self.ctx.adapter.set_device(self.device, False):
            self.result_description = f"no {self.device_name} on this robot"
            return ActionStatus.FAILED
        return super().start()

    def blocked_by(self) -> str | None:
        if self.paused:
            return "pauseRequested"
        if self.ctx.adapter.emergency_stop_active():
            return "emergencyStop"
        return "personDetected" if self.ctx.adapter.people_nearby() > 0 else None

    def on_progress(self, running: bool) -> None:
        if running != self.device_on:
            self.ctx.adapter.set_device(self.device, running)
            self.device_on = running


class UvDisinfectHandler(InterlockedDeviceHandler):
    """`uvDisinfect` (docs/protocol.md): lamp on for dwellS of lamp-on time, interlocked.

    Parameters: lamp (dwell | on | off), dwellS, targetDoseMjCm2, distanceM,
    irradianceAt1mMwCm2 (default: this robot's lamp), maxInterruptionS.
    """

    device = Device.UV_LAMP
    device_name = "UV lamp"

    def __init__(self, action: Action, ctx: ActionContext) -> None:
        super().__init__(action, ctx)
        self.mode = text_param(action, "lamp", "dwell")
        if self.mode not in ("dwell", "on", "off"):
            raise ActionParameterError(action, "lamp", "must be dwell, on or off")
        dwell = self.mode == "dwell"
        self.need_s = number_param(action, "dwellS", None if dwell else 0.0)
        self.target = number_param(action, "targetDoseMjCm2", None if dwell else 0.0)
        self.distance_m = number_param(action, "distanceM", None if dwell else 1.0, minimum=0.01)
        lamp = number_param(
            action, "irradianceAt1mMwCm2", ctx.uv_irradiance_at_1m_mw_cm2, minimum=1e-6
        )
        self.irradiance = irradiance_at(LampModel(irradiance_at_1m_mw_cm2=lamp), self.distance_m)

    def start(self) -> ActionStatus:
        if self.mode == "dwell":
            return super().start()
        on = self.mode == "on" and self.ctx.adapter.people_nearby() == 0
        if not self.ctx.adapter.set_device(Device.UV_LAMP, on):
            self.result_description = f"no {self.device_name} on this robot"
            return ActionStatus.FAILED
        return ActionStatus.FINISHED

    def result_fields(self) -> dict[str, Any]:
        return {
            "deliveredDoseMjCm2": round(self.irradiance * self.effective_s, 4),
            "dwellS": round(self.effective_s, 3),
            "distanceM": self.distance_m,
            "doseSource": "model",
        }


class SprayDisinfectHandler(InterlockedDeviceHandler):
    """`sprayDisinfect` (docs/protocol.md): dispense volumeMl of agent, nobody near."""

    device = Device.SPRAYER
    device_name = "sprayer"

    def __init__(self, action: Action, ctx: ActionContext) -> None:
        super().__init__(action, ctx)
        self.agent = text_param(action, "agent")
        self.volume_ml = number_param(action, "volumeMl")
        self.rate = ctx.spray_rate_ml_s
        self.need_s = self.volume_ml / self.rate

    def result_fields(self) -> dict[str, Any]:
        return {
            "sprayedVolumeMl": round(min(self.volume_ml, self.rate * self.effective_s), 3),
            "durationS": round(self.effective_s, 3),
        }


class PatrolCheckHandler(TimedHandler):
    """`patrolCheck`: dwell dwellS seconds, then evaluate the listed checks on the sensors.

    `checks` is a JSON array of names (`door_closed`, `no_person`, `smoke_absent`,
    `no_intruder`) and objects such as `{"temperature_below": 45}`. Failed checks are
    findings, reported in the result and as `patrolAnomaly` warnings.
    """

    def __init__(self, action: Action, ctx: ActionContext) -> None:
        super().__init__(action, ctx)
        self.need_s = number_param(action, "dwellS", 0.0)
        raw = action.parameter("checks")
        if raw is None:
            raw = []
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise ActionParameterError(action, "checks", "is not JSON") from exc
        if not isinstance(raw, list):
            raise ActionParameterError(action, "checks", "must be an array")
        self.checks: list[tuple[str, float | None]] = []
        for item in raw:
            name, limit = _check_spec(action, item)
            self.checks.append((name, limit))
        self.outcomes: list[dict[str, Any]] = []

    def result_fields(self) -> dict[str, Any]:
        if not self.outcomes:
            self.outcomes = [self._evaluate(name, limit) for name, limit in self.checks]
            self.findings = [o for o in self.outcomes if not o["ok"]]
        return {"checks": self.outcomes, "anomalies": [o["check"] for o in self.findings]}

    def _evaluate(self, name: str, limit: float | None) -> dict[str, Any]:
        sensors = self.ctx.adapter.read_sensors()
        if name == "temperature_below":
            value = sensors.get("temperature_c")
            ok = value is not None and limit is not None and value < limit
            return {"check": name, "ok": ok, "value": value, "limit": limit}
        if name == "no_person":
            count = self.ctx.adapter.people_nearby()
            return {"check": name, "ok": count == 0, "value": count}
        sensor = _CHECK_SENSORS[name]
        value = sensors.get(sensor)
        if value is None:
            # A silent sensor proves nothing: the check fails rather than passing unseen.
            return {"check": name, "ok": False, "value": None, "reason": "no reading"}
        return {"check": name, "ok": value == 0, "value": value}


_CHECK_SENSORS = {"door_closed": "door_open", "smoke_absent": "smoke", "no_intruder": "intruder"}
PATROL_CHECKS = frozenset({*_CHECK_SENSORS, "no_person", "temperature_below"})


def _check_spec(action: Action, item: object) -> tuple[str, float | None]:
    if isinstance(item, str) and item in PATROL_CHECKS and item != "temperature_below":
        return item, None
    if isinstance(item, dict) and len(item) == 1:
        ((name, limit),) = item.items()
        if name == "temperature_below" and isinstance(limit, int | float):
            return name, float(limit)
    raise ActionParameterError(action, "checks", f"has an unknown check {item!r}")


class GuideWaitHandler(ActionHandler):
    """`guideWaitForPerson`: wait until the guided person is there, up to timeoutS."""

    def __init__(self, action: Action, ctx: ActionContext) -> None:
        super().__init__(action, ctx)
        self.timeout_s = number_param(action, "timeoutS", 120.0)
        self._since = 0.0

    def start(self) -> ActionStatus:
        self._since = self.ctx.monotonic()
        return self.tick()

    def tick(self) -> ActionStatus:
        waited = self.ctx.monotonic() - self._since
        if self.ctx.adapter.person_following():
            self.result_description = json.dumps(
                {"v": RESULT_VERSION, "personArrived": True, "waitedS": round(waited, 3)}
            )
            return ActionStatus.FINISHED
        if waited >= self.timeout_s:
            self.result_description = json.dumps(
                {"v": RESULT_VERSION, "personArrived": False, "waitedS": round(waited, 3)}
            )
            return ActionStatus.FAILED
        return ActionStatus.RUNNING


class BuildingRequestHandler(ActionHandler):
    """`openDoor` (doorName) and `callLift` (liftName, toMapId): wait for the building.

    Keeps asking until the door is open or the lift is here; FAILED after timeoutS
    (default 120 s), which the server sees and re-plans.
    """

    def __init__(self, action: Action, ctx: ActionContext) -> None:
        super().__init__(action, ctx)
        self.timeout_s = number_param(action, "timeoutS", 120.0)
        if action.action_type == "openDoor":
            self.door = text_param(action, "doorName")
        else:
            self.lift = text_param(action, "liftName")
            self.to_map_id = text_param(action, "toMapId")
        self._since = 0.0

    def _ready(self) -> bool:
        if self.action.action_type == "openDoor":
            return self.ctx.adapter.request_door(self.door)
        here = self.ctx.adapter.read_pose().map_id
        return self.ctx.adapter.request_lift(self.lift, here, self.to_map_id)

    def start(self) -> ActionStatus:
        self._since = self.ctx.monotonic()
        return self.tick()

    def tick(self) -> ActionStatus:
        waited = self.ctx.monotonic() - self._since
        if self._ready():
            self.result_description = json.dumps({"v": RESULT_VERSION, "waitedS": round(waited, 3)})
            return ActionStatus.FINISHED
        if waited >= self.timeout_s:
            self.result_description = f"{self.action.action_type} timed out after {waited:.0f} s"
            return ActionStatus.FAILED
        return ActionStatus.RUNNING


HandlerFactory = Callable[[Action, ActionContext], ActionHandler]

ORDER_ACTIONS: dict[str, HandlerFactory] = {
    "speak": SpeakHandler,
    "startCharging": ChargingHandler,
    "stopCharging": ChargingHandler,
    "uvDisinfect": UvDisinfectHandler,
    "sprayDisinfect": SprayDisinfectHandler,
    "patrolCheck": PatrolCheckHandler,
    "guideWaitForPerson": GuideWaitHandler,
    "openDoor": BuildingRequestHandler,
    "callLift": BuildingRequestHandler,
}
"""Actions that may stand on nodes (and, where the spec allows, be sent instantly)."""

INSTANT_ONLY = frozenset(
    {"startPause", "stopPause", "cancelOrder", "stateRequest", "factsheetRequest"}
)
"""Instant actions the executor carries out itself (§6.8.1)."""

INSTANT_HANDLED = frozenset({"speak", "startCharging", "stopCharging"})
"""Handler actions that may also arrive as instant actions."""

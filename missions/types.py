"""Mission specifications: patrol, disinfection and guidance, as the REST API accepts them.

A mission body is plain JSON (or the same structure in YAML) with a ``kind`` field that
selects the model: ``patrol``, ``disinfection`` or ``guidance``. Validation errors carry
the path of the offending field (``targets.0.x``, ``checkpoints.2.checks.0.threshold_c``)
both in pydantic's own ``loc`` (what FastAPI returns) and in
:class:`MissionValidationError` raised by :func:`parse_mission` and the loaders.

Cross-field rules are checked in the validator of the later field, so the error names a
field rather than the whole mission: ``deadline`` must follow ``earliest_start``,
``required_capability`` must suit the kind (and method), UV-only and spray-only fields
are refused under the other method, ``to`` must differ from ``from``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import yaml
from pydantic import (
    AllowInfNan,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from missions.uv_dose import DEFAULT_DWELL_POINTS_PER_ROOM, DEFAULT_UV_DISTANCE_M, LampModel

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
"""A site, waypoint, zone or robot name."""

SpeechText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Notes = Annotated[str, StringConstraints(max_length=2000)]
Number = Annotated[float, Strict(), AllowInfNan(False)]
"""A JSON number; strings and booleans are refused rather than coerced."""
Count = Annotated[int, Strict()]

MAX_PATROL_ROUNDS = 1000
MAX_GUIDANCE_SPEED_M_S = 1.0
"""A guide robot leads people on foot, some of them patients; faster than 1 m/s loses them."""

_MODEL_CONFIG = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Priority(StrEnum):
    """Mission priority; members order as ``low < normal < high < emergency``."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    EMERGENCY = "emergency"

    @property
    def rank(self) -> int:
        """0 for low up to 3 for emergency."""
        return _PRIORITY_ORDER.index(self)

    def _other_rank(self, other: object) -> int:
        if isinstance(other, str):
            try:
                return Priority(other).rank
            except ValueError:
                pass
        raise TypeError(f"cannot compare Priority with {other!r}")

    # str's own ordering is alphabetical; a priority must order by urgency instead.
    def __lt__(self, other: object) -> bool:
        return self.rank < self._other_rank(other)

    def __le__(self, other: object) -> bool:
        return self.rank <= self._other_rank(other)

    def __gt__(self, other: object) -> bool:
        return self.rank > self._other_rank(other)

    def __ge__(self, other: object) -> bool:
        return self.rank >= self._other_rank(other)


_PRIORITY_ORDER = (Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.EMERGENCY)


class MissionKind(StrEnum):
    """The three kinds of mission; the value of a body's ``kind`` field."""

    PATROL = "patrol"
    DISINFECTION = "disinfection"
    GUIDANCE = "guidance"


class Capability(StrEnum):
    """What a robot can do; a mission requires exactly one."""

    PATROL = "patrol"
    UV_DISINFECTION = "uv_disinfection"
    SPRAY_DISINFECTION = "spray_disinfection"
    GUIDANCE = "guidance"
    RECEPTION = "reception"


class _MissionBase(BaseModel):
    """Fields every mission has. ``required_capability`` is declared by each kind, after
    its own fields, so its validator can see them."""

    model_config = _MODEL_CONFIG

    site: Name
    name: Name | None = None
    notes: Notes | None = None
    priority: Priority = Priority.NORMAL
    earliest_start: AwareDatetime | None = None
    deadline: AwareDatetime | None = None
    preferred_robot: Name | None = None

    @field_validator("deadline")
    @classmethod
    def _deadline_after_earliest_start(
        cls, deadline: AwareDatetime | None, info: ValidationInfo
    ) -> AwareDatetime | None:
        start = info.data.get("earliest_start")
        if deadline is not None and start is not None and deadline <= start:
            raise PydanticCustomError(
                "deadline_order",
                "deadline {deadline} must be after earliest_start {start}",
                {"deadline": deadline.isoformat(), "start": start.isoformat()},
            )
        return deadline


def _resolve_capability(
    given: Capability | None, allowed: tuple[Capability, ...], what: str
) -> Capability:
    """The given capability if ``what`` allows it, else the default (first allowed)."""
    if given is None:
        return allowed[0]
    if given not in allowed:
        raise PydanticCustomError(
            "capability_mismatch",
            "'{given}' does not suit {what}; use one of {allowed}",
            {"given": given.value, "what": what, "allowed": ", ".join(a.value for a in allowed)},
        )
    return given


# ---------------------------------------------------------------------------- patrol


class CheckKind(StrEnum):
    """What a patrol robot verifies at a checkpoint."""

    DOOR_CLOSED = "door_closed"
    NO_PERSON = "no_person"
    TEMPERATURE_BELOW = "temperature_below"
    SMOKE_ABSENT = "smoke_absent"
    NO_INTRUDER = "no_intruder"


class PatrolCheck(BaseModel):
    """One check. Written as ``"door_closed"`` or ``{"temperature_below": 45}`` in a body;
    the canonical form ``{"kind": ..., "threshold_c": ...}`` is accepted too."""

    model_config = _MODEL_CONFIG

    kind: CheckKind
    threshold_c: Number | None = Field(None, ge=-50, le=200, validate_default=True)

    @model_validator(mode="before")
    @classmethod
    def _short_forms(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"kind": data}
        if isinstance(data, Mapping) and len(data) == 1:
            ((key, value),) = data.items()
            if key not in ("kind", "threshold_c"):
                # {"temperature_below": 45}; an unknown key then fails as an unknown kind.
                return {"kind": key, "threshold_c": value}
        return data

    @field_validator("threshold_c")
    @classmethod
    def _threshold_only_for_temperature(
        cls, threshold: float | None, info: ValidationInfo
    ) -> float | None:
        kind = info.data.get("kind")
        if kind is CheckKind.TEMPERATURE_BELOW and threshold is None:
            raise PydanticCustomError(
                "missing", "temperature_below needs a threshold in °C, e.g. temperature_below: 45"
            )
        if kind is not None and kind is not CheckKind.TEMPERATURE_BELOW and threshold is not None:
            raise PydanticCustomError(
                "unexpected_threshold",
                "only temperature_below takes a threshold, not {kind}",
                {"kind": kind.value},
            )
        return threshold


class Checkpoint(BaseModel):
    """A waypoint on a patrol route; written as its name alone or as an object with overrides."""

    model_config = _MODEL_CONFIG

    waypoint: Name
    dwell_s: Number | None = Field(None, ge=0, le=3600, description="None: the mission's dwell_s")
    checks: list[PatrolCheck] | None = Field(
        None, max_length=20, description="None: the mission's checks"
    )
    speak_on_arrival: SpeechText | None = None

    @model_validator(mode="before")
    @classmethod
    def _name_only_form(cls, data: Any) -> Any:
        return {"waypoint": data} if isinstance(data, str) else data


class PatrolMission(_MissionBase):
    """Visit checkpoints in order (or sweep a zone), for a number of rounds, checking things."""

    kind: Literal["patrol"] = "patrol"
    zone: Name | None = None
    checkpoints: list[Checkpoint] | None = Field(
        None, min_length=1, max_length=500, validate_default=True
    )
    rounds: Count | Literal["until_stopped"] = 1
    dwell_s: Number = Field(10.0, ge=0, le=3600, description="default dwell per checkpoint")
    checks: list[PatrolCheck] = Field(
        default_factory=list, max_length=20, description="default checks per checkpoint"
    )
    speak_on_arrival: SpeechText | None = None
    required_capability: Capability | None = Field(None, validate_default=True)

    @field_validator("checkpoints")
    @classmethod
    def _checkpoints_or_zone(
        cls, checkpoints: list[Checkpoint] | None, info: ValidationInfo
    ) -> list[Checkpoint] | None:
        if "zone" not in info.data:
            return checkpoints  # zone itself failed and is already reported
        if (checkpoints is None) == (info.data["zone"] is None):
            raise PydanticCustomError(
                "checkpoints_or_zone",
                "give exactly one of checkpoints (waypoint names) or zone (a zone to sweep)",
            )
        return checkpoints

    @field_validator("rounds", mode="before")
    @classmethod
    def _rounds_count_or_until_stopped(cls, rounds: Any) -> Any:
        if rounds == "until_stopped":
            return rounds
        is_count = isinstance(rounds, int) and not isinstance(rounds, bool)
        if is_count and 1 <= rounds <= MAX_PATROL_ROUNDS:
            return rounds
        raise PydanticCustomError(
            "rounds",
            "rounds must be a whole number from 1 to {max} or 'until_stopped'",
            {"max": MAX_PATROL_ROUNDS},
        )

    @field_validator("required_capability")
    @classmethod
    def _capability_for_patrol(cls, given: Capability | None) -> Capability:
        return _resolve_capability(given, (Capability.PATROL,), "a patrol mission")

    @property
    def capability(self) -> Capability:
        """The capability a robot needs for this mission."""
        return self.required_capability or Capability.PATROL

    def dwell_at(self, checkpoint: Checkpoint) -> float:
        """Dwell time at ``checkpoint``: its own, else the mission's."""
        return self.dwell_s if checkpoint.dwell_s is None else checkpoint.dwell_s

    def checks_at(self, checkpoint: Checkpoint) -> list[PatrolCheck]:
        """Checks at ``checkpoint``: its own list (even empty), else the mission's."""
        return self.checks if checkpoint.checks is None else checkpoint.checks

    def speech_at(self, checkpoint: Checkpoint) -> str | None:
        """Text spoken on arrival at ``checkpoint``, if any."""
        return checkpoint.speak_on_arrival or self.speak_on_arrival


# ---------------------------------------------------------------------- disinfection


class DisinfectionMethod(StrEnum):
    """How a disinfection mission treats its targets."""

    UV = "uv"
    SPRAY = "spray"


class Organism(StrEnum):
    """The organism class a UV-C round is aimed at; it sets the default dose."""

    VEGETATIVE_BACTERIA = "vegetative_bacteria"
    VIRUS = "virus"
    UNKNOWN = "unknown"


DEFAULT_UV_DOSE_MJ_CM2: Mapping[Organism | None, float] = {
    None: 10.0,
    Organism.VEGETATIVE_BACTERIA: 10.0,
    Organism.VIRUS: 10.0,
    # Chinese practice: when the organism is not known, disinfect for 100 mJ/cm².
    Organism.UNKNOWN: 100.0,
}
"""Default target dose (mJ/cm²) by organism class; None means the mission did not say."""


class TargetKind(StrEnum):
    """The three forms a disinfection target takes."""

    WAYPOINT = "waypoint"
    ROOM = "room"
    POINT = "point"


class _MissingForPoint:
    """Stands in for a coordinate a point target left out, so the error lands on it."""


_MISSING_FOR_POINT = _MissingForPoint()
_POINT_FIELDS = ("x", "y", "level")


class DisinfectionTarget(BaseModel):
    """One of ``{"waypoint": name}``, ``{"room": zone name}`` or ``{"x", "y", "level"}``."""

    model_config = _MODEL_CONFIG

    waypoint: Name | None = None
    room: Name | None = None
    x: Number | None = None
    y: Number | None = None
    level: Name | None = None
    volume_m3: Number | None = Field(
        None, gt=0, le=1e6, description="spray only: this target's volume, else room_volume_m3"
    )

    @model_validator(mode="before")
    @classmethod
    def _mark_missing_point_fields(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and any(data.get(k) is not None for k in _POINT_FIELDS):
            return {
                **data,
                **{k: _MISSING_FOR_POINT for k in _POINT_FIELDS if data.get(k) is None},
            }
        return data

    @field_validator("x", "y", "level", mode="before")
    @classmethod
    def _point_field_present(cls, value: Any) -> Any:
        if value is _MISSING_FOR_POINT:
            raise PydanticCustomError("missing", "a point target needs x, y and level")
        return value

    @model_validator(mode="after")
    def _exactly_one_form(self) -> Self:
        forms = [
            name
            for name, given in (
                ("waypoint", self.waypoint is not None),
                ("room", self.room is not None),
                ("x/y/level", self.x is not None),
            )
            if given
        ]
        if len(forms) != 1:
            raise PydanticCustomError(
                "target_form",
                "a target is exactly one of waypoint, room or x/y/level; got {forms}",
                {"forms": ", ".join(forms) or "none"},
            )
        return self

    @property
    def kind(self) -> TargetKind:
        """Which of the three forms this target takes."""
        if self.waypoint is not None:
            return TargetKind.WAYPOINT
        return TargetKind.ROOM if self.room is not None else TargetKind.POINT

    @property
    def label(self) -> str:
        """How staff recognise the target in a report."""
        if self.waypoint is not None:
            return self.waypoint
        if self.room is not None:
            return self.room
        return f"({self.x:.2f}, {self.y:.2f}) @ {self.level}"


_UV_ONLY = ("organism", "target_dose_mj_cm2", "lamp", "distance_m", "dwell_points_per_room")
_SPRAY_ONLY = ("agent", "rate_ml_per_m3", "room_volume_m3", "contact_time_s", "re_entry_time_s")


class DisinfectionMission(_MissionBase):
    """UV-C or spray disinfection of waypoints, rooms (zones) or points."""

    kind: Literal["disinfection"] = "disinfection"
    method: DisinfectionMethod
    targets: list[DisinfectionTarget] = Field(min_length=1, max_length=500)
    # UV-C: method "uv" only.
    organism: Organism | None = None
    target_dose_mj_cm2: Number | None = Field(None, gt=0, le=10_000, validate_default=True)
    lamp: LampModel | None = Field(None, description="None: the assigned robot's lamp")
    distance_m: Number | None = Field(
        None, gt=0, le=20, validate_default=True, description="lamp to surface, point targets"
    )
    dwell_points_per_room: Count | None = Field(None, ge=1, le=50, validate_default=True)
    # Spray: method "spray" only; all but room_volume_m3 required (see volume_for).
    agent: Name | None = Field(None, validate_default=True)
    rate_ml_per_m3: Number | None = Field(None, gt=0, le=1000, validate_default=True)
    room_volume_m3: Number | None = Field(None, gt=0, le=1e6, validate_default=True)
    contact_time_s: Number | None = Field(None, ge=0, le=86_400, validate_default=True)
    re_entry_time_s: Number | None = Field(None, ge=0, le=7 * 86_400, validate_default=True)
    required_capability: Capability | None = Field(None, validate_default=True)

    @field_validator("targets")
    @classmethod
    def _volumes_only_for_spray(
        cls, targets: list[DisinfectionTarget], info: ValidationInfo
    ) -> list[DisinfectionTarget]:
        if info.data.get("method") is DisinfectionMethod.UV:
            for index, target in enumerate(targets):
                if target.volume_m3 is not None:
                    raise PydanticCustomError(
                        "spray_only",
                        "targets.{index}.volume_m3 applies to method 'spray' only",
                        {"index": index},
                    )
        return targets

    @field_validator(*_UV_ONLY[:2], "lamp", mode="after")
    @classmethod
    def _uv_field(cls, value: Any, info: ValidationInfo) -> Any:
        method = info.data.get("method")
        if method is DisinfectionMethod.SPRAY and value is not None:
            raise _wrong_method(info, "uv")
        if method is DisinfectionMethod.UV and info.field_name == "target_dose_mj_cm2":
            return DEFAULT_UV_DOSE_MJ_CM2[info.data.get("organism")] if value is None else value
        return value

    @field_validator("distance_m", "dwell_points_per_room")
    @classmethod
    def _uv_geometry(cls, value: Any, info: ValidationInfo) -> Any:
        method = info.data.get("method")
        if method is DisinfectionMethod.SPRAY and value is not None:
            raise _wrong_method(info, "uv")
        if method is DisinfectionMethod.UV and value is None:
            if info.field_name == "distance_m":
                return DEFAULT_UV_DISTANCE_M
            return DEFAULT_DWELL_POINTS_PER_ROOM
        return value

    @field_validator(*_SPRAY_ONLY)
    @classmethod
    def _spray_field(cls, value: Any, info: ValidationInfo) -> Any:
        method = info.data.get("method")
        if method is DisinfectionMethod.UV and value is not None:
            raise _wrong_method(info, "spray")
        if method is not DisinfectionMethod.SPRAY or value is not None:
            return value
        if info.field_name == "room_volume_m3":
            targets = info.data.get("targets") or []
            unsized = [i for i, t in enumerate(targets) if t.volume_m3 is None]
            if not unsized:
                return value  # every target carries its own volume
            raise PydanticCustomError(
                "missing",
                "method 'spray' needs room_volume_m3 (targets without volume_m3: {unsized})",
                {"unsized": ", ".join(map(str, unsized))},
            )
        raise PydanticCustomError(
            "missing", "method 'spray' needs {field}", {"field": info.field_name}
        )

    @field_validator("required_capability")
    @classmethod
    def _capability_for_method(
        cls, given: Capability | None, info: ValidationInfo
    ) -> Capability | None:
        method = info.data.get("method")
        if method is None:
            return given  # the method error says enough
        allowed = (
            Capability.UV_DISINFECTION
            if method is DisinfectionMethod.UV
            else Capability.SPRAY_DISINFECTION,
        )
        return _resolve_capability(given, allowed, f"method {method.value!r}")

    @property
    def capability(self) -> Capability:
        """The capability a robot needs for this mission."""
        if self.required_capability is not None:
            return self.required_capability
        if self.method is DisinfectionMethod.UV:
            return Capability.UV_DISINFECTION
        return Capability.SPRAY_DISINFECTION

    def volume_for(self, target: DisinfectionTarget) -> float:
        """Spray: the volume (m³) treated at ``target``."""
        volume = target.volume_m3 if target.volume_m3 is not None else self.room_volume_m3
        if volume is None:
            raise ValueError(f"target {target.label!r}: no volume_m3 and no room_volume_m3")
        return volume

    def spray_volume_ml(self, target: DisinfectionTarget) -> float:
        """Spray: agent to dispense at ``target`` (rate × volume), in mL."""
        if self.rate_ml_per_m3 is None:
            raise ValueError("spray_volume_ml: mission has no rate_ml_per_m3 (method is not spray)")
        return self.rate_ml_per_m3 * self.volume_for(target)


def _wrong_method(info: ValidationInfo, method: str) -> PydanticCustomError:
    return PydanticCustomError(
        "wrong_method",
        "{field} applies to method '{method}' only",
        {"field": info.field_name, "method": method},
    )


# -------------------------------------------------------------------------- guidance


class Language(StrEnum):
    """Languages a guide robot speaks."""

    ZH_CN = "zh-CN"
    EN = "en"


class NoShowAction(StrEnum):
    """What a guide robot does when the person does not come or is lost."""

    RETURN_TO_START = "return_to_start"
    WAIT_AT_DESTINATION = "wait_at_destination"
    CANCEL = "cancel"


class PromptSlot(StrEnum):
    """The moments a guide robot speaks."""

    GREETING = "greeting"
    FOLLOW_ME = "follow_me"
    ARRIVED = "arrived"
    NO_SHOW = "no_show"


DEFAULT_GUIDANCE_PROMPTS: Mapping[Language, Mapping[PromptSlot, str]] = {
    Language.ZH_CN: {
        PromptSlot.GREETING: "您好，我来为您带路。",
        PromptSlot.FOLLOW_ME: "请跟我来。",
        PromptSlot.ARRIVED: "已到达目的地，祝您一切顺利。",
        PromptSlot.NO_SHOW: "没有等到您，我先返回了。",
    },
    Language.EN: {
        PromptSlot.GREETING: "Hello, I will show you the way.",
        PromptSlot.FOLLOW_ME: "Please follow me.",
        PromptSlot.ARRIVED: "We have arrived. Take care.",
        PromptSlot.NO_SHOW: "I could not find you, so I am heading back.",
    },
}


class GuidancePrompts(BaseModel):
    """Texts for one language; a slot left out uses the default text."""

    model_config = _MODEL_CONFIG

    greeting: SpeechText | None = None
    follow_me: SpeechText | None = None
    arrived: SpeechText | None = None
    no_show: SpeechText | None = None


class GuidanceMission(_MissionBase):
    """Meet a person at ``from`` and lead them, slowly, to ``to``."""

    kind: Literal["guidance"] = "guidance"
    from_: Name = Field(alias="from")
    to: Name
    language: Language = Language.ZH_CN
    prompts: dict[Language, GuidancePrompts] = Field(default_factory=dict)
    wait_for_person_timeout_s: Number = Field(120.0, gt=0, le=3600)
    max_speed_m_s: Number = Field(0.5, gt=0, le=MAX_GUIDANCE_SPEED_M_S)
    on_no_show: NoShowAction = NoShowAction.RETURN_TO_START
    required_capability: Capability | None = Field(None, validate_default=True)

    @field_validator("to")
    @classmethod
    def _to_differs_from_from(cls, to: str, info: ValidationInfo) -> str:
        if to == info.data.get("from_"):
            raise PydanticCustomError(
                "same_place", "to must differ from from (both are '{to}')", {"to": to}
            )
        return to

    @field_validator("required_capability")
    @classmethod
    def _capability_for_guidance(cls, given: Capability | None) -> Capability:
        # A bank's reception robot also walks customers to a counter.
        allowed = (Capability.GUIDANCE, Capability.RECEPTION)
        return _resolve_capability(given, allowed, "a guidance mission")

    @property
    def capability(self) -> Capability:
        """The capability a robot needs for this mission."""
        return self.required_capability or Capability.GUIDANCE

    def prompt(self, slot: PromptSlot, language: Language | None = None) -> str:
        """The text to speak at ``slot`` in ``language`` (default: the mission's language)."""
        lang = language or self.language
        custom = self.prompts.get(lang)
        text = getattr(custom, slot.value) if custom is not None else None
        return text if text is not None else DEFAULT_GUIDANCE_PROMPTS[lang][slot]


# ----------------------------------------------------------------------- the union

MissionSpec = Annotated[
    PatrolMission | DisinfectionMission | GuidanceMission, Field(discriminator="kind")
]
"""Any mission body, selected by its ``kind``."""

MISSION_ADAPTER: TypeAdapter[MissionSpec] = TypeAdapter(MissionSpec)
_KIND_TAGS = frozenset(kind.value for kind in MissionKind)


@dataclass(frozen=True)
class FieldError:
    """One problem with a mission body: where (dotted path, '' for the whole body) and what."""

    path: str
    message: str
    type: str


class MissionValidationError(ValueError):
    """A mission body was refused; ``errors`` lists each problem with its field path."""

    def __init__(self, errors: list[FieldError], source: str | None = None) -> None:
        self.errors = errors
        self.source = source
        lines = [f"{e.path or '(mission)'}: {e.message}" for e in errors]
        prefix = f"{source}: " if source else ""
        super().__init__(prefix + "invalid mission: " + "; ".join(lines))

    @property
    def paths(self) -> list[str]:
        """The dotted paths of every offending field."""
        return [e.path for e in self.errors]


def _field_errors(exc: ValidationError) -> list[FieldError]:
    errors = []
    for error in exc.errors(include_url=False):
        loc = list(error["loc"])
        if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
            loc = ["kind"]
        elif loc and loc[0] in _KIND_TAGS:
            loc = loc[1:]  # the discriminated union puts the kind first
        errors.append(FieldError(".".join(map(str, loc)), error["msg"], error["type"]))
    return errors


def parse_mission(data: Mapping[str, Any], source: str | None = None) -> MissionSpec:
    """Validate a mission body (decoded JSON/YAML); raise :class:`MissionValidationError`."""
    try:
        return MISSION_ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise MissionValidationError(_field_errors(exc), source) from exc


def load_mission_text(
    text: str, fmt: Literal["yaml", "json"] | None = None, source: str | None = None
) -> MissionSpec:
    """Parse a mission from YAML or JSON text (``fmt`` None: JSON if it starts with '{')."""
    if fmt is None:
        fmt = "json" if text.lstrip().startswith("{") else "yaml"
    try:
        data = json.loads(text) if fmt == "json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:  # ValueError: JSONDecodeError, huge integers
        raise MissionValidationError(
            [FieldError("", f"not valid {fmt}: {exc}", "syntax")], source
        ) from exc
    if not isinstance(data, Mapping):
        found = type(data).__name__
        raise MissionValidationError(
            [FieldError("", f"a mission must be a mapping, got {found}", "mapping_type")], source
        )
    return parse_mission(data, source)


def load_mission_file(path: str | Path) -> MissionSpec:
    """Read a mission from a ``.yaml``/``.yml`` or ``.json`` file; errors name the file."""
    file = Path(path)
    fmt: Literal["yaml", "json"] = "json" if file.suffix.lower() == ".json" else "yaml"
    return load_mission_text(file.read_text(encoding="utf-8"), fmt, source=str(file))


def dump_mission(mission: MissionSpec) -> dict[str, Any]:
    """The mission as a JSON-ready body that :func:`parse_mission` accepts back."""
    dumped: dict[str, Any] = mission.model_dump(mode="json", by_alias=True)
    return dumped

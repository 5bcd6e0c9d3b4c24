"""The robot a mission is compiled for, and where it stands when the order starts."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Self

import yaml
from pydantic import (
    AllowInfNan,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    ValidationError,
    model_validator,
)

from missions.sites import RobotClass
from missions.types import Capability

_Number = Annotated[float, Strict(), AllowInfNan(False)]
# VDA 5050 §6.5: manufacturer and serialNumber are MQTT topic levels.
_TopicId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:\-]{1,128}$")]

DEFAULT_DEVIATION_XY_M = 0.5
"""How far from a graph node the robot may be and still count as there."""

DWELL_DEVIATION_XY_M = 0.2
"""Tighter range for UV dwell and point nodes: the dose depends on where the lamp stands."""


class RobotProfile(BaseModel):
    """What the compiler needs to know about one robot.

    Field names follow the agent's ``robot:`` configuration (``robot_agent.config``) so a
    robot's YAML can be reused. ``uv_irradiance_at_1m_mw_cm2`` is the robot's own lamp,
    used when a UV mission names none; ``spray_rate_ml_s`` only estimates spraying time
    (the default is the agent's own default).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    manufacturer: _TopicId
    serial_number: _TopicId
    kind: Annotated[str, StringConstraints(min_length=1, max_length=64)] = "service_robot"
    capabilities: tuple[Capability, ...] = Field(min_length=1)
    max_speed_m_s: _Number = Field(1.0, gt=0, le=5)
    uv_irradiance_at_1m_mw_cm2: _Number | None = Field(None, gt=0, le=1000)
    spray_rate_ml_s: _Number = Field(4.0, gt=0, le=1000)
    footprint_radius_m: _Number = Field(0.3, gt=0, le=5)
    nav_graph: Annotated[int, Strict()] | None = Field(None, ge=0)
    authorized_zones: tuple[str, ...] = ()
    allowed_deviation_xy_m: _Number = Field(DEFAULT_DEVIATION_XY_M, gt=0, le=5)
    dock: str | None = Field(None, min_length=1, description="waypoint the robot starts from")

    @property
    def robot_class(self) -> RobotClass:
        """The routing view of this robot."""
        return RobotClass(
            kind=self.kind,
            max_speed_m_s=self.max_speed_m_s,
            footprint_radius_m=self.footprint_radius_m,
            nav_graph=self.nav_graph,
            authorized_zones=frozenset(self.authorized_zones),
        )


class RobotProfileError(ValueError):
    """A robot profile file that cannot be used; the message names the file and field."""


def load_robot_profile(path: str | Path) -> RobotProfile:
    """Read a :class:`RobotProfile` from a YAML (or JSON) file.

    The file is either the profile itself or an agent configuration whose top level has
    ``manufacturer``, ``serial_number`` and a ``robot:`` section (the agent's own file).
    """
    file = Path(path)
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RobotProfileError(f"{file}: cannot read: {exc.strerror}") from exc
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: bad UTF-8, huge integers
        raise RobotProfileError(f"{file}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise RobotProfileError(f"{file}: top level must be a mapping")
    if isinstance(raw.get("robot"), dict):
        # An agent configuration: identity on top, description under robot:.
        robot = raw["robot"]
        raw = {
            "manufacturer": raw.get("manufacturer"),
            "serial_number": raw.get("serial_number"),
            **{k: v for k, v in robot.items() if k in RobotProfile.model_fields},
        }
    try:
        return RobotProfile.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '(profile)'}: {e['msg']}"
            for e in exc.errors(include_url=False)
        )
        raise RobotProfileError(f"{file}: {problems}") from exc


class StartPose(BaseModel):
    """Where the robot stands when the order starts: a waypoint, or x/y on a level.

    A free position is joined to the nearest waypoint the robot may use on that level; the
    order then starts at the position itself unless it lies within the robot's
    ``allowed_deviation_xy_m`` of that waypoint (VDA 5050 §6.6.1: the first node must be
    where the vehicle stands).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    waypoint: str | None = Field(None, min_length=1)
    x: _Number | None = None
    y: _Number | None = None
    level: str | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _one_form(self) -> Self:
        free = (self.x, self.y, self.level)
        if self.waypoint is not None and any(v is not None for v in free):
            raise ValueError("give either waypoint or x, y and level, not both")
        if self.waypoint is None and any(v is None for v in free):
            raise ValueError("give a waypoint, or all of x, y and level")
        return self

    @classmethod
    def at_waypoint(cls, waypoint: str) -> StartPose:
        """Start on a waypoint (id or unique name)."""
        return cls(waypoint=waypoint)

    @classmethod
    def at(cls, x: float, y: float, level: str) -> StartPose:
        """Start at a free position on a level."""
        if not (math.isfinite(x) and math.isfinite(y)):
            raise ValueError(f"start position must be finite, got ({x}, {y})")
        return cls(x=float(x), y=float(y), level=level)

"""Robot models per kind: speed, battery and its drains, charging, UV lamp, sprayer, sensors.

The defaults live in `sim/models.yaml`; a scenario or a user file may override fields of a
kind or add kinds (`load_models(path)`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from robot_agent.config import Capability, RobotDescription

DEFAULT_MODELS_FILE = Path(__file__).with_name("models.yaml")

SensorName = Literal["temperature_c", "smoke", "intruder", "door_open", "person"]


class RobotModel(BaseModel):
    """How one kind of robot moves, spends energy and what it carries."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str = Field(min_length=1, max_length=64)
    capabilities: tuple[Capability, ...] = Field(min_length=1)
    max_speed_m_s: float = Field(gt=0, le=5)
    accel_m_s2: float = Field(gt=0, le=10)
    battery_capacity_wh: float = Field(gt=0, le=100_000)
    idle_w: float = Field(ge=0, le=10_000)
    drive_w: float = Field(ge=0, le=10_000)
    """Extra draw at full speed; scales linearly with speed."""
    uv_lamp_w: float = Field(default=0.0, ge=0, le=20_000)
    sprayer_w: float = Field(default=0.0, ge=0, le=10_000)
    charge_w: float = Field(gt=0, le=100_000)
    uv_irradiance_at_1m_mw_cm2: float | None = Field(default=None, gt=0, le=1000)
    spray_rate_ml_s: float | None = Field(default=None, gt=0, le=1000)
    interlock_radius_m: float = Field(default=3.0, gt=0, le=50)
    """People within this radius trip the UV/spray interlock."""
    footprint_radius_m: float = Field(default=0.35, gt=0, le=3)
    sensors: tuple[SensorName, ...] = ()

    @model_validator(mode="after")
    def _devices_match_capabilities(self) -> RobotModel:
        if "uv_disinfection" in self.capabilities and self.uv_irradiance_at_1m_mw_cm2 is None:
            raise ValueError("uv_irradiance_at_1m_mw_cm2: required for uv_disinfection")
        if "spray_disinfection" in self.capabilities and self.spray_rate_ml_s is None:
            raise ValueError("spray_rate_ml_s: required for spray_disinfection")
        return self

    @property
    def has_uv_lamp(self) -> bool:
        """True when the robot carries a UV-C lamp."""
        return self.uv_irradiance_at_1m_mw_cm2 is not None

    @property
    def has_sprayer(self) -> bool:
        """True when the robot carries a sprayer."""
        return self.spray_rate_ml_s is not None

    def description(self) -> RobotDescription:
        """What the agent puts in its factsheet for this model."""
        fields: dict[str, Any] = {
            "kind": self.kind,
            "capabilities": list(self.capabilities),
            "max_speed_m_s": self.max_speed_m_s,
            "acceleration_m_s2": self.accel_m_s2,
            "length_m": 2 * self.footprint_radius_m,
            "width_m": 2 * self.footprint_radius_m,
        }
        if self.uv_irradiance_at_1m_mw_cm2 is not None:
            fields["uv_irradiance_at_1m_mw_cm2"] = self.uv_irradiance_at_1m_mw_cm2
        if self.spray_rate_ml_s is not None:
            fields["spray_rate_ml_s"] = self.spray_rate_ml_s
        return RobotDescription(**fields)


class ModelFileError(ValueError):
    """A model file or override that cannot be used; the message names file and field."""


def _field_errors(exc: ValidationError, prefix: str) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in (prefix, *err['loc']))}: {err['msg']}" for err in exc.errors()
    )


def merge_models(
    base: Mapping[str, RobotModel], overrides: Mapping[str, Any], source: str
) -> dict[str, RobotModel]:
    """`base` with each kind's fields in `overrides` replaced (new kinds added whole)."""
    if not isinstance(overrides, Mapping):
        raise ModelFileError(f"{source}: models must be a mapping of kind to fields")
    merged = dict(base)
    for kind, fields in overrides.items():
        if not isinstance(fields, Mapping):
            raise ModelFileError(f"{source}: {kind}: must be a mapping of fields")
        current = base[kind].model_dump() if kind in base else {}
        try:
            merged[str(kind)] = RobotModel.model_validate({**current, **fields, "kind": kind})
        except ValidationError as exc:
            raise ModelFileError(f"{source}: {_field_errors(exc, str(kind))}") from exc
    return merged


def load_models(path: str | Path | None = None) -> dict[str, RobotModel]:
    """The default models, overridden/extended by the YAML file at `path` if given."""
    models = merge_models({}, _read_yaml(DEFAULT_MODELS_FILE), str(DEFAULT_MODELS_FILE))
    if path is not None:
        models = merge_models(models, _read_yaml(Path(path)), str(path))
    return models


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ModelFileError(f"{path}: not valid YAML: {exc}") from exc

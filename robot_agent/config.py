"""Agent configuration: a YAML file with `FLEET_AGENT_*` environment overrides."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

ENV_PREFIX = "FLEET_AGENT_"
_ID_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.:")


class TlsConfig(BaseModel):
    """TLS towards the broker: CA to trust, and an optional client certificate."""

    model_config = ConfigDict(extra="forbid")

    ca_file: Path
    cert_file: Path | None = None
    key_file: Path | None = None
    insecure_skip_hostname_check: bool = False


class AdapterConfig(BaseModel):
    """Which platform adapter drives the robot, and its own parameters."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["sim", "ros2"] = "sim"
    params: dict[str, Any] = Field(default_factory=dict)


Capability = Literal["patrol", "uv_disinfection", "spray_disinfection", "guidance", "reception"]


def _default_capabilities() -> list[Capability]:
    return ["patrol"]


class RobotDescription(BaseModel):
    """What kind of robot this is; goes into the VDA 5050 factsheet."""

    model_config = ConfigDict(extra="forbid")

    kind: str = Field(default="service_robot", min_length=1, max_length=64)
    capabilities: list[Capability] = Field(default_factory=lambda: _default_capabilities())
    max_speed_m_s: float = Field(default=1.0, gt=0, le=5)
    acceleration_m_s2: float = Field(default=0.5, gt=0, le=10)
    length_m: float = Field(default=0.8, gt=0, le=5)
    width_m: float = Field(default=0.6, gt=0, le=5)
    height_m: float = Field(default=1.4, gt=0, le=5)
    uv_irradiance_at_1m_mw_cm2: float = Field(default=2.67, gt=0, le=1000)
    """The robot's own lamp, used when an order does not state the irradiance it planned with."""
    spray_rate_ml_s: float = Field(default=4.0, gt=0, le=1000)


class AgentConfig(BaseModel):
    """Everything one onboard agent needs to know."""

    model_config = ConfigDict(extra="forbid")

    manufacturer: str
    serial_number: str
    broker_url: str = "mqtt://127.0.0.1:1883"
    username: str | None = None
    password: str | None = None
    tls: TlsConfig | None = None
    interface: str = "uagv"
    keepalive_s: int = Field(default=10, ge=1, le=600)
    state_interval_s: float = Field(default=5.0, gt=0, le=30)
    """Longest gap between two state messages (VDA 5050 §6.10: at least every 30 s)."""
    visualization_interval_s: float = Field(default=0.5, gt=0)
    reconnect_min_s: float = Field(default=0.5, gt=0)
    reconnect_max_s: float = Field(default=30.0, gt=0)
    adapter: AdapterConfig = Field(default_factory=AdapterConfig)
    robot: RobotDescription = Field(default_factory=RobotDescription)

    @field_validator("manufacturer", "serial_number")
    @classmethod
    def _topic_safe(cls, value: str) -> str:
        # VDA 5050 §6.5: serialNumber uses A-Z a-z 0-9 _ . : - only (it is a topic level).
        if not value or not set(value) <= _ID_CHARS:
            raise ValueError("must be non-empty and use only A-Z a-z 0-9 _ - . :")
        return value

    @field_validator("broker_url")
    @classmethod
    def _broker_scheme(cls, value: str) -> str:
        if not value.startswith(("mqtt://", "mqtts://")):
            raise ValueError("must start with mqtt:// or mqtts://")
        return value


class AgentConfigError(ValueError):
    """A configuration that cannot be used; the message names the file and field."""


def _env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for key, value in environ.items():
        if key.startswith(ENV_PREFIX) and key != ENV_PREFIX + "CONFIG":
            overrides[key[len(ENV_PREFIX) :].lower()] = value
    return overrides


def load_agent_config(path: Path, environ: dict[str, str] | None = None) -> AgentConfig:
    """Read a YAML config file, apply `FLEET_AGENT_*` overrides, validate."""
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise AgentConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise AgentConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise AgentConfigError(f"{path}: top level must be a mapping")
    raw.update(_env_overrides(dict(os.environ) if environ is None else environ))
    try:
        return AgentConfig.model_validate(raw)
    except ValidationError as exc:
        fields = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise AgentConfigError(f"{path}: {fields}") from exc

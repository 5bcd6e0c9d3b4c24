"""The node's parameters: read from a ROS 2 params file, validated in plain Python.

The node is started with ``--ros-args --params-file agent.yaml``; rclpy declares every
parameter found there and hands them over as a flat ``{dotted.name: value}`` mapping,
which `parse_node_parameters` turns into typed settings. Every error names the
parameter. `load_params_file` reads the same file without ROS (tests, and the
``check_params`` command), following rcl's rules for node keys and ``ros__parameters``.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from fleet_robot_agent.names import RosNameError, format_service_name, name_problem
from robot_agent.adapter import Device
from robot_agent.config import ENV_PREFIX, AgentConfig, AgentConfigError, load_agent_config

NODE_NAME = "fleet_robot_agent"

# Parameters rclpy itself declares on every node; they are not ours to validate.
_ROS_OWN = frozenset({"use_sim_time", "start_type_description_service"})
_ROS_OWN_PREFIXES = ("qos_overrides.",)


class ParameterError(ValueError):
    """A parameter the node cannot use; the message names it."""

    def __init__(self, name: str, why: str) -> None:
        super().__init__(f"parameter {name!r}: {why}")
        self.name = name


@dataclass(frozen=True, slots=True)
class AdapterParams:
    """Where the ROS 2 side of the robot lives: frames, topics, services, limits."""

    map_id: str
    """VDA 5050 mapId of the level the robot starts on (its Nav2 map)."""
    map_frame: str = "map"
    base_frame: str = "base_link"
    navigate_action: str = "navigate_to_pose"
    behavior_tree: str = ""
    speed_limit_topic: str = "speed_limit"
    odom_topic: str = "odom"
    battery_topic: str = "battery_state"
    emergency_stop_topic: str = ""
    people_topic: str = "people_count"
    person_following_topic: str = ""
    speech_topic: str = "speech"
    sensor_topics: Mapping[str, str] = field(default_factory=dict)
    device_services: Mapping[Device, str] = field(default_factory=dict)
    charging_service: str = ""
    door_service_template: str = ""
    lift_service_template: str = ""
    level_maps: Mapping[str, str] = field(default_factory=dict)
    load_map_service: str = "map_server/load_map"
    initial_pose_topic: str = "initialpose"
    pose_rate_hz: float = 10.0
    people_stale_after_s: float = 2.0
    sensor_stale_after_s: float = 10.0
    odom_stale_after_s: float = 1.0
    service_retry_s: float = 1.0
    lift_ride_timeout_s: float = 300.0


@dataclass(frozen=True, slots=True)
class NodeSettings:
    """Everything the node needs: the adapter's parameters and the agent's config."""

    adapter: AdapterParams
    agent: AgentConfig


_NAME_PARAMS = {
    "navigate_action": False,
    "speed_limit_topic": False,
    "odom_topic": False,
    "battery_topic": False,
    "emergency_stop_topic": True,
    "people_topic": True,
    "person_following_topic": True,
    "speech_topic": True,
    "charging_service": True,
    "load_map_service": False,
    "initial_pose_topic": False,
}
"""ROS-name parameters, and whether '' (feature not fitted) is allowed."""

_POSITIVE_PARAMS = (
    "pose_rate_hz",
    "people_stale_after_s",
    "sensor_stale_after_s",
    "odom_stale_after_s",
    "service_retry_s",
    "lift_ride_timeout_s",
)
_FRAME_PARAMS = ("map_frame", "base_frame")
_TEXT_PARAMS = ("map_id", "behavior_tree", "door_service_template", "lift_service_template")
_GROUPS = ("sensor_topics", "devices", "level_maps", "agent")
_FRAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./-]*")


def _text(values: Mapping[str, object], name: str, default: str) -> str:
    value = values.get(name, default)
    if not isinstance(value, str):
        raise ParameterError(name, f"must be a string, got {type(value).__name__}")
    return value


def _ros_name(values: Mapping[str, object], name: str, default: str, optional: bool) -> str:
    value = _text(values, name, default)
    if value == "" and optional:
        return value
    problem = name_problem(value)
    if problem is not None:
        raise ParameterError(name, f"{value!r} {problem}")
    return value


def _frame(values: Mapping[str, object], name: str, default: str) -> str:
    # tf2 frame ids are not graph names: no leading '/' (tf2 refuses it), otherwise free.
    value = _text(values, name, default)
    if not _FRAME_RE.fullmatch(value):
        raise ParameterError(name, f"{value!r} is not a tf2 frame id (no leading '/', no spaces)")
    return value


def _positive(values: Mapping[str, object], name: str, default: float) -> float:
    value = values.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ParameterError(name, f"must be a number, got {type(value).__name__}")
    if not math.isfinite(value) or value <= 0:
        raise ParameterError(name, f"must be a positive number, got {value!r}")
    return float(value)


def _group(values: Mapping[str, object], prefix: str) -> dict[str, object]:
    start = prefix + "."
    return {key[len(start) :]: value for key, value in values.items() if key.startswith(start)}


def _topic_map(values: Mapping[str, object], prefix: str) -> dict[str, str]:
    topics: dict[str, str] = {}
    for key, value in _group(values, prefix).items():
        name = f"{prefix}.{key}"
        if "." in key or not key:
            raise ParameterError(name, "expected one level below " + prefix)
        topics[key] = _ros_name({name: value}, name, "", optional=False)
    return topics


def _devices(values: Mapping[str, object]) -> dict[Device, str]:
    devices: dict[Device, str] = {}
    known = ", ".join(sorted(d.value for d in Device))
    for key, value in _group(values, "devices").items():
        name = f"devices.{key}"
        try:
            device = Device(key)
        except ValueError:
            raise ParameterError(name, f"unknown device; known: {known}") from None
        service = _ros_name({name: value}, name, "", optional=True)
        if service:
            devices[device] = service
    return devices


def _level_maps(values: Mapping[str, object]) -> dict[str, str]:
    maps: dict[str, str] = {}
    for key, value in _group(values, "level_maps").items():
        name = f"level_maps.{key}"
        url = _text({name: value}, name, "")
        if not url.strip():
            raise ParameterError(name, "must be a map YAML path or URL (file://, package://)")
        maps[key] = url
    return maps


def _template(values: Mapping[str, object], name: str, **sample: str) -> str:
    template = _text(values, name, "")
    if not template:
        return template
    for placeholder in sample:
        if "{" + placeholder + "}" not in template:
            raise ParameterError(name, f"must contain {{{placeholder}}}")
    try:
        format_service_name(template, **sample)
    except RosNameError as exc:
        raise ParameterError(name, str(exc)) from exc
    return template


def _check_known(values: Mapping[str, object]) -> None:
    known = {*_NAME_PARAMS, *_FRAME_PARAMS, *_POSITIVE_PARAMS, *_TEXT_PARAMS, "agent_config_file"}
    for key in values:
        if key in known or key in _ROS_OWN or key.startswith(_ROS_OWN_PREFIXES):
            continue
        if key.split(".", 1)[0] in _GROUPS and "." in key:
            continue
        raise ParameterError(key, "unknown parameter (a typo?)")


def parse_adapter_params(values: Mapping[str, object]) -> AdapterParams:
    """Validate the adapter's parameters; the first problem raises ParameterError."""
    _check_known(values)
    map_id = _text(values, "map_id", "")
    if not map_id:
        raise ParameterError("map_id", "is required: the VDA 5050 mapId of the robot's level")
    names = {
        name: _ros_name(values, name, str(_DEFAULTS[name]), optional)
        for name, optional in _NAME_PARAMS.items()
    }
    devices = _devices(values)
    if devices and not names["people_topic"]:
        # The UV/spray interlock (DESIGN §5) has nothing to read without it.
        raise ParameterError(
            "people_topic", "is required while devices.uv_lamp or devices.sprayer is set"
        )
    # Each value below was checked against its field's type by the helper producing it.
    checked: dict[str, Any] = {
        **names,
        **{name: _positive(values, name, float(_DEFAULTS[name])) for name in _POSITIVE_PARAMS},
    }
    params = AdapterParams(
        map_id=map_id,
        map_frame=_frame(values, "map_frame", "map"),
        base_frame=_frame(values, "base_frame", "base_link"),
        behavior_tree=_text(values, "behavior_tree", ""),
        sensor_topics=_topic_map(values, "sensor_topics"),
        device_services=devices,
        door_service_template=_template(values, "door_service_template", door="D1"),
        lift_service_template=_template(values, "lift_service_template", lift="L", level="L1"),
        level_maps=_level_maps(values),
        **checked,
    )
    if params.map_frame == params.base_frame:
        raise ParameterError("base_frame", "must differ from map_frame")
    return params


_DEFAULTS: dict[str, Any] = {
    name: getattr(AdapterParams(map_id="-"), name) for name in (*_NAME_PARAMS, *_POSITIVE_PARAMS)
}


def _nest(flat: Mapping[str, object], prefix: str) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for dotted, value in flat.items():
        parts = dotted.split(".")
        node = tree
        for i, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ParameterError(
                    f"{prefix}.{'.'.join(parts[: i + 1])}", "is both a value and a group"
                )
            node = child
        if isinstance(node.get(parts[-1]), dict):
            raise ParameterError(f"{prefix}.{dotted}", "is both a value and a group")
        node[parts[-1]] = list(value) if isinstance(value, tuple) else value
    return tree


def _deep_merge(base: dict[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    # Same convention as robot_agent.config: FLEET_AGENT_PASSWORD → password.
    return {
        key[len(ENV_PREFIX) :].lower(): value
        for key, value in environ.items()
        if key.startswith(ENV_PREFIX) and key != ENV_PREFIX + "CONFIG"
    }


def parse_agent_config(
    values: Mapping[str, object], environ: Mapping[str, str] | None = None
) -> AgentConfig:
    """The agent's config: `agent_config_file` (if set), FLEET_AGENT_* env, then `agent.*`.

    Secrets (the broker password) belong in the file or the environment, not in a
    params file that ends up in launch logs.
    """
    env = dict(os.environ) if environ is None else dict(environ)
    path = _text(values, "agent_config_file", "")
    if path:
        try:
            base: dict[str, Any] = load_agent_config(Path(path), env).model_dump()
        except AgentConfigError as exc:
            raise ParameterError("agent_config_file", str(exc)) from exc
    else:
        base = _env_overrides(env)
    raw = _deep_merge(base, _nest(_group(values, "agent"), "agent"))
    # This node is the ROS 2 adapter; the file may have been written for another.
    raw["adapter"] = {"type": "ros2", "params": {}}
    try:
        return AgentConfig.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ParameterError(f"agent.{where}", first["msg"]) from exc


def parse_node_parameters(
    values: Mapping[str, object], environ: Mapping[str, str] | None = None
) -> NodeSettings:
    """Validate all of the node's parameters (as rclpy hands them over)."""
    return NodeSettings(
        adapter=parse_adapter_params(values), agent=parse_agent_config(values, environ)
    )


# --- reading a params file without ROS ---------------------------------------------


class ParamsFileError(ValueError):
    """A params file that is not a valid ROS 2 parameters file; names file and key."""


def _flatten(tree: Mapping[str, object], prefix: str, where: str) -> dict[str, object]:
    flat: dict[str, object] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            if not value:
                raise ParamsFileError(f"{where}: {name} is an empty mapping (ROS cannot load it)")
            flat.update(_flatten(value, name + ".", where))
        elif isinstance(value, list):
            kinds = {type(v) for v in value}
            if not value or len(kinds) > 1 or not kinds <= {bool, int, float, str}:
                raise ParamsFileError(
                    f"{where}: {name} must be a non-empty list of one scalar type"
                )
            flat[name] = list(value)
        elif value is None or isinstance(value, bool | int | float | str):
            if value is None:
                raise ParamsFileError(f"{where}: {name} has no value")
            flat[name] = value
        else:
            raise ParamsFileError(f"{where}: {name} has an unsupported value {value!r}")
    return flat


def _key_regex(key: str) -> re.Pattern[str]:
    full = key if key.startswith("/") else "/" + key
    parts = []
    for part in full.strip("/").split("/"):
        if part == "**":
            parts.append(r"(?:/[^/]+)*")
        else:
            parts.append("/" + re.escape(part).replace(r"\*", "[^/]*"))
    return re.compile("".join(parts))


def node_key_matches(key: str, node_name: str, namespace: str = "/") -> bool:
    """rcl's rule for a params-file top-level key: '/**', '/ns/node', wildcards * and **."""
    ns = namespace.strip("/")
    fqn = f"/{ns}/{node_name}" if ns else f"/{node_name}"
    return _key_regex(key).fullmatch(fqn) is not None


def load_params_file(
    path: Path, node_name: str = NODE_NAME, namespace: str = "/"
) -> dict[str, object]:
    """The flat parameters a node called `node_name` in `namespace` gets from `path`."""
    try:
        tree = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ParamsFileError(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ParamsFileError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(tree, dict):
        raise ParamsFileError(f"{path}: top level must map node names to ros__parameters")
    values: dict[str, object] = {}
    for key, body in tree.items():
        where = f"{path}: {key}"
        if not isinstance(body, dict) or not isinstance(body.get("ros__parameters"), dict):
            raise ParamsFileError(f"{where}: needs a 'ros__parameters' mapping")
        if node_key_matches(str(key), node_name, namespace):
            values.update(_flatten(body["ros__parameters"], "", where))
    return values

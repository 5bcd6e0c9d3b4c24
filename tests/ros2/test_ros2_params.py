"""Parameter files and validation of fleet_robot_agent (fleet_robot_agent.params, check_params)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fleet_robot_agent.node import check_params
from fleet_robot_agent.params import (
    AdapterParams,
    ParameterError,
    ParamsFileError,
    load_params_file,
    node_key_matches,
    parse_adapter_params,
    parse_agent_config,
    parse_node_parameters,
)
from ros2_support import AGENT_PACKAGE, GAZEBO_PACKAGE

from robot_agent.adapter import Device

EXAMPLE = AGENT_PACKAGE / "config" / "agent.yaml"
SIM_AGENT = GAZEBO_PACKAGE / "config" / "sim_agent.yaml"

MINIMAL: dict[str, object] = {
    "map_id": "L1",
    "agent.manufacturer": "acme",
    "agent.serial_number": "r1",
}


def params(**changes: object) -> dict[str, object]:
    values = dict(MINIMAL)
    values.update({k.replace("__", "."): v for k, v in changes.items()})
    return values


# --- the shipped files --------------------------------------------------------------


def test_example_params_file_is_valid_for_a_namespaced_robot() -> None:
    settings = parse_node_parameters(load_params_file(EXAMPLE, namespace="/robot1"), environ={})
    adapter, agent = settings.adapter, settings.agent
    assert agent.serial_number == "robot1" and agent.adapter.type == "ros2"
    assert agent.robot.capabilities == ["patrol", "uv_disinfection"]
    assert adapter.map_id == "L1"
    assert adapter.device_services == {Device.UV_LAMP: "uv_lamp/set"}
    assert adapter.sensor_topics["temperature_c"] == "sensors/temperature_c"
    assert adapter.level_maps == {"L1": "/opt/site/maps/L1.yaml", "L2": "/opt/site/maps/L2.yaml"}
    assert adapter.lift_service_template == "/building/lifts/{lift}/to_{level}"


def test_gazebo_agent_params_are_valid_with_the_launch_overrides() -> None:
    values = load_params_file(SIM_AGENT, namespace="/robot3")
    values.update({"agent.serial_number": "robot3", "map_id": "L2", "use_sim_time": True})
    settings = parse_node_parameters(values, environ={})
    assert settings.agent.serial_number == "robot3"
    assert settings.adapter.people_topic == "" and not settings.adapter.device_services


def test_check_params_command(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert check_params([str(EXAMPLE), "--namespace", "/robot1"]) == 0
    out = capsys.readouterr().out
    assert "OK for /robot1/fleet_robot_agent" in out and "devices: uv_lamp" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text("/**:\n  ros__parameters:\n    map_id: L1\n    odom_topic: 'od om'\n")
    assert check_params([str(bad)]) == 1
    assert "parameter 'odom_topic'" in capsys.readouterr().err


# --- params files -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "namespace", "matches"),
    [
        ("/**", "/robot1", True),
        ("**", "/", True),
        ("fleet_robot_agent", "/", True),
        ("fleet_robot_agent", "/robot1", False),
        ("/robot1/fleet_robot_agent", "/robot1", True),
        ("robot1/fleet_robot_agent", "/robot1", True),
        ("/robot2/fleet_robot_agent", "/robot1", False),
        ("/**/fleet_robot_agent", "/site/robot1", True),
        ("/*/fleet_robot_agent", "/robot1", True),
        ("/*/fleet_robot_agent", "/site/robot1", False),
        ("/robot1/other_node", "/robot1", False),
    ],
)
def test_node_key_matching(key: str, namespace: str, matches: bool) -> None:
    assert node_key_matches(key, "fleet_robot_agent", namespace) is matches


def test_params_file_flattens_and_later_matching_keys_win(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "/**:\n  ros__parameters:\n    map_id: L1\n    sensor_topics: {smoke: s/smoke}\n"
        "/robot2/fleet_robot_agent:\n  ros__parameters:\n    map_id: L2\n"
        "/robot1/fleet_robot_agent:\n  ros__parameters:\n    map_id: L3\n"
    )
    assert load_params_file(path, namespace="/robot2") == {
        "map_id": "L2",
        "sensor_topics.smoke": "s/smoke",
    }


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("- just a list\n", "top level"),
        ("/**:\n  params: {a: 1}\n", "ros__parameters"),
        ("/**:\n  ros__parameters:\n    sensor_topics: {}\n", "empty mapping"),
        ("/**:\n  ros__parameters:\n    caps: [a, 1]\n", "one scalar type"),
        ("/**:\n  ros__parameters:\n    caps: []\n", "one scalar type"),
        ("/**:\n  ros__parameters:\n    map_id:\n", "no value"),
        ("/**: [\n", "not valid YAML"),
    ],
)
def test_bad_params_files_name_the_problem(tmp_path: Path, text: str, error: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(text)
    with pytest.raises(ParamsFileError, match=error):
        load_params_file(path)


def test_missing_params_file() -> None:
    with pytest.raises(ParamsFileError, match="cannot read"):
        load_params_file(Path("/nonexistent/agent.yaml"))


# --- adapter parameters -------------------------------------------------------------------


def test_defaults_for_a_minimal_robot() -> None:
    adapter = parse_adapter_params(params())
    assert adapter == AdapterParams(map_id="L1")
    assert adapter.navigate_action == "navigate_to_pose"
    assert adapter.people_topic == "people_count"


def test_ros_own_parameters_are_ignored() -> None:
    parse_adapter_params(
        params(use_sim_time=True, start_type_description_service=True, **{"qos_overrides./tf.x": 1})
    )


def test_integers_are_accepted_for_float_parameters() -> None:
    assert parse_adapter_params(params(pose_rate_hz=5)).pose_rate_hz == 5.0


@pytest.mark.parametrize(
    ("changes", "name", "why"),
    [
        ({"map_id": ""}, "map_id", "required"),
        ({"map_id": 3}, "map_id", "string"),
        ({"odom_topc": "odom"}, "odom_topc", "unknown parameter"),
        ({"odom_topic": "odom/"}, "odom_topic", "end with"),
        ({"odom_topic": ""}, "odom_topic", "empty"),
        ({"battery_topic": "battery state"}, "battery_topic", "invalid part"),
        ({"map_frame": "/map"}, "map_frame", "frame id"),
        ({"base_frame": "map"}, "base_frame", "differ"),
        ({"pose_rate_hz": 0}, "pose_rate_hz", "positive"),
        ({"people_stale_after_s": True}, "people_stale_after_s", "number"),
        ({"service_retry_s": "1"}, "service_retry_s", "number"),
        ({"lift_ride_timeout_s": float("nan")}, "lift_ride_timeout_s", "positive"),
        ({"devices.laser": "x/set"}, "devices.laser", "unknown device"),
        ({"devices.uv_lamp": "uv lamp"}, "devices.uv_lamp", "invalid part"),
        ({"sensor_topics.smoke": "1smoke"}, "sensor_topics.smoke", "invalid part"),
        ({"sensor_topics.a.b": "x"}, "sensor_topics.a.b", "one level"),
        ({"level_maps.L2": " "}, "level_maps.L2", "map YAML"),
        ({"door_service_template": "/doors/open"}, "door_service_template", "{door}"),
        ({"lift_service_template": "/lifts/{lift}"}, "lift_service_template", "{level}"),
        ({"lift_service_template": "/lifts/{lift}/{level}/"}, "lift_service_template", "end"),
        ({"door_service_template": "/d/{door}/{x}"}, "door_service_template", "cannot be filled"),
    ],
)
def test_invalid_parameters_name_themselves(changes: dict[str, Any], name: str, why: str) -> None:
    with pytest.raises(ParameterError, match=why) as caught:
        parse_adapter_params({**MINIMAL, **changes})
    assert caught.value.name == name
    assert f"parameter {name!r}" in str(caught.value)


def test_uv_lamp_needs_the_people_topic_for_its_interlock() -> None:
    with pytest.raises(ParameterError, match="people_topic"):
        parse_adapter_params({**MINIMAL, "devices.uv_lamp": "uv/set", "people_topic": ""})
    fitted = parse_adapter_params({**MINIMAL, "devices.uv_lamp": "uv/set", "devices.sprayer": ""})
    assert fitted.device_services == {Device.UV_LAMP: "uv/set"}


def test_optional_topics_may_be_empty() -> None:
    adapter = parse_adapter_params(
        params(emergency_stop_topic="", person_following_topic="", speech_topic="", people_topic="")
    )
    assert adapter.emergency_stop_topic == adapter.speech_topic == ""


# --- agent configuration -------------------------------------------------------------------


def test_agent_config_from_parameters_is_forced_to_the_ros2_adapter() -> None:
    agent = parse_agent_config(
        {**MINIMAL, "agent.robot.capabilities": ["patrol", "guidance"], "agent.keepalive_s": 20},
        environ={},
    )
    assert agent.adapter.type == "ros2"
    assert agent.robot.capabilities == ["patrol", "guidance"]
    assert agent.keepalive_s == 20


@pytest.mark.parametrize(
    ("changes", "name"),
    [
        ({"agent.serial_number": "robot 1"}, "agent.serial_number"),
        ({"agent.broker_url": "http://x"}, "agent.broker_url"),
        ({"agent.robot.capabilities": ["flying"]}, "agent.robot.capabilities.0"),
        ({"agent.colour": "red"}, "agent.colour"),
    ],
)
def test_agent_errors_name_the_parameter(changes: dict[str, Any], name: str) -> None:
    with pytest.raises(ParameterError) as caught:
        parse_agent_config({**MINIMAL, **changes}, environ={})
    assert caught.value.name == name


def test_missing_agent_identity_is_reported() -> None:
    with pytest.raises(ParameterError) as caught:
        parse_agent_config({"map_id": "L1", "agent.manufacturer": "acme"}, environ={})
    assert caught.value.name == "agent.serial_number"


def test_value_and_group_at_once_is_refused() -> None:
    with pytest.raises(ParameterError, match="both a value and a group"):
        parse_agent_config({**MINIMAL, "agent.robot": "x", "agent.robot.kind": "y"}, environ={})


def test_agent_file_then_environment_then_parameters(tmp_path: Path) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text(
        "manufacturer: filecorp\nserial_number: from-file\nusername: bot\n"
        "adapter: {type: sim, params: {route: [[0, 0], [1, 0]]}}\n"
    )
    agent = parse_agent_config(
        {"agent_config_file": str(path), "agent.serial_number": "from-params"},
        environ={"FLEET_AGENT_PASSWORD": "s3cret", "FLEET_AGENT_SERIAL_NUMBER": "from-env"},
    )
    assert agent.manufacturer == "filecorp"
    assert agent.password == "s3cret"
    assert agent.serial_number == "from-params"
    assert agent.adapter.type == "ros2" and agent.adapter.params == {}


def test_environment_alone_supplies_secrets() -> None:
    agent = parse_agent_config(
        MINIMAL, environ={"FLEET_AGENT_PASSWORD": "pw", "FLEET_AGENT_CONFIG": "x"}
    )
    assert agent.password == "pw"


def test_unreadable_agent_file_names_the_parameter(tmp_path: Path) -> None:
    with pytest.raises(ParameterError) as caught:
        parse_agent_config({"agent_config_file": str(tmp_path / "none.yaml")}, environ={})
    assert caught.value.name == "agent_config_file" and "cannot read" in str(caught.value)

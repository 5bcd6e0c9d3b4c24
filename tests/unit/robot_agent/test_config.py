"""Agent configuration files: validation names the file and field; env overrides apply."""

from __future__ import annotations

from pathlib import Path

import pytest

from robot_agent.config import AgentConfigError, load_agent_config


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agent.yaml"
    path.write_text(text)
    return path


def test_minimal_config(tmp_path: Path) -> None:
    cfg = load_agent_config(_write(tmp_path, "manufacturer: acme\nserial_number: r-1\n"), {})
    assert cfg.broker_url == "mqtt://127.0.0.1:1883"
    assert cfg.adapter.type == "sim"
    assert cfg.state_interval_s == 5.0


def test_environment_overrides_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "manufacturer: acme\nserial_number: r-1\n")
    cfg = load_agent_config(path, {"FLEET_AGENT_BROKER_URL": "mqtt://10.0.0.5:1884"})
    assert cfg.broker_url == "mqtt://10.0.0.5:1884"


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("manufacturer: acme\n", "serial_number"),
        ("manufacturer: acme\nserial_number: 'r/1'\n", "serial_number"),
        ("manufacturer: acme\nserial_number: r1\nkeepalive_s: 0\n", "keepalive_s"),
        ("manufacturer: acme\nserial_number: r1\nbroker_url: tcp://x\n", "broker_url"),
        ("manufacturer: acme\nserial_number: r1\nadapter: {type: gazebo}\n", "adapter.type"),
        ("manufacturer: acme\nserial_number: r1\nstate_interval_s: 60\n", "state_interval_s"),
        ("manufacturer: acme\nserial_number: r1\nspeling: 1\n", "speling"),
    ],
)
def test_bad_config_names_file_and_field(tmp_path: Path, text: str, field: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(AgentConfigError) as info:
        load_agent_config(path, {})
    assert str(path) in str(info.value)
    assert field in str(info.value)


def test_not_yaml(tmp_path: Path) -> None:
    with pytest.raises(AgentConfigError, match="not valid YAML"):
        load_agent_config(_write(tmp_path, "manufacturer: [unclosed\n"), {})


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AgentConfigError, match="cannot read"):
        load_agent_config(tmp_path / "nope.yaml", {})

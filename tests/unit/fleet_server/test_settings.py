"""Configuration: defaults, and errors that name the FLEET_ variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet_server.settings import SettingsError, load_settings, parse_mqtt_url


def test_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.uses_embedded_broker
    assert (settings.http_host, settings.http_port) == ("127.0.0.1", 8080)
    assert settings.embedded_mqtt_port == 1883
    assert settings.vda_interface == "uagv"
    assert settings.database_url == "sqlite:///var/fleet.db"


def test_database_defaults_under_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FLEET_DATA_DIR", str(tmp_path))
    assert load_settings().database_url == f"sqlite:///{tmp_path}/fleet.db"


def test_dotenv_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("FLEET_HTTP_PORT=9191\n")
    assert load_settings().http_port == 9191


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("FLEET_HTTP_PORT", "eighty"),
        ("FLEET_HTTP_PORT", "70000"),
        ("FLEET_MQTT_URL", "http://broker:1883"),
        ("FLEET_MQTT_URL", "mqtt://:1883"),
        ("FLEET_MQTT_URL", "mqtt://broker:notaport"),
        ("FLEET_DATABASE_URL", "mysql://x"),
        ("FLEET_VDA_INTERFACE", "a/b"),
        ("FLEET_EMBEDDED_MQTT_PORT", "-1"),
        ("FLEET_LOG_LEVEL", "LOUD"),
    ],
)
def test_invalid_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert variable in str(info.value)


def test_mqtt_url_parts() -> None:
    endpoint = parse_mqtt_url("mqtts://robot%40a:p%3Ass@broker.example:8884")
    assert (endpoint.host, endpoint.port, endpoint.tls) == ("broker.example", 8884, True)
    assert (endpoint.username, endpoint.password) == ("robot@a", "p:ss")
    assert parse_mqtt_url("mqtt://h").port == 1883
    assert parse_mqtt_url("mqtts://h").port == 8883

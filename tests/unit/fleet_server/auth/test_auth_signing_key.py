"""The JWT signing key: from FLEET_JWT_SECRET, or generated once per data dir with 0600."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from fleet_server.auth.signing_key import SigningKeyError, load_signing_key
from fleet_server.settings import Settings, SettingsError, load_settings


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_development_generates_a_key_once_with_private_permissions(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "var")
    key = load_signing_key(settings)
    path = tmp_path / "var" / "jwt_secret"
    assert len(key) >= 32
    assert _mode(path) == 0o600
    assert load_signing_key(settings) == key
    assert load_signing_key(Settings(data_dir=tmp_path / "elsewhere")) != key


def test_a_loose_key_file_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "jwt_secret"
    path.write_text("s" * 40)
    path.chmod(0o644)
    assert load_signing_key(Settings(data_dir=tmp_path)) == "s" * 40
    assert _mode(path) == 0o600


def test_a_short_key_file_is_refused_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "jwt_secret").write_text("short")
    with pytest.raises(SigningKeyError, match="jwt_secret"):
        load_signing_key(Settings(data_dir=tmp_path))


def test_the_configured_secret_wins(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, jwt_secret="c" * 32)
    assert load_signing_key(settings) == "c" * 32
    assert not (tmp_path / "jwt_secret").exists()


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"environment": "production"}, "FLEET_JWT_SECRET"),
        ({"environment": "production", "jwt_secret": "x" * 31}, "FLEET_JWT_SECRET"),
        ({"jwt_secret": "too-short"}, "FLEET_JWT_SECRET"),
        (
            {
                "environment": "production",
                "jwt_secret": "x" * 32,
                "argon2_profile": "fast-insecure",
            },
            "FLEET_ARGON2_PROFILE",
        ),
        ({"admin_password": "short"}, "FLEET_ADMIN_PASSWORD"),
    ],
)
def test_unsafe_settings_are_refused_naming_the_variable(
    tmp_path: Path, overrides: dict[str, object], variable: str
) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(data_dir=tmp_path, **overrides)
    assert variable in str(info.value)
    assert "too-short" not in str(info.value)


def test_production_with_a_long_secret_starts(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, environment="production", jwt_secret="p" * 32)
    assert load_signing_key(settings) == "p" * 32

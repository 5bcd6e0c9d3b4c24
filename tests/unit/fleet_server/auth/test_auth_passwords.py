"""Password hashing: argon2 with real parameters by default, rehash when parameters change."""

from __future__ import annotations

from fleet_server.auth.passwords import PasswordHasher, generate_password


def test_hash_verifies_only_the_right_password() -> None:
    hasher = PasswordHasher("fast-insecure")
    stored = hasher.hash("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert "correct horse battery" not in stored
    assert hasher.verify("correct horse battery", stored) == (True, None)
    assert hasher.verify("correct horse batterz", stored)[0] is False
    assert hasher.hash("correct horse battery") != stored  # salted


def test_standard_profile_uses_real_argon2_cost() -> None:
    stored = PasswordHasher().hash("pw-for-cost-check")
    assert "m=65536,t=3,p=4" in stored


def test_a_hash_with_old_parameters_is_upgraded_on_verify() -> None:
    cheap = PasswordHasher("fast-insecure").hash("upgrade-me-please")
    matches, upgraded = PasswordHasher().verify("upgrade-me-please", cheap)
    assert matches and upgraded is not None and "m=65536" in upgraded


def test_generated_passwords_are_long_and_distinct() -> None:
    passwords = {generate_password() for _ in range(50)}
    assert len(passwords) == 50
    assert all(len(p) >= 24 for p in passwords)

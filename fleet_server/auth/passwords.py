"""Password hashing with argon2 (pwdlib), and generated passwords."""

from __future__ import annotations

import secrets
from typing import Literal

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

Argon2Profile = Literal["standard", "fast-insecure"]

GENERATED_PASSWORD_BYTES = 18  # 24 URL-safe characters, 144 bits


def generate_password() -> str:
    """A random password for a new account, to be shown once."""
    return secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)


class PasswordHasher:
    """Hashes and verifies passwords; `fast-insecure` exists only to keep test suites quick."""

    def __init__(self, profile: Argon2Profile = "standard") -> None:
        if profile == "standard":
            hasher = Argon2Hasher()  # pwdlib's defaults: 64 MiB, 3 passes, 4 lanes
        else:
            hasher = Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1)
        self._hash = PasswordHash((hasher,))
        # Verifying against this when a username is unknown makes both paths cost the same,
        # so response times do not reveal which usernames exist.
        self._decoy = self._hash.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        """The argon2 hash of `password`, with a fresh salt."""
        return self._hash.hash(password)

    def verify(self, password: str, password_hash: str) -> tuple[bool, str | None]:
        """(matches, a new hash when the stored one uses outdated parameters)."""
        return self._hash.verify_and_update(password, password_hash)

    def verify_decoy(self, password: str) -> None:
        """Spend the time a real verification takes, for an unknown username."""
        self._hash.verify(password, self._decoy)

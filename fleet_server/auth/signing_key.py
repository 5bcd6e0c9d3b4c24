"""The HS256 key that signs access tokens: configured, or generated once per data dir."""

from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path

from fleet_server.settings import ENV_PREFIX, MIN_JWT_SECRET_CHARS, Settings

log = logging.getLogger(__name__)

KEY_FILE_NAME = "jwt_secret"


class SigningKeyError(Exception):
    """The signing key cannot be read or made; the message names the file or variable."""


def _read_key(path: Path) -> str:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("%s was readable by others (mode %o); restricting it to 0600", path, mode)
        path.chmod(0o600)
    key = path.read_text(encoding="utf-8").strip()
    if len(key) < MIN_JWT_SECRET_CHARS:
        raise SigningKeyError(
            f"{path}: holds fewer than {MIN_JWT_SECRET_CHARS} characters; delete it to "
            f"generate a new key or set {ENV_PREFIX}JWT_SECRET"
        )
    return key


def _create_key(path: Path) -> str:
    key = secrets.token_urlsafe(48)
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL: two processes starting on one data dir must not overwrite each other's key.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(key + "\n")
    log.info("generated a new token signing key in %s", path)
    return key


def load_signing_key(settings: Settings) -> str:
    """`FLEET_JWT_SECRET`, or outside production the key in `$FLEET_DATA_DIR/jwt_secret`."""
    if settings.jwt_secret is not None:
        return settings.jwt_secret.get_secret_value()
    if settings.environment == "production":
        raise SigningKeyError(f"{ENV_PREFIX}JWT_SECRET is required in production")
    path = settings.data_dir / KEY_FILE_NAME
    try:
        return _create_key(path)
    except FileExistsError:
        return _read_key(path)
    except OSError as exc:
        raise SigningKeyError(f"{path}: cannot create the token signing key: {exc}") from exc

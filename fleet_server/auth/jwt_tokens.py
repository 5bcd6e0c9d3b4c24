"""Short-lived access tokens and longer refresh tokens, both HS256 JWTs (RFC 7519)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import jwt

from fleet_server.db.base import utcnow

TokenKind = Literal["access", "refresh"]
ISSUER = "fleet-server"
ALGORITHM = "HS256"
CLOCK_SKEW_S = 5


class InvalidToken(Exception):
    """A token that is malformed, forged, expired or of the wrong kind."""


@dataclass(frozen=True)
class TokenPair:
    """What the token endpoint answers."""

    access_token: str
    refresh_token: str
    expires_in: int


@dataclass(frozen=True)
class TokenClaims:
    """The claims the server relies on, from a verified token."""

    user_id: int
    auth_epoch: int
    kind: TokenKind


class JwtIssuer:
    """Issues and verifies the server's JWTs with one signing key."""

    def __init__(self, key: str, access_ttl_s: int, refresh_ttl_s: int) -> None:
        self._key = key
        self.access_ttl_s = access_ttl_s
        self.refresh_ttl_s = refresh_ttl_s

    def _encode(self, user_id: int, epoch: int, kind: TokenKind, now: datetime) -> str:
        ttl = self.access_ttl_s if kind == "access" else self.refresh_ttl_s
        claims = {
            "iss": ISSUER,
            "sub": str(user_id),
            "iat": now,
            "exp": now + timedelta(seconds=ttl),
            "jti": uuid.uuid4().hex,
            "typ": kind,
            "epoch": epoch,
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def issue(self, user_id: int, auth_epoch: int, now: datetime | None = None) -> TokenPair:
        """A fresh access token and refresh token for the user."""
        when = now or utcnow()
        return TokenPair(
            access_token=self._encode(user_id, auth_epoch, "access", when),
            refresh_token=self._encode(user_id, auth_epoch, "refresh", when),
            expires_in=self.access_ttl_s,
        )

    def verify(self, token: str, kind: TokenKind) -> TokenClaims:
        """The claims of a valid token of `kind`; `InvalidToken` otherwise."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],  # never let the token choose, e.g. "none"
                issuer=ISSUER,
                leeway=CLOCK_SKEW_S,
                options={"require": ["exp", "iat", "sub", "iss", "typ", "epoch"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("token expired") from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken("token invalid") from exc
        if claims["typ"] != kind:
            raise InvalidToken(f"wrong token type: expected {kind}")
        try:
            return TokenClaims(
                user_id=int(claims["sub"]), auth_epoch=int(claims["epoch"]), kind=kind
            )
        except (TypeError, ValueError) as exc:
            raise InvalidToken("token invalid") from exc

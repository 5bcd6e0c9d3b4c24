"""Everything authentication needs at run time, built once from the settings."""

from __future__ import annotations

from dataclasses import dataclass

from fleet_server.auth.jwt_tokens import JwtIssuer
from fleet_server.auth.passwords import PasswordHasher
from fleet_server.auth.rate_limit import RateLimiter
from fleet_server.auth.throttle import FailureThrottle
from fleet_server.settings import Settings


@dataclass
class AuthContext:
    """Password hasher, token issuer, login throttles and rate limits of one server process."""

    hasher: PasswordHasher
    jwt: JwtIssuer
    login_throttle: FailureThrottle
    """Failed logins per (username, client address)."""
    refresh_throttle: FailureThrottle
    """Failed refresh attempts per client address."""
    client_rate: RateLimiter
    """Sign-in and refresh attempts per client address, right or wrong."""
    username_rate: RateLimiter
    """Sign-in attempts per username, from any address."""
    account_max_failures: int
    lockout_base_s: float
    lockout_max_s: float

    @classmethod
    def from_settings(cls, settings: Settings, signing_key: str) -> AuthContext:
        """The context for a server configured by `settings`, signing with `signing_key`."""

        def throttle() -> FailureThrottle:
            return FailureThrottle(
                settings.login_max_failures,
                settings.login_lockout_base_s,
                settings.login_lockout_max_s,
            )

        return cls(
            hasher=PasswordHasher(settings.argon2_profile),
            jwt=JwtIssuer(signing_key, settings.access_token_ttl_s, settings.refresh_token_ttl_s),
            login_throttle=throttle(),
            refresh_throttle=throttle(),
            client_rate=RateLimiter(settings.login_rate_per_client),
            username_rate=RateLimiter(settings.login_rate_per_username),
            account_max_failures=settings.account_max_failures,
            lockout_base_s=settings.login_lockout_base_s,
            lockout_max_s=settings.login_lockout_max_s,
        )

"""Password sign-in and refresh: what the OAuth2 token endpoints do, and bearer checks."""

from __future__ import annotations

import hashlib

from sqlalchemy.orm import Session

from fleet_server.auth.api_tokens import TOKEN_MARK, principal_for_api_token
from fleet_server.auth.audit import Actor, record_audit
from fleet_server.auth.context import AuthContext
from fleet_server.auth.jwt_tokens import InvalidToken, TokenClaims, TokenPair
from fleet_server.auth.roles import Principal
from fleet_server.auth.users import authenticate, grants_of
from fleet_server.db.models import User
from fleet_server.errors import NotAuthenticated, TooManyRequests


def sign_in(
    session: Session,
    ctx: AuthContext,
    username: str,
    password: str,
    client: str,
    request_id: str | None,
) -> TokenPair:
    """Tokens for a correct username and password (OAuth2 password grant, RFC 6749 §4.3)."""
    _spend_attempt(ctx, client, username)
    user = authenticate(session, ctx, username, password, client, Actor("anonymous", request_id))
    record_audit(
        session,
        Actor(user.username, request_id),
        "auth.login",
        target=user.username,
        detail={"client": client},
    )
    session.commit()
    return ctx.jwt.issue(user.id, user.auth_epoch)


def _spend_attempt(ctx: AuthContext, client: str, username: str | None) -> None:
    """Count one attempt at a token endpoint; 429 when the address or username is over its rate."""
    wait = ctx.client_rate.acquire(client)
    if wait > 0:
        raise TooManyRequests("too many sign-in attempts from this address; try again later", wait)
    if username is None:
        return
    # Keyed like `authenticate` matches names, hashed so huge invented names cost 32 bytes.
    key = hashlib.sha256(username.strip().lower().encode("utf-8", "replace")).digest()
    wait = ctx.username_rate.acquire(key)
    if wait > 0:
        raise TooManyRequests("too many sign-in attempts for this username; try again later", wait)


def _live_user(session: Session, claims: TokenClaims) -> User:
    user = session.get(User, claims.user_id)
    if user is None or user.disabled or user.auth_epoch != claims.auth_epoch:
        # A changed password or a disabled account ends every session issued before.
        raise NotAuthenticated("session ended; sign in again")
    return user


def refresh(session: Session, ctx: AuthContext, refresh_token: str, client: str) -> TokenPair:
    """New tokens for a valid refresh token (RFC 6749 §6); throttled per client."""
    _spend_attempt(ctx, client, None)
    wait = ctx.refresh_throttle.retry_after(client)
    if wait > 0:
        raise TooManyRequests("too many invalid refresh attempts; try again later", wait)
    try:
        claims = ctx.jwt.verify(refresh_token, "refresh")
    except InvalidToken as exc:
        ctx.refresh_throttle.record_failure(client)
        raise NotAuthenticated(str(exc)) from exc
    user = _live_user(session, claims)
    return ctx.jwt.issue(user.id, user.auth_epoch)


def principal_for_bearer(session: Session, ctx: AuthContext, token: str) -> Principal:
    """Who a bearer credential (access JWT or API token) belongs to."""
    if token.startswith(TOKEN_MARK):
        return principal_for_api_token(session, token)
    try:
        claims = ctx.jwt.verify(token, "access")
    except InvalidToken as exc:
        raise NotAuthenticated(str(exc)) from exc
    user = _live_user(session, claims)
    return Principal(user_id=user.id, username=user.username, grants=grants_of(user))

"""API tokens for integrations: random, shown once, stored as a hash, found by their prefix.

A token reads `fleet_<prefix>_<secret>`. The prefix (public, unique) finds the row; the
SHA-256 of the whole token is compared in constant time. A fast hash is enough here, unlike
for passwords, because the secret is 256 random bits that nobody can guess.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet_server.auth.audit import Actor, record_audit
from fleet_server.auth.roles import (
    Grant,
    Principal,
    Role,
    effective_token_grants,
    grants_from_json,
    grants_to_json,
)
from fleet_server.auth.users import grants_of
from fleet_server.db.base import utcnow
from fleet_server.db.models import ApiToken, User
from fleet_server.errors import NotAuthenticated, NotFound, PermissionDenied

TOKEN_MARK = "fleet_"  # noqa: S105 - the public marker of our tokens, not a secret
PREFIX_BYTES = 6
SECRET_BYTES = 32
LAST_USED_RESOLUTION = timedelta(minutes=1)
"""`last_used_at` is written at most this often, so tokens do not cost a write per request."""


def mint_token() -> tuple[str, str]:
    """A new token and its prefix."""
    prefix = secrets.token_hex(PREFIX_BYTES)
    return f"{TOKEN_MARK}{prefix}_{secrets.token_urlsafe(SECRET_BYTES)}", prefix


def hash_token(token: str) -> str:
    """What is stored for a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_prefix(token: str) -> str | None:
    """The prefix of something shaped like an API token, else None."""
    if not token.startswith(TOKEN_MARK):
        return None
    prefix, sep, secret = token[len(TOKEN_MARK) :].partition("_")
    if not sep or not secret or len(prefix) != 2 * PREFIX_BYTES:
        return None
    return prefix


def create_api_token(
    session: Session,
    creator: Principal,
    name: str,
    grants: Sequence[Grant] | None,
    expires_at: datetime | None,
    actor: Actor,
) -> tuple[ApiToken, str]:
    """A new token owned by `creator`, limited to `grants` (None: all of theirs).

    Returns the row and the plaintext token, which exists nowhere else afterwards.
    """
    if creator.via_api_token is not None:
        raise PermissionDenied("API tokens cannot create tokens; sign in with a password")
    for index, grant in enumerate(grants or ()):
        if not creator.has(grant.role, grant.site_id):
            where = "all sites" if grant.site_id is None else f"site {grant.site_id!r}"
            raise PermissionDenied(f"roles[{index}]: you do not hold {grant.role.value} at {where}")
    token, prefix = mint_token()
    row = ApiToken(
        prefix=prefix,
        secret_hash=hash_token(token),
        name=name,
        owner_id=creator.user_id,
        grants=None if grants is None else grants_to_json(grants),
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    record_audit(
        session,
        actor,
        "token.create",
        target=f"token:{row.id}",
        detail={"name": name, "prefix": prefix, "grants": row.grants},
    )
    session.commit()
    return row, token


def list_api_tokens(session: Session, owner_id: int | None) -> Sequence[ApiToken]:
    """Tokens of one owner, or of everyone when `owner_id` is None; newest first."""
    query = select(ApiToken).order_by(ApiToken.id.desc())
    if owner_id is not None:
        query = query.where(ApiToken.owner_id == owner_id)
    return session.scalars(query).all()


def revoke_api_token(session: Session, token_id: int, caller: Principal, actor: Actor) -> ApiToken:
    """Revoke a token of the caller's own, or anyone's for an all-sites admin."""
    row = session.get(ApiToken, token_id)
    if row is None or (row.owner_id != caller.user_id and not caller.has(Role.ADMIN)):
        raise NotFound(f"no token {token_id}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        record_audit(session, actor, "token.revoke", target=f"token:{row.id}")
        session.commit()
    return row


def principal_for_api_token(session: Session, token: str) -> Principal:
    """Who a presented API token acts for; `NotAuthenticated` unless it is live."""
    prefix = token_prefix(token)
    row = (
        None
        if prefix is None
        else session.scalar(select(ApiToken).where(ApiToken.prefix == prefix))
    )
    if row is None or not hmac.compare_digest(row.secret_hash, hash_token(token)):
        raise NotAuthenticated("invalid API token")
    now = utcnow()
    if row.revoked_at is not None:
        raise NotAuthenticated("API token revoked")
    if row.expires_at is not None and row.expires_at <= now:
        raise NotAuthenticated("API token expired")
    owner = session.get_one(User, row.owner_id)
    if owner.disabled:
        raise NotAuthenticated("the token's owner is disabled")
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
        row.last_used_at = now
        session.commit()
    token_grants = None if row.grants is None else grants_from_json(row.grants)
    return Principal(
        user_id=owner.id,
        username=owner.username,
        grants=effective_token_grants(grants_of(owner), token_grants),
        via_api_token=row.prefix,
    )

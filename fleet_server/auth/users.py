"""Accounts: creating users, their grants, passwords, disabling, and signing in."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fleet_server.auth.audit import SYSTEM, Actor, record_audit
from fleet_server.auth.context import AuthContext
from fleet_server.auth.passwords import PasswordHasher, generate_password
from fleet_server.auth.roles import Grant, Role, grants_to_json, sorted_grants
from fleet_server.auth.throttle import lockout_seconds
from fleet_server.db.base import utcnow
from fleet_server.db.models import RoleGrant, Site, User
from fleet_server.errors import (
    Conflict,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    TooManyRequests,
)
from fleet_server.settings import MIN_PASSWORD_CHARS

log = logging.getLogger(__name__)

ADMIN_USERNAME = "admin"
USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{1,63}$"
RESERVED_USERNAMES = frozenset({"me"})
MAX_PASSWORD_CHARS = 1024
_USERNAME = re.compile(USERNAME_PATTERN)
BAD_CREDENTIALS = "incorrect username or password"


def grants_of(user: User) -> frozenset[Grant]:
    """The user's grants as values."""
    return frozenset(Grant(Role(g.role), g.site_id) for g in user.grants)


def check_username(username: str) -> None:
    """`InvalidInput` naming `username` unless it is a valid, unreserved username."""
    if not _USERNAME.match(username):
        raise InvalidInput("username", "2-64 characters: lowercase letters, digits, '.', '_', '-'")
    if username in RESERVED_USERNAMES:
        raise InvalidInput("username", f"{username!r} is reserved")


def check_password(password: str, field: str = "password") -> None:
    """`InvalidInput` naming `field` unless the password has an acceptable length."""
    if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise InvalidInput(
            field, f"must be {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters long"
        )


def find_user(session: Session, username: str) -> User | None:
    """The user called `username`, if any."""
    return session.scalar(select(User).where(User.username == username))


def get_user(session: Session, username: str) -> User:
    """The user called `username`; `NotFound` otherwise."""
    user = find_user(session, username)
    if user is None:
        raise NotFound(f"no user {username!r}")
    return user


def list_users(session: Session) -> Sequence[User]:
    """Every user, by username."""
    return session.scalars(select(User).order_by(User.username)).all()


def _check_sites_exist(session: Session, grants: Sequence[Grant], field: str) -> None:
    for index, grant in enumerate(grants):
        if grant.site_id is not None and session.get(Site, grant.site_id) is None:
            raise InvalidInput(f"{field}[{index}].site_id", f"no site {grant.site_id!r}")


def _active_global_admins(session: Session) -> int:
    query = (
        select(func.count(func.distinct(User.id)))
        .join(RoleGrant)
        .where(User.disabled.is_(False), RoleGrant.role == Role.ADMIN, RoleGrant.site_id.is_(None))
    )
    return session.scalar(query) or 0


def _is_global_admin(grants: Iterable[Grant]) -> bool:
    return Grant(Role.ADMIN, None) in set(grants)


def create_user(
    session: Session,
    hasher: PasswordHasher,
    username: str,
    password: str,
    grants: Sequence[Grant],
    actor: Actor,
) -> User:
    """Add a user with `grants`, audit it and commit; `Conflict` if the name is taken."""
    check_username(username)
    check_password(password)
    _check_sites_exist(session, grants, "roles")
    if find_user(session, username) is not None:
        raise Conflict(f"user {username!r} exists already")
    user = User(username=username, password_hash=hasher.hash(password))
    user.grants = [RoleGrant(role=g.role, site_id=g.site_id) for g in sorted_grants(grants)]
    session.add(user)
    record_audit(
        session, actor, "user.create", target=username, detail={"grants": grants_to_json(grants)}
    )
    session.commit()
    return user


def replace_grants(session: Session, user: User, grants: Sequence[Grant], actor: Actor) -> User:
    """Give the user exactly `grants`; refuses to remove the last enabled all-sites admin."""
    _check_sites_exist(session, grants, "roles")
    before = grants_of(user)
    if (
        _is_global_admin(before)
        and not _is_global_admin(grants)
        and not user.disabled
        and _active_global_admins(session) <= 1
    ):
        raise Conflict("this would leave no enabled admin for all sites")
    user.grants = [RoleGrant(role=g.role, site_id=g.site_id) for g in sorted_grants(grants)]
    record_audit(
        session,
        actor,
        "user.grants",
        target=user.username,
        detail={"before": grants_to_json(before), "after": grants_to_json(grants)},
    )
    session.commit()
    return user


def set_disabled(session: Session, user: User, disabled: bool, actor: Actor) -> User:
    """Disable (ending every session and token) or re-enable a user."""
    if disabled and not user.disabled:
        if user.username == actor.name:
            raise Conflict("you cannot disable your own account")
        if _is_global_admin(grants_of(user)) and _active_global_admins(session) <= 1:
            raise Conflict("this would leave no enabled admin for all sites")
        user.auth_epoch += 1
    user.disabled = disabled
    if not disabled:
        user.failed_logins = 0
        user.locked_until = None
    record_audit(
        session, actor, "user.disable" if disabled else "user.enable", target=user.username
    )
    session.commit()
    return user


def set_password(
    session: Session, hasher: PasswordHasher, user: User, password: str, actor: Actor
) -> None:
    """Store a new password; every existing session of the user ends."""
    check_password(password, "new_password")
    user.password_hash = hasher.hash(password)
    user.password_changed_at = utcnow()
    user.auth_epoch += 1
    record_audit(session, actor, "user.password", target=user.username)
    session.commit()


def _refuse_if_locked(ctx: AuthContext, user: User | None, key: tuple[str, str]) -> None:
    wait = ctx.login_throttle.retry_after(key)
    if user is not None and user.locked_until is not None:
        wait = max(wait, (user.locked_until - utcnow()).total_seconds())
    if wait > 0:
        raise TooManyRequests("too many failed sign-ins; try again later", wait)


def _count_failure(
    session: Session, ctx: AuthContext, user: User | None, key: tuple[str, str], actor: Actor
) -> None:
    ctx.login_throttle.record_failure(key)
    if user is None:
        log.info("sign-in for unknown user from %s", key[1])
        return
    user.failed_logins += 1
    lock = lockout_seconds(
        user.failed_logins, ctx.account_max_failures, ctx.lockout_base_s, ctx.lockout_max_s
    )
    if lock > 0:
        user.locked_until = utcnow() + timedelta(seconds=lock)
    record_audit(
        session,
        actor,
        "auth.login_failed",
        target=user.username,
        detail={"client": key[1], "failed_logins": user.failed_logins},
    )
    session.commit()


def authenticate(
    session: Session,
    ctx: AuthContext,
    username: str,
    password: str,
    client: str,
    actor: Actor = SYSTEM,
) -> User:
    """The user whose password this is; throttled per (username, client) and per account.

    Raises `TooManyRequests` while locked out, `NotAuthenticated` for wrong credentials and
    `PermissionDenied` for a disabled account (told only to someone who knows the password).
    """
    username = username.strip().lower()
    key = (username, client)
    user = find_user(session, username)
    _refuse_if_locked(ctx, user, key)
    if user is None:
        ctx.hasher.verify_decoy(password)
        _count_failure(session, ctx, None, key, actor)
        raise NotAuthenticated(BAD_CREDENTIALS)
    matches, new_hash = ctx.hasher.verify(password, user.password_hash)
    if not matches:
        _count_failure(session, ctx, user, key, actor)
        raise NotAuthenticated(BAD_CREDENTIALS)
    if user.disabled:
        raise PermissionDenied("this account is disabled")
    ctx.login_throttle.record_success(key)
    user.failed_logins = 0
    user.locked_until = None
    if new_hash is not None:
        user.password_hash = new_hash
    return user


def ensure_admin(
    session: Session, password: str | None, hasher: PasswordHasher | None = None
) -> str | None:
    """Create `admin` (all sites) when there are no users yet; returns a generated password.

    With `password` None a random one is generated and returned, to be shown once; with a
    password given, or when users exist already, nothing is returned.
    """
    if session.scalar(select(func.count(User.id))):
        return None
    generated = generate_password() if password is None else None
    create_user(
        session,
        hasher or PasswordHasher(),
        ADMIN_USERNAME,
        password or generated or "",
        [Grant(Role.ADMIN)],
        SYSTEM,
    )
    log.info("created the first user %r", ADMIN_USERNAME)
    return generated

"""Users: admins manage accounts and their roles per site; everyone manages their password."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, status
from pydantic import BaseModel, Field

from fleet_server.auth import users as accounts
from fleet_server.auth.passwords import generate_password
from fleet_server.auth.roles import Grant, Role, sorted_grants
from fleet_server.auth.users import MAX_PASSWORD_CHARS, USERNAME_PATTERN
from fleet_server.db.models import User
from fleet_server.deps import (
    ActorDep,
    AuthDep,
    ClientAddress,
    CurrentUser,
    RequireAdmin,
    SessionDep,
)
from fleet_server.settings import MIN_PASSWORD_CHARS

router = APIRouter(prefix="/api/v1/users", tags=["users"])

Username = Annotated[str, Path(pattern=USERNAME_PATTERN)]
Password = Annotated[str, Field(min_length=MIN_PASSWORD_CHARS, max_length=MAX_PASSWORD_CHARS)]


class RoleGrantModel(BaseModel):
    """A role at one site, or at every site when `site_id` is null."""

    role: Role
    site_id: str | None = Field(default=None, min_length=1, max_length=64)

    def grant(self) -> Grant:
        """As a value the auth layer uses."""
        return Grant(self.role, self.site_id)

    @classmethod
    def of(cls, grant: Grant) -> RoleGrantModel:
        """From an auth-layer grant."""
        return cls(role=grant.role, site_id=grant.site_id)


class UserPublic(BaseModel):
    """A user as the API shows it (never with a password hash)."""

    username: str
    disabled: bool
    roles: list[RoleGrantModel]
    created_at: datetime
    locked_until: datetime | None


class UserCreate(BaseModel):
    """A new user; without a password one is generated and returned once."""

    username: str = Field(pattern=USERNAME_PATTERN)
    password: Password | None = None
    roles: list[RoleGrantModel] = Field(default_factory=list, max_length=100)


class UserCreated(UserPublic):
    """The created user, with the generated password when none was given (shown only now)."""

    generated_password: str | None = None


class RolesUpdate(BaseModel):
    """The complete set of roles the user should hold."""

    roles: list[RoleGrantModel] = Field(max_length=100)


class PasswordChange(BaseModel):
    """The current password, to prove it is you, and the new one."""

    current_password: str = Field(min_length=1, max_length=MAX_PASSWORD_CHARS)
    new_password: Password


def user_public(user: User) -> UserPublic:
    """The API view of a user row."""
    return UserPublic(
        username=user.username,
        disabled=user.disabled,
        roles=[RoleGrantModel.of(g) for g in sorted_grants(accounts.grants_of(user))],
        created_at=user.created_at,
        locked_until=user.locked_until,
    )


@router.get("/me", response_model=UserPublic)
def get_me(principal: CurrentUser, session: SessionDep) -> UserPublic:
    """The signed-in user."""
    return user_public(accounts.get_user(session, principal.username))


@router.put("/me/password", status_code=status.HTTP_204_NO_CONTENT)
def change_my_password(
    body: PasswordChange,
    principal: CurrentUser,
    session: SessionDep,
    auth: AuthDep,
    client: ClientAddress,
    actor: ActorDep,
) -> None:
    """Change your own password; your other sessions end. Throttled like signing in."""
    user = accounts.authenticate(
        session, auth, principal.username, body.current_password, client, actor
    )
    accounts.set_password(session, auth.hasher, user, body.new_password, actor)


@router.post("", response_model=UserCreated, status_code=status.HTTP_201_CREATED)
def create_user(
    body: UserCreate, _: RequireAdmin, session: SessionDep, auth: AuthDep, actor: ActorDep
) -> UserCreated:
    """Create a user with roles (admin for all sites only)."""
    generated = generate_password() if body.password is None else None
    user = accounts.create_user(
        session,
        auth.hasher,
        body.username,
        body.password or generated or "",
        [r.grant() for r in body.roles],
        actor,
    )
    return UserCreated(**user_public(user).model_dump(), generated_password=generated)


@router.get("", response_model=list[UserPublic])
def list_users(_: RequireAdmin, session: SessionDep) -> list[UserPublic]:
    """Every user, by username."""
    return [user_public(u) for u in accounts.list_users(session)]


@router.get("/{username}", response_model=UserPublic)
def get_user(username: Username, _: RequireAdmin, session: SessionDep) -> UserPublic:
    """One user."""
    return user_public(accounts.get_user(session, username))


@router.put("/{username}/roles", response_model=UserPublic)
def set_roles(
    username: Username, body: RolesUpdate, _: RequireAdmin, session: SessionDep, actor: ActorDep
) -> UserPublic:
    """Replace the user's roles; the last enabled admin for all sites cannot lose that role."""
    user = accounts.get_user(session, username)
    return user_public(
        accounts.replace_grants(session, user, [r.grant() for r in body.roles], actor)
    )


@router.post("/{username}/disable", response_model=UserPublic)
def disable_user(
    username: Username, _: RequireAdmin, session: SessionDep, actor: ActorDep
) -> UserPublic:
    """Disable the user: sign-in and every session and API token of theirs stop working."""
    user = accounts.get_user(session, username)
    return user_public(accounts.set_disabled(session, user, True, actor))


@router.post("/{username}/enable", response_model=UserPublic)
def enable_user(
    username: Username, _: RequireAdmin, session: SessionDep, actor: ActorDep
) -> UserPublic:
    """Re-enable a disabled user (their old sessions stay ended)."""
    user = accounts.get_user(session, username)
    return user_public(accounts.set_disabled(session, user, False, actor))

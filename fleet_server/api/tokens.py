"""API tokens for integrations: created (shown once), listed without secrets, revoked."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, status
from pydantic import BaseModel, Field

from fleet_server.api.users import RoleGrantModel
from fleet_server.auth import api_tokens
from fleet_server.auth.roles import Role, grants_from_json, sorted_grants
from fleet_server.auth.users import get_user
from fleet_server.db.base import utcnow
from fleet_server.db.models import ApiToken
from fleet_server.deps import ActorDep, CurrentUser, SessionDep
from fleet_server.errors import PermissionDenied

router = APIRouter(prefix="/api/v1/tokens", tags=["tokens"])


class TokenCreate(BaseModel):
    """A new API token; without `roles` it acts with all of its owner's roles."""

    name: str = Field(min_length=1, max_length=100)
    roles: list[RoleGrantModel] | None = Field(default=None, max_length=100)
    expires_in_days: int = Field(default=90, ge=1, le=3650)


class TokenPublic(BaseModel):
    """A token as listed: never its secret."""

    id: int
    name: str
    prefix: str
    owner: str
    roles: list[RoleGrantModel] | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class TokenCreated(TokenPublic):
    """The created token with its secret, which is shown only in this response."""

    token: str


def token_public(row: ApiToken) -> TokenPublic:
    """The API view of a token row."""
    roles = None
    if row.grants is not None:
        roles = [RoleGrantModel.of(g) for g in sorted_grants(grants_from_json(row.grants))]
    return TokenPublic(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        owner=row.owner.username,
        roles=roles,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


@router.post("", response_model=TokenCreated, status_code=status.HTTP_201_CREATED)
def create_token(
    body: TokenCreate, principal: CurrentUser, session: SessionDep, actor: ActorDep
) -> TokenCreated:
    """Create a token for yourself, limited to roles you hold; copy it now, it is not kept."""
    grants = None if body.roles is None else [r.grant() for r in body.roles]
    expires_at = utcnow() + timedelta(days=body.expires_in_days)
    row, token = api_tokens.create_api_token(
        session, principal, body.name, grants, expires_at, actor
    )
    return TokenCreated(**token_public(row).model_dump(), token=token)


@router.get("", response_model=list[TokenPublic])
def list_tokens(
    principal: CurrentUser,
    session: SessionDep,
    owner: Annotated[str | None, Query(max_length=64)] = None,
    all_owners: bool = False,
) -> list[TokenPublic]:
    """Your tokens; admins may list another `owner`'s or everyone's (`all_owners=true`)."""
    if (all_owners or (owner is not None and owner != principal.username)) and not principal.has(
        Role.ADMIN
    ):
        raise PermissionDenied("listing other users' tokens requires the admin role for all sites")
    owner_id: int | None = principal.user_id
    if all_owners:
        owner_id = None
    elif owner is not None:
        owner_id = get_user(session, owner).id
    return [token_public(t) for t in api_tokens.list_api_tokens(session, owner_id)]


TokenId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.delete("/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_token(
    token_id: TokenId, principal: CurrentUser, session: SessionDep, actor: ActorDep
) -> None:
    """Revoke one of your tokens (admins: anyone's); it stops working at once."""
    api_tokens.revoke_api_token(session, token_id, principal, actor)

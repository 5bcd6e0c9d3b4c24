"""Signing in: the OAuth2 password grant and refresh (RFC 6749 §4.3, §6)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from fleet_server.auth import sessions
from fleet_server.auth.jwt_tokens import TokenPair
from fleet_server.deps import AuthDep, ClientAddress, SessionDep
from fleet_server.errors import request_id_of

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class TokenResponse(BaseModel):
    """The token endpoint's answer (RFC 6749 §5.1)."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type name
    expires_in: int
    """Seconds until the access token expires."""
    refresh_token: str


def _answer(pair: TokenPair, response: Response) -> TokenResponse:
    # RFC 6749 §5.1: responses carrying tokens must not be cached.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return TokenResponse(
        access_token=pair.access_token,
        expires_in=pair.expires_in,
        refresh_token=pair.refresh_token,
    )


@router.post("/token", response_model=TokenResponse)
def sign_in(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    auth: AuthDep,
    client: ClientAddress,
    request: Request,
    response: Response,
) -> TokenResponse:
    """Exchange a username and password for an access token and a refresh token."""
    pair = sessions.sign_in(
        session, auth, form.username, form.password, client, request_id_of(request)
    )
    return _answer(pair, response)


@router.post("/refresh", response_model=TokenResponse)
def refresh(
    refresh_token: Annotated[str, Form(min_length=1, max_length=4096)],
    session: SessionDep,
    auth: AuthDep,
    client: ClientAddress,
    response: Response,
    grant_type: Annotated[Literal["refresh_token"] | None, Form()] = None,
) -> TokenResponse:
    """Exchange a refresh token for new tokens (form field `refresh_token`)."""
    return _answer(sessions.refresh(session, auth, refresh_token, client), response)

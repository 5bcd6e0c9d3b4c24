"""Access and refresh JWTs: what is accepted and everything that is refused."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest

from fleet_server.auth.jwt_tokens import InvalidToken, JwtIssuer
from fleet_server.db.base import utcnow

KEY = "k" * 48


@pytest.fixture
def issuer() -> JwtIssuer:
    return JwtIssuer(KEY, access_ttl_s=60, refresh_ttl_s=600)


def test_issued_tokens_verify_as_their_kind(issuer: JwtIssuer) -> None:
    pair = issuer.issue(user_id=7, auth_epoch=3)
    access = issuer.verify(pair.access_token, "access")
    assert (access.user_id, access.auth_epoch, access.kind) == (7, 3, "access")
    assert issuer.verify(pair.refresh_token, "refresh").kind == "refresh"
    assert pair.expires_in == 60
    with pytest.raises(InvalidToken, match="wrong token type: expected refresh"):
        issuer.verify(pair.access_token, "refresh")
    with pytest.raises(InvalidToken, match="wrong token type: expected access"):
        issuer.verify(pair.refresh_token, "access")


def test_each_token_is_unique(issuer: JwtIssuer) -> None:
    now = utcnow()
    assert issuer.issue(1, 0, now).access_token != issuer.issue(1, 0, now).access_token


def test_expiry_allows_only_a_little_clock_skew(issuer: JwtIssuer) -> None:
    recent = issuer.issue(1, 0, now=utcnow() - timedelta(seconds=62))
    assert issuer.verify(recent.access_token, "access").user_id == 1  # within 5 s leeway
    old = issuer.issue(1, 0, now=utcnow() - timedelta(seconds=70))
    with pytest.raises(InvalidToken, match="token expired"):
        issuer.verify(old.access_token, "access")
    assert issuer.verify(old.refresh_token, "refresh").user_id == 1


def _claims(issuer: JwtIssuer) -> dict[str, object]:
    token = issuer.issue(1, 0).access_token
    claims: dict[str, object] = jwt.decode(token, options={"verify_signature": False})
    return claims


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")  # forging HS512
@pytest.mark.parametrize(
    "forge",
    [
        lambda c: jwt.encode(c, "another-key" * 4, algorithm="HS256"),
        lambda c: jwt.encode(c, None, algorithm="none"),
        lambda c: jwt.encode({**c, "iss": "someone-else"}, KEY, algorithm="HS256"),
        lambda c: jwt.encode({k: v for k, v in c.items() if k != "epoch"}, KEY, algorithm="HS256"),
        lambda c: jwt.encode({k: v for k, v in c.items() if k != "exp"}, KEY, algorithm="HS256"),
        lambda c: jwt.encode({**c, "sub": "not-a-number"}, KEY, algorithm="HS256"),
        lambda c: jwt.encode(c, KEY, algorithm="HS512"),
        lambda c: "not.a.jwt",
    ],
    ids=["wrong-key", "alg-none", "issuer", "no-epoch", "no-exp", "bad-sub", "hs512", "garbage"],
)
def test_forged_or_malformed_tokens_are_refused(issuer: JwtIssuer, forge: object) -> None:
    token = forge(_claims(issuer))  # type: ignore[operator]
    with pytest.raises(InvalidToken):
        issuer.verify(token, "access")

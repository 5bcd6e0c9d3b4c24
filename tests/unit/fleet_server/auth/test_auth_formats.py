"""API token format and hashing; problem field paths."""

from __future__ import annotations

import hashlib

import pytest

from fleet_server.auth.api_tokens import hash_token, mint_token, token_prefix
from fleet_server.auth.audit import decode_cursor, encode_cursor
from fleet_server.errors import InvalidInput, field_path


def test_minted_tokens_carry_their_prefix_and_enough_entropy() -> None:
    tokens = [mint_token() for _ in range(100)]
    assert len({t for t, _ in tokens}) == 100
    for token, prefix in tokens:
        assert token.startswith(f"fleet_{prefix}_")
        assert token_prefix(token) == prefix
        assert len(token) - len(f"fleet_{prefix}_") >= 43  # 32 random bytes, base64
        assert hash_token(token) == hashlib.sha256(token.encode()).hexdigest()


@pytest.mark.parametrize(
    "text", ["", "fleet_", "fleet_abc_def", "fleet_0123456789ab", "fleet_0123456789ab_", "eyJ.a.b"]
)
def test_things_that_are_not_tokens_have_no_prefix(text: str) -> None:
    assert token_prefix(text) is None


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        (("body", "roles", 0, "role"), ("body", "roles[0].role")),
        (("query", "limit"), ("query", "limit")),
        (("body",), ("body", "body")),
        (("body", 2), ("body", "[2]")),
        ((), ("body", "body")),
    ],
)
def test_field_paths_read_like_the_json(
    location: tuple[str | int, ...], expected: tuple[str, str]
) -> None:
    assert field_path(location) == expected


def test_cursors_round_trip_and_forgeries_are_named() -> None:
    assert decode_cursor(encode_cursor(12345)) == 12345
    for bad in ("", "!!!", encode_cursor(0), "eyJiZWZvcmUiOnRydWV9"):
        with pytest.raises(InvalidInput) as info:
            decode_cursor(bad)
        assert info.value.extra["errors"][0]["field"] == "cursor"

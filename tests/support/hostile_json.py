"""Hypothesis strategies for hostile JSON: what an attacker or a broken client sends.

Documents are random or shaped like the expected one (its field names, at the top level
and nested), with values of the wrong type, huge and non-finite numbers, numbers with
thousands of digits, deep nesting, NUL bytes, lone surrogates, odd unicode and long
strings; and bytes that are not JSON at all. Everything is produced as bytes, since some
of it (nesting thousands deep, 5,000-digit numbers) cannot be built as Python objects
and serialised.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

LONG_RUN = os.environ.get("FLEET_LONG_TESTS") == "1"
FULL_RUN_CASES = 100_000
"""Cases of each fuzz in the long run (tests marked `slow`)."""


@dataclass(frozen=True)
class Raw:
    """JSON text spliced in verbatim (deep nesting, numbers beyond Python's int parsing)."""

    text: str


_NASTY_TEXT = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",
    "\udfff\ud800",
    "\u202eevil\u200b",
    "\ufeff",
    "𝕌𝕍-ℂ ☢ 💥",
    "'; DROP TABLE users; --",
    "<script>alert(1)</script>",
    "../../etc/passwd",
    "%00%ff",
    "null",
    "NaN",
    "-1",
    "1e309",
    "2026-13-45T99:99:99Z",
    "\\u0000",
]
_NASTY_NUMBERS: list[Any] = [
    0,
    -1,
    2**31,
    2**53 + 1,
    2**63,
    -(2**63) - 1,
    2**64,
    10**30,
    1e308,
    -1e308,
    5e-324,
    float("nan"),
    float("inf"),
    float("-inf"),
    -0.0,
]

hostile_text = st.one_of(
    st.sampled_from(_NASTY_TEXT),
    st.text(st.characters(codec=None, exclude_categories=()), max_size=40),
    st.builds(
        lambda ch, n: ch * n, st.sampled_from(["x", "\x00", "ü", "💥"]), st.integers(200, 20_000)
    ),
)
"""Strings with NUL bytes, lone surrogates, control and bidi characters, or very long."""

_raw_fragments = st.one_of(
    st.integers(20, 4000).map(lambda depth: Raw("[" * depth + "]" * depth)),
    st.integers(20, 2000).map(lambda depth: Raw('{"a":' * depth + "1" + "}" * depth)),
    st.integers(4300, 6000).map(lambda digits: Raw("9" * digits)),
    st.sampled_from([Raw("1e99999"), Raw("-1e-99999"), Raw("NaN"), Raw("-Infinity")]),
)
hostile_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from(_NASTY_NUMBERS),
    st.floats(),
    hostile_text,
    _raw_fragments,
)


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(inner, max_size=5) | st.dictionaries(hostile_text, inner, max_size=5)


hostile_value = st.recursive(hostile_scalar, _containers, max_leaves=12)
"""Any JSON value, hostile at every level."""


def shaped_document(fields: Sequence[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects with some of the expected field names (and extra ones), hostile values."""
    names = sorted(set(fields))
    keys = st.sampled_from(names) | hostile_text if names else hostile_text
    nested = st.recursive(
        hostile_scalar,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
        max_leaves=8,
    )
    return st.dictionaries(keys, nested, max_size=8)


def encode(value: Any, *, ensure_ascii: bool = True) -> bytes:
    """`value` as JSON text, with `Raw` fragments spliced in as they are."""
    fragments: list[str] = []

    def placeholder(obj: Any) -> Any:
        if isinstance(obj, Raw):
            fragments.append(obj.text)
            return f"__raw_{len(fragments) - 1}__"
        raise TypeError(type(obj).__name__)

    text = json.dumps(value, default=placeholder, allow_nan=True, ensure_ascii=ensure_ascii)
    for i, fragment in enumerate(fragments):
        text = text.replace(f'"__raw_{i}__"', fragment, 1)
    return text.encode("utf-8", "surrogatepass")


not_json = st.one_of(
    st.binary(max_size=300),
    st.sampled_from(
        [
            b"",
            b"{",
            b'{"a": }',
            b"\xff\xfe{}",
            b'{"a": "\xed\xa0\x80"}',  # a surrogate encoded as UTF-8
            b"[" * 100_000,
            b'{"a": 1, "a": 2}',
            b"\x00" * 64,
        ]
    ),
)


def hostile_body(fields: Sequence[str] = ()) -> st.SearchStrategy[bytes]:
    """A request body or message payload: shaped, random, or not JSON at all."""
    ascii_flag = st.booleans()
    return st.one_of(
        st.builds(lambda doc, a: encode(doc, ensure_ascii=a), shaped_document(fields), ascii_flag),
        st.builds(lambda doc, a: encode(doc, ensure_ascii=a), hostile_value, ascii_flag),
        not_json,
    )


def field_names(schema: dict[str, Any], components: dict[str, Any], depth: int = 0) -> list[str]:
    """Property names of a JSON schema and the schemas it refers to, nested ones included."""
    if depth > 6:
        return []
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return field_names(components.get(ref.rsplit("/", 1)[-1], {}), components, depth + 1)
    names: list[str] = []
    for key in ("oneOf", "anyOf", "allOf"):
        for sub in schema.get(key, []):
            names += field_names(sub, components, depth + 1)
    for name, sub in schema.get("properties", {}).items():
        names.append(name)
        names += field_names(sub, components, depth + 1)
    if isinstance(schema.get("items"), dict):
        names += field_names(schema["items"], components, depth + 1)
    return sorted(set(names))

"""Property tests: random valid models encode to schema-valid JSON and round-trip.

The strategies are derived from the models' own annotations and constraints, so a
model that accepts something its schema forbids (a missing bound, a wrong type, an
extra enum value) produces a failing example here.
"""

from __future__ import annotations

import json
import types
import typing
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache
from typing import Any

import annotated_types
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import AwareDatetime, BaseModel, JsonValue
from pydantic.fields import FieldInfo
from vda5050_samples import MESSAGE_KINDS, schema_errors

from missions.vda5050 import (
    ActionStatus,
    AgvAction,
    Envelope3d,
    TopicKind,
    Vda5050Model,
    decode,
    encode,
)

_JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
JSON_VALUES = st.recursive(
    _JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
# Millisecond precision: the wire format carries no more (§6.4).
TIMESTAMPS = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
).map(lambda t: t.replace(microsecond=t.microsecond // 1000 * 1000))


class _Rules:
    """Where the generated values must stay inside the official schema's known gaps."""

    def __init__(self, *, schema_safe: bool) -> None:
        self.schema_safe = schema_safe

    def enum_values(self, enum: type[StrEnum]) -> list[StrEnum]:
        values = list(enum)
        if self.schema_safe and enum is ActionStatus:
            values.remove(ActionStatus.PAUSED)  # not in state.schema's enum
        return values

    def field_override(self, model: type[BaseModel], name: str) -> st.SearchStrategy[Any] | None:
        if not self.schema_safe:
            return None
        if model is AgvAction and name == "blocking_types":
            return st.nothing()  # the schema accepts no array here
        if model is Envelope3d and name == "description":
            return st.integers()  # the schema says integer, the spec string
        return None


def _bounds(metadata: list[Any]) -> dict[str, Any]:
    bounds: dict[str, Any] = {}
    for item in metadata:
        if isinstance(item, FieldInfo):
            bounds |= _bounds(item.metadata)
        elif isinstance(item, annotated_types.Ge):
            bounds["min_value"] = item.ge
        elif isinstance(item, annotated_types.Le):
            bounds["max_value"] = item.le
    return bounds


def _strategy(annotation: Any, metadata: list[Any], rules: _Rules) -> st.SearchStrategy[Any]:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _strategy(args[0], [*metadata, *args[1:]], rules)
    if origin in (typing.Union, types.UnionType):
        members = [arg for arg in args if arg is not type(None)]
        return st.one_of([_strategy(arg, metadata, rules) for arg in members])
    if origin is list:
        return st.lists(_strategy(args[0], metadata, rules), max_size=3)
    if origin is dict:
        return st.dictionaries(st.text(max_size=5), JSON_VALUES, max_size=3)
    if annotation is JsonValue:
        return JSON_VALUES
    if annotation is AwareDatetime:
        return TIMESTAMPS
    if isinstance(annotation, type) and issubclass(annotation, StrEnum):
        return st.sampled_from(rules.enum_values(annotation))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _model_strategy(annotation, rules.schema_safe)
    if annotation is bool:
        return st.booleans()
    if annotation is int:
        return st.integers(**_bounds(metadata))
    if annotation is float:
        return st.floats(allow_nan=False, allow_infinity=False, **_bounds(metadata))
    if annotation is str:
        return st.text(max_size=10)
    raise TypeError(f"no strategy for {annotation!r}")


@cache
def _model_strategy(model: type[BaseModel], schema_safe: bool) -> st.SearchStrategy[Any]:
    rules = _Rules(schema_safe=schema_safe)
    required: dict[str, st.SearchStrategy[Any]] = {}
    optional: dict[str, st.SearchStrategy[Any]] = {}
    for name, info in model.model_fields.items():
        strategy = rules.field_override(model, name)
        if strategy is None:
            strategy = _strategy(info.annotation, list(info.metadata), rules)
        (required if info.is_required() else optional)[name] = strategy
    return st.fixed_dictionaries(required, optional=optional).map(lambda fields: model(**fields))


def messages(kind: TopicKind, *, schema_safe: bool) -> st.SearchStrategy[Vda5050Model]:
    """Random valid messages of ``kind``; ``schema_safe`` avoids the schemas' known gaps."""
    model = next(m for m, k in MESSAGE_KINDS.items() if k is kind)
    return _model_strategy(model, schema_safe)


@pytest.mark.parametrize("kind", list(TopicKind))
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_random_message_encodes_to_schema_valid_json(kind: TopicKind, data: st.DataObject) -> None:
    message = data.draw(messages(kind, schema_safe=True))
    assert schema_errors(kind, json.loads(encode(message))) == []


@pytest.mark.parametrize("kind", list(TopicKind))
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_random_message_round_trips(kind: TopicKind, data: st.DataObject) -> None:
    message = data.draw(messages(kind, schema_safe=False))
    payload = encode(message)
    decoded = decode(kind, payload)
    assert decoded == message
    assert encode(decoded) == payload

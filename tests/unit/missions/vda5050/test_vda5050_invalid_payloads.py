"""Bad payloads raise ValidationError whose location names the offending field."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError
from vda5050_samples import FULL_SAMPLES, schema_errors

from missions.vda5050 import TopicKind, decode, encode


def _drop(*path: str | int) -> Callable[[Any], None]:
    def edit(document: Any) -> None:
        for key in path[:-1]:
            document = document[key]
        del document[path[-1]]

    return edit


def _set(value: Any, *path: str | int) -> Callable[[Any], None]:
    def edit(document: Any) -> None:
        for key in path[:-1]:
            document = document[key]
        document[path[-1]] = value

    return edit


CASES: list[tuple[str, TopicKind, Callable[[Any], None], tuple[str | int, ...]]] = [
    ("missing headerId", TopicKind.STATE, _drop("headerId"), ("headerId",)),
    ("missing nodes", TopicKind.ORDER, _drop("nodes"), ("nodes",)),
    (
        "missing node actions",
        TopicKind.ORDER,
        _drop("nodes", 0, "actions"),
        ("nodes", 0, "actions"),
    ),
    (
        "missing trajectory degree",
        TopicKind.ORDER,
        _drop("edges", 0, "trajectory", "degree"),
        ("edges", 0, "trajectory", "degree"),
    ),
    ("missing safetyState", TopicKind.STATE, _drop("safetyState"), ("safetyState",)),
    (
        "missing connectionState",
        TopicKind.CONNECTION,
        _drop("connectionState"),
        ("connectionState",),
    ),
    (
        "missing typeSpecification",
        TopicKind.FACTSHEET,
        _drop("typeSpecification"),
        ("typeSpecification",),
    ),
    (
        "missing blockingType",
        TopicKind.INSTANT_ACTIONS,
        _drop("actions", 0, "blockingType"),
        ("actions", 0, "blockingType"),
    ),
    (
        "missing action parameter value",
        TopicKind.INSTANT_ACTIONS,
        _drop("actions", 1, "actionParameters", 0, "value"),
        ("actions", 1, "actionParameters", 0, "value"),
    ),
    (
        "wrong blockingType",
        TopicKind.ORDER,
        _set("SOMETIMES", "nodes", 1, "actions", 0, "blockingType"),
        ("nodes", 1, "actions", 0, "blockingType"),
    ),
    (
        "lowercase operatingMode",
        TopicKind.STATE,
        _set("automatic", "operatingMode"),
        ("operatingMode",),
    ),
    ("wrong eStop", TopicKind.STATE, _set("YES", "safetyState", "eStop"), ("safetyState", "eStop")),
    (
        "wrong actionStatus",
        TopicKind.STATE,
        _set("DONE", "actionStates", 0, "actionStatus"),
        ("actionStates", 0, "actionStatus"),
    ),
    (
        "wrong connectionState",
        TopicKind.CONNECTION,
        _set("ON", "connectionState"),
        ("connectionState",),
    ),
    (
        "wrong agvKinematic",
        TopicKind.FACTSHEET,
        _set("TANK", "typeSpecification", "agvKinematic"),
        ("typeSpecification", "agvKinematic"),
    ),
    (
        "batteryHealth above 100",
        TopicKind.STATE,
        _set(101, "batteryState", "batteryHealth"),
        ("batteryState", "batteryHealth"),
    ),
    (
        "batteryHealth below 0",
        TopicKind.STATE,
        _set(-1, "batteryState", "batteryHealth"),
        ("batteryState", "batteryHealth"),
    ),
    (
        "negative reach",
        TopicKind.STATE,
        _set(-5, "batteryState", "reach"),
        ("batteryState", "reach"),
    ),
    (
        "localizationScore above 1",
        TopicKind.STATE,
        _set(1.5, "agvPosition", "localizationScore"),
        ("agvPosition", "localizationScore"),
    ),
    (
        "theta above pi",
        TopicKind.ORDER,
        _set(3.2, "nodes", 0, "nodePosition", "theta"),
        ("nodes", 0, "nodePosition", "theta"),
    ),
    (
        "knot above 1",
        TopicKind.ORDER,
        _set([0, 1.5], "edges", 0, "trajectory", "knotVector"),
        ("edges", 0, "trajectory", "knotVector", 1),
    ),
    (
        "degree 0",
        TopicKind.ORDER,
        _set(0, "edges", 0, "trajectory", "degree"),
        ("edges", 0, "trajectory", "degree"),
    ),
    (
        "negative corridor width",
        TopicKind.ORDER,
        _set(-0.1, "edges", 0, "corridor", "leftWidth"),
        ("edges", 0, "corridor", "leftWidth"),
    ),
    ("negative orderUpdateId", TopicKind.ORDER, _set(-1, "orderUpdateId"), ("orderUpdateId",)),
    (
        "negative load weight",
        TopicKind.STATE,
        _set(-2, "loads", 0, "weight"),
        ("loads", 0, "weight"),
    ),
    (
        "batteryCharge as string",
        TopicKind.STATE,
        _set("80", "batteryState", "batteryCharge"),
        ("batteryState", "batteryCharge"),
    ),
    ("driving as string", TopicKind.STATE, _set("true", "driving"), ("driving",)),
    ("driving as number", TopicKind.STATE, _set(1, "driving"), ("driving",)),
    ("headerId as string", TopicKind.ORDER, _set("17", "headerId"), ("headerId",)),
    ("headerId as float", TopicKind.ORDER, _set(17.5, "headerId"), ("headerId",)),
    ("orderId as number", TopicKind.ORDER, _set(42, "orderId"), ("orderId",)),
    ("timestamp as number", TopicKind.STATE, _set(1700000000, "timestamp"), ("timestamp",)),
    ("timestamp not a date", TopicKind.STATE, _set("yesterday", "timestamp"), ("timestamp",)),
    ("nodes not an array", TopicKind.ORDER, _set({"nodeId": "a"}, "nodes"), ("nodes",)),
    (
        "action parameter value null",
        TopicKind.INSTANT_ACTIONS,
        _set(None, "actions", 1, "actionParameters", 0, "value"),
        ("actions", 1, "actionParameters", 0, "value"),
    ),
    ("velocity as list", TopicKind.VISUALIZATION, _set([1, 2], "velocity"), ("velocity",)),
    (
        "maxArrayLens value as string",
        TopicKind.FACTSHEET,
        _set("200", "protocolLimits", "maxArrayLens", "order.nodes"),
        ("protocolLimits", "maxArrayLens", "order.nodes"),
    ),
]


@pytest.mark.parametrize(
    ("kind", "edit", "location"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_invalid_payload_is_rejected_naming_the_field(
    kind: TopicKind, edit: Callable[[Any], None], location: tuple[str | int, ...]
) -> None:
    document = json.loads(encode(FULL_SAMPLES[kind]()))
    edit(document)
    with pytest.raises(ValidationError) as caught:
        decode(kind, json.dumps(document).encode())
    locations = [error["loc"] for error in caught.value.errors()]
    # A union (e.g. the action parameter value) reports one error per member, each
    # below the field's location; every error must point into the field.
    assert all(loc[: len(location)] == location for loc in locations), locations


@pytest.mark.parametrize(("kind", "edit"), [c[1:3] for c in CASES], ids=[c[0] for c in CASES])
def test_the_official_schema_agrees_the_payload_is_invalid(
    kind: TopicKind, edit: Callable[[Any], None]
) -> None:
    # Guards the table itself: each case must be invalid by the schema too, not just by us.
    document = json.loads(encode(FULL_SAMPLES[kind]()))
    edit(document)
    assert schema_errors(kind, document)


def test_nan_and_infinity_are_rejected() -> None:
    # §6.1.4: IEEE 754 special values are not supported.
    payload = encode(FULL_SAMPLES[TopicKind.VISUALIZATION]()).replace(b'"vx":0.2', b'"vx":NaN')
    with pytest.raises(ValidationError) as caught:
        decode(TopicKind.VISUALIZATION, payload)
    assert caught.value.errors()[0]["loc"] == ("velocity", "vx")

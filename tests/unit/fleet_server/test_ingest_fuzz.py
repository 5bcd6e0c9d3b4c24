"""Ingest under attack: 100,000 random and mutated payloads (10,000 by default), and bounded
bookkeeping.

A seeded mutator derives payloads from valid samples of each message (byte flips,
truncation, splices, type swaps, huge numbers, NaN/Infinity, deep nesting, wrong enums,
odd unicode, missing fields, header identity mismatches, wrong topics) and feeds them to
the state, visualization, connection and factsheet handlers directly. Every single call
must be counted exactly once (accepted, rejected or ignored), nothing may raise, and a
valid message afterwards is still ingested. Set FLEET_FUZZ_SEED to replay a run.
"""

from __future__ import annotations

import json
import logging
import os
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleet_server.fleet.ingest import MAX_PAYLOAD_BYTES, OTHER_ROBOTS, Ingest, RejectReason
from fleet_server.fleet.live_state import LiveFleet
from missions.vda5050 import TopicKind, encode
from tests.unit.missions.vda5050.vda5050_samples import (
    MANUFACTURER,
    SERIAL,
    full_connection,
    full_factsheet,
    full_state,
    full_visualization,
    minimal_connection,
    minimal_factsheet,
    minimal_state,
)

FUZZ_CASES = 100_000
"""Cases of the long run (FLEET_LONG_TESTS=1); the default run takes a tenth."""
SEED = int(os.environ.get("FLEET_FUZZ_SEED", "5050"))
KINDS = (TopicKind.STATE, TopicKind.VISUALIZATION, TopicKind.CONNECTION, TopicKind.FACTSHEET)

JsonPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Case:
    """One fuzzed message and what must become of it, when the mutator knows for sure."""

    kind: TopicKind
    topic: str
    payload: bytes
    how: str
    expect: str | None = None
    """"accepted", a RejectReason, or None when only the accounting can be checked."""


def _topic(kind: TopicKind, manufacturer: str = MANUFACTURER, serial: str = SERIAL) -> str:
    return f"uagv/v2/{manufacturer}/{serial}/{kind}"


def _paths(node: Any, prefix: JsonPath = ()) -> Iterator[JsonPath]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*prefix, key)
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield (*prefix, i)
            yield from _paths(value, (*prefix, i))


def _parent(doc: Any, path: JsonPath) -> Any:
    for part in path[:-1]:
        doc = doc[part]
    return doc


_WEIRD_STRINGS = [
    "",
    "automatic",
    "RUNNINGX",
    "NaN",
    "2026-13-45T99:99:99Z",
    "2026-11-28T10:00:00",  # no zone
    "𝕌𝕍-ℂ ☢ 💥" * 20,
    "\u202eevil\u200b",
    "\x00\x01\x1f",
    "x" * 20_000,
    "\\ud800",
    "null",
]
_WEIRD_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    2**32,
    2**64,
    -(2**63) - 1,
    10**400,
    1e308,
    -1e308,
    5e-324,
    float("nan"),
    float("inf"),
    float("-inf"),
    [],
    {},
    [[[[]]]],
    {"nested": {"deeper": [1, "two", None]}},
    3.5,
    *_WEIRD_STRINGS,
]
_DEEP = "__fuzz_deep__"


class PayloadFuzzer:
    """Seeded generator of hostile payloads for the robot topics."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        samples = {
            TopicKind.STATE: [full_state(), minimal_state()],
            TopicKind.VISUALIZATION: [full_visualization()],
            TopicKind.CONNECTION: [full_connection(), minimal_connection()],
            TopicKind.FACTSHEET: [full_factsheet(), minimal_factsheet()],
        }
        self.valid: dict[TopicKind, list[bytes]] = {
            kind: [encode(m) for m in models] for kind, models in samples.items()
        }
        self.paths: dict[bytes, list[JsonPath]] = {
            payload: list(_paths(json.loads(payload)))
            for payloads in self.valid.values()
            for payload in payloads
        }
        self._strategies: list[tuple[int, Callable[[TopicKind, bytes], Case]]] = [
            (8, self._unchanged),
            (4, self._vendor_field),
            (18, self._byte_damage),
            (40, self._structure_damage),
            (5, self._identity_mismatch),
            (3, self._version),
            (5, self._other_kind),
            (4, self._bad_topic),
            (3, self._deep_nesting),
            (3, self._random_robot),
            (2, self._junk),
        ]
        self._weights = [w for w, _ in self._strategies]

    def cases(self, count: int) -> Iterator[Case]:
        """`count` cases over all four topics."""
        rng = self.rng
        for _ in range(count):
            kind = rng.choice(KINDS)
            base = rng.choice(self.valid[kind])
            (strategy,) = rng.choices([s for _, s in self._strategies], self._weights)
            yield strategy(kind, base)

    # strategies --------------------------------------------------------------------------

    def _unchanged(self, kind: TopicKind, base: bytes) -> Case:
        return Case(kind, _topic(kind), base, "unchanged", "accepted")

    def _vendor_field(self, kind: TopicKind, base: bytes) -> Case:
        doc = json.loads(base)
        doc[f"vendor{self.rng.randrange(1000)}"] = self.rng.choice(_WEIRD_VALUES[15:19])
        return Case(kind, _topic(kind), json.dumps(doc).encode(), "vendor field", "accepted")

    def _byte_damage(self, kind: TopicKind, base: bytes) -> Case:
        rng = self.rng
        data = bytearray(base)
        op = rng.randrange(6)
        if op == 0:
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        elif op == 1:
            del data[rng.randrange(len(data)) :]
        elif op == 2:
            at = rng.randrange(len(data))
            data[at:at] = rng.randbytes(rng.randint(1, 32))
        elif op == 3:
            at = rng.randrange(len(data))
            data[at:at] = b"\xff\xfe\xc0\x80\xed\xa0\x80"  # invalid UTF-8
        elif op == 4:
            other = rng.choice(self.valid[rng.choice(KINDS)])
            data = data[: rng.randrange(len(data))] + other[rng.randrange(len(other)) :]
        else:
            data = data.replace(b'"', b"", rng.randint(1, 5))
        return Case(kind, _topic(kind), bytes(data), f"bytes op {op}")

    def _structure_damage(self, kind: TopicKind, base: bytes) -> Case:
        rng = self.rng
        doc = json.loads(base)
        paths = self.paths[base]
        if not paths:
            return Case(kind, _topic(kind), b"[]" if rng.random() < 0.5 else b"null", "not object")
        for _ in range(rng.randint(1, 3)):
            path = rng.choice(paths)
            try:
                parent = _parent(doc, path)
                key = path[-1]
                parent[key]
            except (KeyError, IndexError, TypeError):
                continue  # an earlier op removed or replaced this path
            if not isinstance(parent, dict | list):
                continue
            op = rng.randrange(4)
            if op == 0:
                del parent[key]  # a missing field
            elif op == 1:
                parent[key] = rng.choice(_WEIRD_VALUES)  # type swap, huge, NaN, unicode
            elif op == 2 and isinstance(parent[key], str):
                parent[key] = rng.choice(_WEIRD_STRINGS)  # wrong enum, odd unicode
            elif (
                op == 3
                and isinstance(parent[key], int | float)
                and not isinstance(parent[key], bool)
            ):
                parent[key] = rng.choice([-parent[key], 1e300, 10**30, 2**32, -1])
            else:
                parent[key] = str(parent[key])
        return Case(kind, _topic(kind), json.dumps(doc).encode(), "structure")

    def _identity_mismatch(self, kind: TopicKind, base: bytes) -> Case:
        doc = json.loads(base)
        field = self.rng.choice(["manufacturer", "serialNumber"])
        doc[field] = self.rng.choice(["Other", "UVC-0043", "uvc-0042", "Brightway "])
        return Case(
            kind, _topic(kind), json.dumps(doc).encode(), "identity", RejectReason.IDENTITY_MISMATCH
        )

    def _version(self, kind: TopicKind, base: bytes) -> Case:
        doc = json.loads(base)
        doc["version"] = self.rng.choice(["1.1.0", "3.0.0", "20.1.0", "v2", ""])
        return Case(kind, _topic(kind), json.dumps(doc).encode(), "version", RejectReason.VERSION)

    def _other_kind(self, kind: TopicKind, base: bytes) -> Case:
        # A well-formed message of another kind on this topic (visualization accepts
        # almost anything with a matching header, so there only the accounting counts).
        other = self.rng.choice([k for k in KINDS if k != kind])
        return Case(kind, _topic(kind), self.rng.choice(self.valid[other]), f"{other} payload")

    def _bad_topic(self, kind: TopicKind, base: bytes) -> Case:
        topic = self.rng.choice(
            [
                f"uagv/v2/{MANUFACTURER}/{kind}",
                f"uagv/v1/{MANUFACTURER}/{SERIAL}/{kind}",
                f"uagv/v2/{MANUFACTURER}/UVC 0042/{kind}",
                f"uagv/v2/{MANUFACTURER}/UVC-ü/{kind}",
                f"uagv/v2//{SERIAL}/{kind}",
                f"uagv/v2/{MANUFACTURER}/{SERIAL}/{kind}/extra",
                f"uagv/v2/{MANUFACTURER}/{SERIAL}/orders",
            ]
        )
        return Case(kind, topic, base, "bad topic", RejectReason.BAD_TOPIC)

    def _deep_nesting(self, kind: TopicKind, base: bytes) -> Case:
        doc = json.loads(base)
        path = self.rng.choice(self.paths[base])
        try:
            _parent(doc, path)[path[-1]] = _DEEP
        except (KeyError, IndexError, TypeError):
            doc["deep"] = _DEEP
        depth = self.rng.choice([150, 300, 5000])
        text = json.dumps(doc).replace(f'"{_DEEP}"', "[" * depth + "]" * depth)
        return Case(kind, _topic(kind), text.encode(), f"nesting {depth}")

    def _random_robot(self, kind: TopicKind, base: bytes) -> Case:
        # What a client inventing serial numbers sends: header matching or not.
        serial = f"ghost-{self.rng.randrange(10**9)}"
        doc = json.loads(base)
        if self.rng.random() < 0.5:
            doc["serialNumber"] = serial
            expect = "accepted"
        else:
            expect = RejectReason.IDENTITY_MISMATCH
        return Case(kind, _topic(kind, serial=serial), json.dumps(doc).encode(), "ghost", expect)

    def _junk(self, kind: TopicKind, base: bytes) -> Case:
        rng = self.rng
        choice = rng.randrange(4)
        if choice == 0:
            return Case(kind, _topic(kind), b"", "empty")
        if choice == 1:
            return Case(kind, _topic(kind), rng.randbytes(rng.randint(1, 200)), "random bytes")
        if choice == 2:
            payload = base + b" " * (MAX_PAYLOAD_BYTES - len(base) + 1)
            return Case(kind, _topic(kind), payload, "oversized", RejectReason.OVERSIZED)
        return Case(kind, _topic(kind), b'{"a": NaN, "b": Infinity, "c": -Infinity}', "nan")


def _handlers(ingest: Ingest) -> dict[TopicKind, Callable[[str, bytes], None]]:
    return {
        TopicKind.STATE: ingest.on_state,
        TopicKind.VISUALIZATION: ingest.on_visualization,
        TopicKind.CONNECTION: ingest.on_connection,
        TopicKind.FACTSHEET: ingest.on_factsheet,
    }


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _reasons_of(ingest: Ingest) -> dict[str, int]:
    by_reason: dict[str, int] = {}
    for (_robot, reason), count in ingest.rejected.items():
        by_reason[reason] = by_reason.get(reason, 0) + count
    return by_reason


def _valid_state_with_charge(charge: float) -> bytes:
    state = full_state()
    return encode(
        state.model_copy(
            update={
                "battery_state": state.battery_state.model_copy(update={"battery_charge": charge})
            }
        )
    )


@pytest.mark.parametrize(
    "cases",
    [
        pytest.param(FUZZ_CASES // 10, id="10k"),
        pytest.param(FUZZ_CASES, id="100k", marks=pytest.mark.slow),
    ],
)
def test_fuzzed_payloads_are_all_counted_and_ingest_keeps_working(
    caplog: pytest.LogCaptureFixture, cases: int
) -> None:
    caplog.set_level(logging.WARNING, logger="fleet_server")
    clock = _Clock()
    # Scaled with the run, so ghost robots overflow the bound in the short run too.
    tracked = 200 * cases // FUZZ_CASES
    ingest = Ingest(
        LiveFleet(offline_after_s=15), "uagv", max_tracked_robots=tracked, monotonic=clock
    )
    handlers = _handlers(ingest)
    outcomes: dict[str, int] = {}
    handled = 0
    for i, case in enumerate(PayloadFuzzer(SEED).cases(cases)):
        clock.now = i * 100 / cases  # 100 s of simulated time: log slots expire and come back
        accepted_before = sum(ingest.accepted.values())
        rejected_before = ingest.rejected_by_reason[case.expect] if case.expect else 0
        try:
            handlers[case.kind](case.topic, case.payload)
        except Exception as exc:
            pytest.fail(f"seed {SEED} case {i} ({case.how}) on {case.topic} raised {exc!r}")
        now_handled = ingest.handled_total
        assert now_handled == handled + 1, f"seed {SEED} case {i} ({case.how}) not counted once"
        handled = now_handled
        if case.expect == "accepted":
            assert sum(ingest.accepted.values()) == accepted_before + 1, (SEED, i, case.how)
        elif case.expect is not None:
            assert ingest.rejected_by_reason[case.expect] == rejected_before + 1, (
                SEED,
                i,
                case.how,
            )
        outcomes[case.how] = outcomes.get(case.how, 0) + 1

    accepted = sum(ingest.accepted.values())
    ignored = sum(ingest.ignored.values())
    assert accepted + ingest.rejected_total + ignored == cases
    assert ignored == ingest.ignored["retained_cleared"]
    # The run is meaningful: every kind accepted something and every reason was hit.
    assert set(ingest.accepted) == set(KINDS)
    assert _reasons_of(ingest) == ingest.rejected_by_reason
    assert set(ingest.rejected_by_reason) == {
        RejectReason.INVALID,
        RejectReason.IDENTITY_MISMATCH,
        RejectReason.VERSION,
        RejectReason.BAD_TOPIC,
        RejectReason.OVERSIZED,
    }
    assert ingest.rejected_total > cases // 2
    # Ghost serial numbers could not grow the reject bookkeeping past its bound.
    labels = {robot for (robot, _reason) in ingest.rejected}
    assert OTHER_ROBOTS in labels and len(labels) <= tracked + 1
    assert ingest.log_slots_in_use <= tracked + 1
    dropped_logs = [r for r in caplog.records if "dropped message" in r.getMessage()]
    assert len(dropped_logs) < ingest.rejected_total // 50

    # ... and a valid message afterwards is still ingested.
    ingest.on_state(_topic(TopicKind.STATE), _valid_state_with_charge(42.5))
    robot = ingest.live.get(MANUFACTURER, SERIAL)
    assert robot is not None and robot.battery_charge == 42.5 and robot.online


def test_log_slots_are_once_per_robot_per_minute_and_bounded(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = _Clock()
    ingest = Ingest(LiveFleet(offline_after_s=15), "uagv", max_tracked_robots=10, monotonic=clock)
    for round_ in range(2):
        for i in range(50):
            ingest.on_state(f"uagv/v2/acme/ghost{i}/state", b"{")
            ingest.on_state(f"uagv/v2/acme/ghost{i}/state", b"{")
        warnings = [r for r in caplog.records if "dropped message" in r.getMessage()]
        # ten robots get a slot each, the other forty share one
        assert len(warnings) == 11 * (round_ + 1)
        assert ingest.log_slots_in_use == 11
        clock.now += 61
    assert ingest.rejected[("acme/ghost0", RejectReason.INVALID)] == 4
    assert ingest.rejected[(OTHER_ROBOTS, RejectReason.INVALID)] == 2 * 2 * 40
    assert ingest.rejected_total == 200


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
_header_fields = st.fixed_dictionaries(
    {},
    optional={
        "headerId": _json,
        "timestamp": _json,
        "version": st.sampled_from(["2.1.0", "2.0.0", "1.1.0"]) | _json,
        "manufacturer": st.just(MANUFACTURER) | _json,
        "serialNumber": st.just(SERIAL) | _json,
        "connectionState": st.sampled_from(["ONLINE", "OFFLINE", "online"]) | _json,
        "agvPosition": _json,
    },
)


@settings(max_examples=400, deadline=None)
@given(kind=st.sampled_from(KINDS), body=_header_fields | _json)
def test_any_json_document_is_counted_once(kind: TopicKind, body: Any) -> None:
    ingest = Ingest(LiveFleet(offline_after_s=15), "uagv")
    _handlers(ingest)[kind](_topic(kind), json.dumps(body).encode())
    assert ingest.handled_total == 1

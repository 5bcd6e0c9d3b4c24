"""Hypothesis fuzz of robot payloads: hostile JSON shaped like each VDA 5050 message.

Complements the seeded mutator in test_ingest_fuzz.py with hypothesis' own generation
(tests/support/hostile_json.py): documents with the message's field names at any depth
holding wrong types, huge and non-finite numbers, 5,000-digit numbers, nesting thousands
deep, NUL bytes, lone surrogates and long strings, or bytes that are not JSON, on the
robot's topics and on hostile ones. Every payload is counted exactly once and nothing
raises; a valid state afterwards is still ingested. 100,000 payloads in the long run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from fleet_server.fleet.ingest import Ingest
from fleet_server.fleet.live_state import LiveFleet
from missions.vda5050 import TopicKind, encode
from tests.support.hostile_json import (
    FULL_RUN_CASES,
    LONG_RUN,
    hostile_body,
    hostile_text,
)
from tests.unit.missions.vda5050.vda5050_samples import (
    MANUFACTURER,
    SERIAL,
    full_connection,
    full_factsheet,
    full_state,
    full_visualization,
)

BATCH = 10
DEFAULT_BATCHES = 80


def _keys(node: Any) -> set[str]:
    if isinstance(node, dict):
        return set(node).union(*(_keys(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_keys(v) for v in node))
    return set()


FIELDS = {
    kind: sorted(_keys(json.loads(encode(sample))))
    for kind, sample in (
        (TopicKind.STATE, full_state()),
        (TopicKind.VISUALIZATION, full_visualization()),
        (TopicKind.CONNECTION, full_connection()),
        (TopicKind.FACTSHEET, full_factsheet()),
    )
}


def _topic(kind: TopicKind) -> st.SearchStrategy[str]:
    ours = f"uagv/v2/{MANUFACTURER}/{SERIAL}/{kind}"
    level = hostile_text.filter(lambda t: "/" not in t)
    theirs = st.builds(lambda m, s: f"uagv/v2/{m}/{s}/{kind}", level, level)
    return st.sampled_from([ours] * 4) | theirs | hostile_text


def _message(kind: TopicKind) -> st.SearchStrategy[tuple[TopicKind, str, bytes]]:
    return st.tuples(st.just(kind), _topic(kind), hostile_body(FIELDS[kind]))


# Built once: strategies made inside a draw (flatmap) are re-validated every time.
messages = st.lists(st.one_of(*(_message(kind) for kind in FIELDS)), min_size=BATCH, max_size=BATCH)


def _handlers(ingest: Ingest) -> dict[TopicKind, Callable[[str, bytes], None]]:
    return {
        TopicKind.STATE: ingest.on_state,
        TopicKind.VISUALIZATION: ingest.on_visualization,
        TopicKind.CONNECTION: ingest.on_connection,
        TopicKind.FACTSHEET: ingest.on_factsheet,
    }


def _fuzz(batches: int) -> None:
    ingest = Ingest(LiveFleet(offline_after_s=15), "uagv", max_tracked_robots=100)
    handlers = _handlers(ingest)
    seen = 0

    @given(batch=messages)
    @settings(
        max_examples=batches,
        deadline=None,
        derandomize=not LONG_RUN,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    def each_counted_once(batch: list[tuple[TopicKind, str, bytes]]) -> None:
        nonlocal seen
        for kind, topic, payload in batch:
            handlers[kind](topic, payload)  # raising fails the test with the example
            seen += 1
            assert ingest.handled_total == seen, (kind, topic, payload[:200])

    each_counted_once()
    assert seen >= batches * BATCH
    assert ingest.rejected_total > 0
    state = full_state()
    charge = {"battery_state": state.battery_state.model_copy(update={"battery_charge": 33.0})}
    ingest.on_state(
        f"uagv/v2/{MANUFACTURER}/{SERIAL}/state", encode(state.model_copy(update=charge))
    )
    robot = ingest.live.get(MANUFACTURER, SERIAL)
    assert robot is not None and robot.battery_charge == 33.0


def test_hostile_payloads_are_each_counted_once() -> None:
    _fuzz(DEFAULT_BATCHES)


@pytest.mark.slow
def test_hostile_payloads_are_each_counted_once_long_run() -> None:
    _fuzz(FULL_RUN_CASES // BATCH)

"""The test robots' VDA 5050 messages are valid against the official 2.1 schemas."""

from __future__ import annotations

import json

import pytest

from missions.vda5050 import decode_connection, decode_state, decode_visualization
from tests.support import vda_messages as vda
from tests.support.vda_schemas import schema_errors

POSE = vda.agv_position(1.5, 2.0, theta=0.1, map_id="L2")

VALID = [
    ("state", vda.state("acme", "r1")),
    (
        "state",
        vda.state(
            "acme",
            "r1",
            header_id=7,
            timestamp="2026-11-28T10:00:00.000Z",
            position=POSE,
            battery_charge=42.5,
            order_id="o1",
            order_update_id=3,
            last_node_id="n2",
            last_node_sequence_id=2,
            action_states=[{"actionId": "a1", "actionStatus": "RUNNING"}],
            errors=[vda.error("batteryLow"), vda.error("noRouteError", "FATAL", orderId="o1")],
        ),
    ),
    ("connection", vda.connection("acme", "r1", "ONLINE")),
    ("connection", vda.connection("acme", "r1", "CONNECTIONBROKEN", header_id=3)),
    ("visualization", vda.visualization("acme", "r1", POSE)),
]


@pytest.mark.parametrize(("kind", "message"), VALID)
def test_builders_give_schema_valid_messages(kind: str, message: dict[str, object]) -> None:
    assert schema_errors(kind, message) == []
    assert json.loads(vda.payload(message)) == message


def test_the_project_decoders_read_back_what_was_built() -> None:
    state = decode_state(vda.payload(VALID[1][1]))
    assert (state.header_id, state.order_id, state.order_update_id) == (7, "o1", 3)
    assert state.agv_position is not None and state.agv_position.map_id == "L2"
    assert state.battery_state.battery_charge == 42.5
    assert [(e.error_type, e.error_level.value) for e in state.errors] == [
        ("batteryLow", "WARNING"),
        ("noRouteError", "FATAL"),
    ]
    assert state.errors[1].error_references is not None
    assert state.errors[1].error_references[0].reference_value == "o1"
    connection = decode_connection(vda.payload(VALID[3][1]))
    assert (connection.header_id, connection.connection_state.value) == (3, "CONNECTIONBROKEN")
    pose = decode_visualization(vda.payload(VALID[4][1])).agv_position
    assert pose is not None and (pose.x, pose.theta) == (1.5, 0.1)


def test_overrides_make_a_message_the_schema_refuses() -> None:
    bad = vda.state("acme", "r1", overrides={"operatingMode": "AUTO"})
    assert any(e.startswith("operatingMode") for e in schema_errors("state", bad))


def test_header_ids_count_per_topic() -> None:
    ids = vda.HeaderIds()
    taken = [ids.next_for(t) for t in ("state", "state", "connection", "state")]
    assert taken == [1, 2, 1, 3]

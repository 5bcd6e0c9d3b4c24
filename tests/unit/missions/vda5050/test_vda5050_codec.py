"""encode/decode, timestamps and header ids."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError
from vda5050_samples import NOW, all_samples, full_order, full_state, minimal_visualization

from missions.vda5050 import (
    MAJOR_VERSION,
    PROTOCOL_VERSION,
    Action,
    BlockingType,
    Connection,
    ConnectionState,
    HeaderCounter,
    State,
    TopicKind,
    Vda5050Model,
    decode,
    decode_connection,
    decode_order,
    decode_state,
    encode,
    message_type_for,
    utc_timestamp,
)
from missions.vda5050.protocol import UINT32_MAX


def test_protocol_constants() -> None:
    assert (PROTOCOL_VERSION, MAJOR_VERSION) == ("2.1.0", "v2")


@pytest.mark.parametrize(
    ("kind", "message"), [s[1:] for s in all_samples()], ids=[s[0] for s in all_samples()]
)
def test_decode_encode_round_trip(kind: TopicKind, message: Vda5050Model) -> None:
    payload = encode(message)
    decoded = decode(kind, payload)
    assert type(decoded) is message_type_for(kind) is type(message)
    assert decoded == message
    assert encode(decoded) == payload


def test_encode_uses_camel_case_and_omits_unset_fields() -> None:
    document = json.loads(encode(minimal_visualization()))
    assert document == {}
    order = json.loads(encode(full_order()))
    assert order["orderUpdateId"] == 2
    assert order["nodes"][0]["nodePosition"]["allowedDeviationXY"] == 0.1
    assert "nodeDescription" not in order["nodes"][1]
    assert order["edges"][0]["corridor"]["corridorRefPoint"] == "CONTOUR"


def test_action_parameter_values_keep_their_json_type() -> None:
    values = {
        p.key: p.value
        for p in decode_order(encode(full_order())).nodes[1].actions[0].action_parameters or []
    }
    assert values == {
        "doseMilliJoulePerCm2": 12.5,
        "lampCount": 4,
        "requireInterlock": True,
        "room": "W3-B2",
        "lamps": ["left", "right"],
        "profile": {"ramp": 2.0, "zones": [1, 2], "note": None},
    }
    assert type(values["lampCount"]) is int
    assert type(values["requireInterlock"]) is bool
    action = decode_order(encode(full_order())).nodes[1].actions[0]
    assert action.parameter("room") == "W3-B2"
    assert action.parameter("absent") is None


def test_unknown_fields_are_kept_through_decode_and_encode() -> None:
    document = json.loads(encode(full_state()))
    document["vendorTemperature"] = 41.5
    document["batteryState"]["cellCount"] = 14
    state = decode_state(json.dumps(document).encode())
    assert json.loads(encode(state)) == document


def test_timestamp_is_encoded_as_utc_with_milliseconds_and_z() -> None:
    cest = timezone(timedelta(hours=2))
    message = Connection(
        header_id=0,
        timestamp=datetime(2026, 7, 1, 14, 0, 0, 123456, tzinfo=cest),
        version=PROTOCOL_VERSION,
        manufacturer="m",
        serial_number="s",
        connection_state=ConnectionState.ONLINE,
    )
    assert json.loads(encode(message))["timestamp"] == "2026-07-01T12:00:00.123Z"


def test_timestamp_decodes_spec_example_and_offsets() -> None:
    base = json.loads(
        encode(
            Connection(
                header_id=0,
                timestamp=NOW,
                version="2.1.0",
                manufacturer="m",
                serial_number="s",
                connection_state=ConnectionState.ONLINE,
            )
        )
    )
    base["timestamp"] = "2017-04-15T11:40:03.12Z"
    assert decode_connection(json.dumps(base).encode()).timestamp == datetime(
        2017, 4, 15, 11, 40, 3, 120000, tzinfo=UTC
    )
    base["timestamp"] = "2017-04-15T13:40:03+02:00"
    assert decode_connection(json.dumps(base).encode()).timestamp == datetime(
        2017, 4, 15, 11, 40, 3, tzinfo=UTC
    )


def test_utc_timestamp_formats() -> None:
    assert (
        utc_timestamp(datetime(2017, 4, 15, 11, 40, 3, 129999, tzinfo=UTC))
        == "2017-04-15T11:40:03.129Z"
    )
    assert utc_timestamp(datetime(2017, 4, 15, 13, 40, 3, tzinfo=timezone(timedelta(hours=2)))) == (
        "2017-04-15T11:40:03.000Z"
    )
    before = datetime.now(UTC).replace(microsecond=0)
    now = datetime.fromisoformat(utc_timestamp().replace("Z", "+00:00"))
    assert before <= now <= datetime.now(UTC)
    with pytest.raises(ValueError, match="no time zone"):
        utc_timestamp(datetime(2017, 4, 15, 11, 40, 3))


def test_models_accept_python_names_and_wire_names() -> None:
    by_name = Action(action_type="startPause", action_id="p", blocking_type=BlockingType.HARD)
    by_alias = Action.model_validate(
        {"actionType": "startPause", "actionId": "p", "blockingType": "HARD"}
    )
    assert by_name == by_alias


def test_decode_of_malformed_json_raises_validation_error() -> None:
    with pytest.raises(ValidationError, match=r"json_invalid|Invalid JSON"):
        decode_state(b'{"headerId": 1,')


def test_header_counter_counts_per_topic_kind() -> None:
    counter = HeaderCounter()
    assert [counter.next(TopicKind.STATE) for _ in range(3)] == [0, 1, 2]
    assert counter.next(TopicKind.VISUALIZATION) == 0
    assert counter.peek(TopicKind.STATE) == 3
    assert counter.next(TopicKind.STATE) == 3
    assert HeaderCounter(start=10).next(TopicKind.ORDER) == 10


def test_header_counter_wraps_after_uint32_max() -> None:
    counter = HeaderCounter(start=UINT32_MAX)
    assert counter.next(TopicKind.STATE) == UINT32_MAX
    assert counter.next(TopicKind.STATE) == 0
    with pytest.raises(ValueError, match="start"):
        HeaderCounter(start=-1)


def test_header_counter_gives_unique_ids_across_threads() -> None:
    counter = HeaderCounter()
    seen: list[int] = []

    def take() -> None:
        seen.extend(counter.next(TopicKind.STATE) for _ in range(2000))

    threads = [threading.Thread(target=take) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(seen) == list(range(8000))


def test_message_type_for_every_kind() -> None:
    assert message_type_for(TopicKind.STATE) is State
    assert {message_type_for(kind).__name__ for kind in TopicKind} == {
        "Order",
        "InstantActions",
        "State",
        "Visualization",
        "Connection",
        "Factsheet",
    }

"""Realistic VDA 5050 2.1.0 sample messages and schema helpers for the vda5050 tests.

The ``full_*`` samples set (nearly) every optional field; the ``minimal_*`` ones only
what the schemas require.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import FormatChecker, validators
from jsonschema.protocols import Validator

from missions.vda5050 import (
    Action,
    ActionParameter,
    ActionScope,
    ActionState,
    ActionStatus,
    AgvAction,
    AgvActionParameter,
    AgvClass,
    AgvGeometry,
    AgvKinematic,
    AgvPosition,
    BatteryState,
    BlockingType,
    BoundingBoxReference,
    Connection,
    ConnectionState,
    ControlPoint,
    Corridor,
    CorridorRefPoint,
    Edge,
    EdgeState,
    Envelope2d,
    Envelope3d,
    Error,
    ErrorLevel,
    ErrorReference,
    EStop,
    Factsheet,
    InfoLevel,
    InfoReference,
    Information,
    InstantActions,
    Load,
    LoadDimensions,
    LoadSet,
    LoadSpecification,
    LocalizationType,
    Map,
    MapStatus,
    MaxArrayLens,
    MaxStringLens,
    NavigationType,
    Network,
    Node,
    NodePosition,
    NodeState,
    OperatingMode,
    OptionalParameter,
    Order,
    OrientationType,
    PhysicalParameters,
    PolygonPoint,
    ProtocolFeatures,
    ProtocolLimits,
    SafetyState,
    State,
    Support,
    Timing,
    TopicKind,
    Trajectory,
    TypeSpecification,
    ValueDataType,
    Vda5050Model,
    VehicleConfig,
    Velocity,
    VersionInfo,
    Visualization,
    WheelDefinition,
    WheelPosition,
    WheelType,
)

SCHEMA_DIR = Path(__file__).resolve().parents[3] / "fixtures" / "vda5050" / "2.1.0"
SCHEMA_FILES = {
    TopicKind.ORDER: "order.schema",
    TopicKind.INSTANT_ACTIONS: "instantActions.schema",
    TopicKind.STATE: "state.schema",
    TopicKind.VISUALIZATION: "visualization.schema",
    TopicKind.CONNECTION: "connection.schema",
    TopicKind.FACTSHEET: "factsheet.schema",
}
MESSAGE_KINDS = {
    Order: TopicKind.ORDER,
    InstantActions: TopicKind.INSTANT_ACTIONS,
    State: TopicKind.STATE,
    Visualization: TopicKind.VISUALIZATION,
    Connection: TopicKind.CONNECTION,
    Factsheet: TopicKind.FACTSHEET,
}

# RFC 3339 date-time, which JSON Schema's "date-time" format means. jsonschema only
# checks that format when an optional package is installed, so the tests bring their own.
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})",
)
FORMAT_CHECKER = FormatChecker(formats=())


@FORMAT_CHECKER.checks("date-time")
def _is_rfc3339(value: object) -> bool:
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        return False
    datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    return True


def load_schema(kind: TopicKind) -> dict[str, Any]:
    """The official schema of ``kind`` as a dict."""
    loaded: dict[str, Any] = json.loads((SCHEMA_DIR / SCHEMA_FILES[kind]).read_text("utf-8"))
    return loaded


@cache
def schema_validator(kind: TopicKind) -> Validator:
    """A validator of the draft the schema names in ``$schema``, checking date-time."""
    schema = load_schema(kind)
    cls = validators.validator_for(schema)
    cls.check_schema(schema)
    validator: Validator = cls(schema, format_checker=FORMAT_CHECKER)
    return validator


def schema_errors(kind: TopicKind, document: Any) -> list[str]:
    """Every schema violation of ``document`` as 'path: message' lines."""
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in schema_validator(kind).iter_errors(document)
    ]


NOW = datetime(2026, 3, 14, 9, 26, 53, 589000, tzinfo=UTC)
MANUFACTURER = "Brightway"
SERIAL = "UVC-0042"


def _header() -> dict[str, Any]:
    return {
        "header_id": 17,
        "timestamp": NOW,
        "version": "2.1.0",
        "manufacturer": MANUFACTURER,
        "serial_number": SERIAL,
    }


def _uv_action() -> Action:
    return Action(
        action_type="uvDisinfect",
        action_id="a6f0c3e2-uv-ward3-bed2",
        action_description="UV-C dose for bed 2 of ward 3",
        blocking_type=BlockingType.HARD,
        action_parameters=[
            ActionParameter(key="doseMilliJoulePerCm2", value=12.5),
            ActionParameter(key="lampCount", value=4),
            ActionParameter(key="requireInterlock", value=True),
            ActionParameter(key="room", value="W3-B2"),
            ActionParameter(key="lamps", value=["left", "right"]),
            ActionParameter(key="profile", value={"ramp": 2.0, "zones": [1, 2], "note": None}),
        ],
    )


def full_order() -> Order:
    position = NodePosition(
        x=12.5,
        y=-3.25,
        theta=1.5707963,
        allowed_deviation_xy=0.1,
        allowed_deviation_theta=0.2,
        map_id="hospital-L3",
        map_description="Ward 3, third floor",
    )
    return Order(
        **_header(),
        order_id="mission-3141-patrol",
        order_update_id=2,
        zone_set_id="hospital-zones-v7",
        nodes=[
            Node(
                node_id="w3-corridor-1",
                sequence_id=0,
                node_description="Corridor outside ward 3",
                released=True,
                node_position=position,
                actions=[],
            ),
            Node(
                node_id="w3-bed-2",
                sequence_id=2,
                released=False,
                node_position=NodePosition(x=15.0, y=-3.25, map_id="hospital-L3"),
                actions=[_uv_action()],
            ),
        ],
        edges=[
            Edge(
                edge_id="w3-corridor-1__w3-bed-2",
                sequence_id=1,
                edge_description="Into ward 3",
                released=False,
                start_node_id="w3-corridor-1",
                end_node_id="w3-bed-2",
                max_speed=0.6,
                max_height=1.9,
                min_height=0.0,
                orientation=0.0,
                orientation_type=OrientationType.TANGENTIAL,
                direction="straight",
                rotation_allowed=False,
                max_rotation_speed=0.5,
                length=2.5,
                trajectory=Trajectory(
                    degree=1,
                    knot_vector=[0.0, 0.0, 1.0, 1.0],
                    control_points=[
                        ControlPoint(x=12.5, y=-3.25, weight=1.0),
                        ControlPoint(x=15.0, y=-3.25),
                    ],
                ),
                corridor=Corridor(
                    left_width=0.4, right_width=0.3, corridor_ref_point=CorridorRefPoint.CONTOUR
                ),
                actions=[
                    Action(
                        action_type="speak",
                        action_id="speak-1",
                        action_description="Ask people to make way",
                        blocking_type=BlockingType.NONE,
                        action_parameters=[ActionParameter(key="text", value="请让一让")],
                    )
                ],
            )
        ],
    )


def minimal_order() -> Order:
    return Order(
        **_header(),
        order_id="o1",
        order_update_id=0,
        nodes=[Node(node_id="dock", sequence_id=0, released=True, actions=[])],
        edges=[],
    )


def full_instant_actions() -> InstantActions:
    return InstantActions(
        **_header(),
        actions=[
            Action(action_type="startPause", action_id="pause-7", blocking_type=BlockingType.HARD),
            _uv_action(),
        ],
    )


def minimal_instant_actions() -> InstantActions:
    return InstantActions(**_header(), actions=[])


def full_state() -> State:
    return State(
        **_header(),
        maps=[
            Map(
                map_id="hospital-L3",
                map_version="2026-03-01",
                map_description="Third floor",
                map_status=MapStatus.ENABLED,
            )
        ],
        order_id="mission-3141-patrol",
        order_update_id=2,
        zone_set_id="hospital-zones-v7",
        last_node_id="w3-corridor-1",
        last_node_sequence_id=0,
        driving=True,
        paused=False,
        new_base_request=True,
        distance_since_last_node=1.25,
        operating_mode=OperatingMode.AUTOMATIC,
        node_states=[
            NodeState(
                node_id="w3-bed-2",
                sequence_id=2,
                node_description="Bed 2",
                released=False,
                node_position=NodePosition(x=15.0, y=-3.25, theta=0.0, map_id="hospital-L3"),
            )
        ],
        edge_states=[
            EdgeState(
                edge_id="w3-corridor-1__w3-bed-2",
                sequence_id=1,
                edge_description="Into ward 3",
                released=False,
                trajectory=Trajectory(
                    degree=1,
                    knot_vector=[0.0, 0.0, 1.0, 1.0],
                    control_points=[
                        ControlPoint(x=12.5, y=-3.25, weight=1.0),
                        ControlPoint(x=15.0, y=-3.25),
                    ],
                ),
            )
        ],
        agv_position=AgvPosition(
            x=13.75,
            y=-3.25,
            theta=0.01,
            map_id="hospital-L3",
            map_description="Third floor",
            position_initialized=True,
            localization_score=0.93,
            deviation_range=0.05,
        ),
        velocity=Velocity(vx=0.5, vy=0.0, omega=0.02),
        loads=[
            Load(
                load_id="tray-88",
                load_type="medicineTray",
                load_position="front",
                bounding_box_reference=BoundingBoxReference(x=0.1, y=0.0, z=0.8, theta=0.0),
                load_dimensions=LoadDimensions(length=0.4, width=0.3, height=0.1),
                weight=2.5,
            )
        ],
        action_states=[
            ActionState(
                action_id="a6f0c3e2-uv-ward3-bed2",
                action_type="uvDisinfect",
                action_description="UV-C dose for bed 2 of ward 3",
                action_status=ActionStatus.WAITING,
                result_description="",
            ),
            ActionState(action_id="speak-1", action_status=ActionStatus.FINISHED),
        ],
        battery_state=BatteryState(
            battery_charge=81.5, battery_voltage=48.2, battery_health=97, charging=False, reach=5400
        ),
        errors=[
            Error(
                error_type="uvInterlockOpen",
                error_references=[
                    ErrorReference(
                        reference_key="actionId", reference_value="a6f0c3e2-uv-ward3-bed2"
                    )
                ],
                error_description="Door sensor reports a person in the room",
                error_hint="Clear the room and close the door",
                error_level=ErrorLevel.WARNING,
            )
        ],
        information=[
            Information(
                info_type="patrolCheck",
                info_references=[InfoReference(reference_key="nodeId", reference_value="w3-bed-2")],
                info_description="Door W3-B2 found open",
                info_level=InfoLevel.INFO,
            )
        ],
        safety_state=SafetyState(e_stop=EStop.NONE, field_violation=False),
    )


def minimal_state() -> State:
    return State(
        **_header(),
        order_id="",
        order_update_id=0,
        last_node_id="",
        last_node_sequence_id=0,
        driving=False,
        operating_mode=OperatingMode.MANUAL,
        node_states=[],
        edge_states=[],
        action_states=[],
        battery_state=BatteryState(battery_charge=20, charging=True),
        errors=[],
        safety_state=SafetyState(e_stop=EStop.AUTOACK, field_violation=True),
    )


def full_visualization() -> Visualization:
    return Visualization(
        **_header(),
        agv_position=AgvPosition(
            x=1.0,
            y=2.0,
            theta=-0.5,
            map_id="bank-L1",
            position_initialized=True,
            localization_score=1.0,
            deviation_range=0.02,
        ),
        velocity=Velocity(vx=0.2, vy=0.0, omega=-0.1),
    )


def minimal_visualization() -> Visualization:
    return Visualization()


def full_connection() -> Connection:
    return Connection(**_header(), connection_state=ConnectionState.CONNECTIONBROKEN)


def minimal_connection() -> Connection:
    return Connection(**_header(), connection_state=ConnectionState.ONLINE)


def full_factsheet() -> Factsheet:
    return Factsheet(
        **_header(),
        type_specification=TypeSpecification(
            series_name="Brightway UV-C 2",
            series_description="Autonomous UV-C disinfection robot",
            agv_kinematic=AgvKinematic.DIFF,
            agv_class=AgvClass.CARRIER,
            max_load_mass=5,
            localization_types=[LocalizationType.NATURAL, LocalizationType.REFLECTOR],
            navigation_types=[NavigationType.AUTONOMOUS],
        ),
        physical_parameters=PhysicalParameters(
            speed_min=0.05,
            speed_max=1.2,
            angular_speed_min=0.05,
            angular_speed_max=1.5,
            acceleration_max=0.5,
            deceleration_max=1.0,
            height_min=1.6,
            height_max=1.9,
            width=0.6,
            length=0.8,
        ),
        protocol_limits=ProtocolLimits(
            max_string_lens=MaxStringLens(
                msg_len=65536,
                topic_serial_len=32,
                topic_elem_len=32,
                id_len=64,
                id_numerical_only=False,
                enum_len=32,
                load_id_len=32,
            ),
            max_array_lens=MaxArrayLens(
                order_nodes=200,
                order_edges=199,
                node_actions=8,
                edge_actions=4,
                actions_actions_parameters=16,
                instant_actions=8,
                trajectory_knot_vector=64,
                trajectory_control_points=60,
                state_node_states=200,
                state_edge_states=199,
                state_loads=1,
                state_action_states=64,
                state_errors=32,
                state_information=32,
                error_error_references=8,
                information_info_references=8,
            ),
            timing=Timing(
                min_order_interval=0.5,
                min_state_interval=0.2,
                default_state_interval=30,
                visualization_interval=0.1,
            ),
        ),
        protocol_features=ProtocolFeatures(
            optional_parameters=[
                OptionalParameter(
                    parameter="order.edges.trajectory",
                    support=Support.SUPPORTED,
                    description="Straight lines and arcs only",
                ),
                OptionalParameter(parameter="order.nodes.nodePosition", support=Support.REQUIRED),
            ],
            agv_actions=[
                AgvAction(
                    action_type="uvDisinfect",
                    action_description="Run the UV-C lamps to a dose",
                    action_scopes=[ActionScope.NODE, ActionScope.INSTANT],
                    action_parameters=[
                        AgvActionParameter(
                            key="doseMilliJoulePerCm2",
                            value_data_type=ValueDataType.NUMBER,
                            description="Target dose at 1 m",
                            is_optional=False,
                        ),
                        AgvActionParameter(key="lamps", value_data_type=ValueDataType.ARRAY),
                    ],
                    result_description="Delivered dose in mJ/cm²",
                    # blockingTypes left out: the 2.1.0 schema rejects any array here.
                ),
                AgvAction(action_type="startPause", action_scopes=[ActionScope.INSTANT]),
            ],
        ),
        agv_geometry=AgvGeometry(
            wheel_definitions=[
                WheelDefinition(
                    type=WheelType.DRIVE,
                    is_active_driven=True,
                    is_active_steered=False,
                    position=WheelPosition(x=0.0, y=0.25, theta=0.0),
                    diameter=0.2,
                    width=0.05,
                    center_displacement=0.0,
                    constraints="none",
                ),
                WheelDefinition(
                    type=WheelType.CASTER,
                    is_active_driven=False,
                    is_active_steered=False,
                    position=WheelPosition(x=0.3, y=0.0),
                    diameter=0.08,
                    width=0.03,
                ),
            ],
            envelopes2d=[
                Envelope2d(
                    set="mechanical",
                    polygon_points=[
                        PolygonPoint(x=-0.4, y=-0.3),
                        PolygonPoint(x=0.4, y=-0.3),
                        PolygonPoint(x=0.4, y=0.3),
                        PolygonPoint(x=-0.4, y=0.3),
                    ],
                    description="Outline without load",
                )
            ],
            envelopes3d=[
                Envelope3d(
                    set="mechanical",
                    format="DXF",
                    data={"units": "m", "layers": ["body"]},
                    url="https://example.invalid/uvc2.dxf",
                    description=1,
                )
            ],
        ),
        load_specification=LoadSpecification(
            load_positions=["front"],
            load_sets=[
                LoadSet(
                    set_name="DEFAULT",
                    load_type="medicineTray",
                    load_positions=["front"],
                    bounding_box_reference=BoundingBoxReference(x=0.1, y=0.0, z=0.8, theta=0.0),
                    load_dimensions=LoadDimensions(length=0.4, width=0.3, height=0.1),
                    max_weight=5,
                    min_loadhandling_height=0.7,
                    max_loadhandling_height=0.9,
                    min_loadhandling_depth=0.0,
                    max_loadhandling_depth=0.4,
                    min_loadhandling_tilt=-0.05,
                    max_loadhandling_tilt=0.05,
                    agv_speed_limit=0.8,
                    agv_acceleration_limit=0.3,
                    agv_deceleration_limit=0.6,
                    pick_time=5,
                    drop_time=4,
                    description="Medicine tray on the front shelf",
                )
            ],
        ),
        vehicle_config=VehicleConfig(
            versions=[VersionInfo(key="softwareVersion", value="v1.12.4-beta")],
            network=Network(
                dns_servers=["10.0.0.2"],
                local_ip_address="10.0.3.42",
                ntp_servers=["10.0.0.3"],
                netmask="255.255.255.0",
                default_gateway="10.0.3.1",
            ),
        ),
    )


def minimal_factsheet() -> Factsheet:
    return Factsheet(
        version="2.1.0",
        manufacturer=MANUFACTURER,
        serial_number=SERIAL,
        type_specification=TypeSpecification(
            series_name="S",
            agv_kinematic=AgvKinematic.OMNI,
            agv_class=AgvClass.TUGGER,
            max_load_mass=0,
            localization_types=[],
            navigation_types=[],
        ),
        physical_parameters=PhysicalParameters(
            speed_min=0.1,
            speed_max=1,
            acceleration_max=1,
            deceleration_max=1,
            height_max=1,
            width=1,
            length=1,
        ),
        protocol_limits=ProtocolLimits(
            max_string_lens=MaxStringLens(),
            max_array_lens=MaxArrayLens(),
            timing=Timing(min_order_interval=1, min_state_interval=1),
        ),
        protocol_features=ProtocolFeatures(optional_parameters=[], agv_actions=[]),
        agv_geometry=AgvGeometry(),
        load_specification=LoadSpecification(),
    )


FULL_SAMPLES = {
    TopicKind.ORDER: full_order,
    TopicKind.INSTANT_ACTIONS: full_instant_actions,
    TopicKind.STATE: full_state,
    TopicKind.VISUALIZATION: full_visualization,
    TopicKind.CONNECTION: full_connection,
    TopicKind.FACTSHEET: full_factsheet,
}
MINIMAL_SAMPLES = {
    TopicKind.ORDER: minimal_order,
    TopicKind.INSTANT_ACTIONS: minimal_instant_actions,
    TopicKind.STATE: minimal_state,
    TopicKind.VISUALIZATION: minimal_visualization,
    TopicKind.CONNECTION: minimal_connection,
    TopicKind.FACTSHEET: minimal_factsheet,
}


def all_samples() -> list[tuple[str, TopicKind, Vda5050Model]]:
    """(test id, kind, message) for every full and minimal sample."""
    samples: list[tuple[str, TopicKind, Vda5050Model]] = []
    for label, table in (("full", FULL_SAMPLES), ("minimal", MINIMAL_SAMPLES)):
        for kind, build in table.items():
            samples.append((f"{label}-{kind}", kind, build()))
    return samples

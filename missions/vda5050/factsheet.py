"""The ``factsheet`` message, vehicle → master control (§6.15)."""

from __future__ import annotations

from pydantic import Field, JsonValue

from missions.vda5050.common import (
    Bool,
    BoundingBoxReference,
    Float,
    LoadDimensions,
    NonNegativeFloat,
    Timestamp,
    UInt32,
    Vda5050Model,
)
from missions.vda5050.enums import (
    ActionScope,
    AgvClass,
    AgvKinematic,
    BlockingType,
    LocalizationType,
    NavigationType,
    Support,
    ValueDataType,
    WheelType,
)


class TypeSpecification(Vda5050Model):
    """Class and capabilities of the vehicle type series (§6.15.1)."""

    series_name: str
    series_description: str | None = None
    agv_kinematic: AgvKinematic
    agv_class: AgvClass
    max_load_mass: NonNegativeFloat
    localization_types: list[LocalizationType]
    navigation_types: list[NavigationType]


class PhysicalParameters(Vda5050Model):
    """Basic physical properties: speeds in m/s, accelerations in m/s², sizes in m (§6.15.1)."""

    speed_min: Float
    speed_max: Float
    # angularSpeedMin/Max are in the spec table but not in the 2.1.0 schema (which
    # allows extra properties, so sending them stays schema-valid).
    angular_speed_min: Float | None = None
    angular_speed_max: Float | None = None
    acceleration_max: Float
    deceleration_max: Float
    height_min: Float | None = None
    height_max: Float
    width: Float
    length: Float


class MaxStringLens(Vda5050Model):
    """Maximum string lengths the vehicle accepts; absent or 0 means no limit (§6.15.1)."""

    msg_len: UInt32 | None = None
    topic_serial_len: UInt32 | None = None
    topic_elem_len: UInt32 | None = None
    id_len: UInt32 | None = None
    id_numerical_only: Bool | None = None
    enum_len: UInt32 | None = None
    load_id_len: UInt32 | None = None


class MaxArrayLens(Vda5050Model):
    """Maximum array lengths the vehicle accepts; the wire keys contain dots (§6.15.1)."""

    order_nodes: UInt32 | None = Field(default=None, alias="order.nodes")
    order_edges: UInt32 | None = Field(default=None, alias="order.edges")
    node_actions: UInt32 | None = Field(default=None, alias="node.actions")
    edge_actions: UInt32 | None = Field(default=None, alias="edge.actions")
    actions_actions_parameters: UInt32 | None = Field(
        default=None, alias="actions.actionsParameters"
    )
    instant_actions: UInt32 | None = None
    trajectory_knot_vector: UInt32 | None = Field(default=None, alias="trajectory.knotVector")
    trajectory_control_points: UInt32 | None = Field(default=None, alias="trajectory.controlPoints")
    state_node_states: UInt32 | None = Field(default=None, alias="state.nodeStates")
    state_edge_states: UInt32 | None = Field(default=None, alias="state.edgeStates")
    state_loads: UInt32 | None = Field(default=None, alias="state.loads")
    state_action_states: UInt32 | None = Field(default=None, alias="state.actionStates")
    state_errors: UInt32 | None = Field(default=None, alias="state.errors")
    state_information: UInt32 | None = Field(default=None, alias="state.information")
    error_error_references: UInt32 | None = Field(default=None, alias="error.errorReferences")
    information_info_references: UInt32 | None = Field(
        default=None, alias="information.infoReferences"
    )


class Timing(Vda5050Model):
    """Message intervals in seconds (§6.15.1)."""

    min_order_interval: Float
    min_state_interval: Float
    default_state_interval: Float | None = None
    visualization_interval: Float | None = None


class ProtocolLimits(Vda5050Model):
    """Protocol limits of the vehicle (§6.15.1)."""

    max_string_lens: MaxStringLens
    max_array_lens: MaxArrayLens
    timing: Timing


class OptionalParameter(Vda5050Model):
    """An optional protocol field the vehicle supports or requires (§6.15.1)."""

    parameter: str
    support: Support
    description: str | None = None


class AgvActionParameter(Vda5050Model):
    """Declared parameter of a supported action; not the order's actionParameter (§6.15.1)."""

    key: str
    value_data_type: ValueDataType
    description: str | None = None
    is_optional: Bool | None = None


class AgvAction(Vda5050Model):
    """An action type the vehicle supports (§6.15.1)."""

    action_type: str
    action_description: str | None = None
    action_scopes: list[ActionScope]
    action_parameters: list[AgvActionParameter] | None = None
    result_description: str | None = None
    # The 2.1.0 schema puts this enum on the array instead of its items, so no
    # array passes that schema; the spec table means "array of enum", as modelled.
    blocking_types: list[BlockingType] | None = None


class ProtocolFeatures(Vda5050Model):
    """Optional parameters and actions the vehicle supports (§6.15.1)."""

    optional_parameters: list[OptionalParameter]
    agv_actions: list[AgvAction]


class WheelPosition(Vda5050Model):
    """Wheel position in vehicle coordinates, metres and radians (§6.15.1)."""

    x: Float
    y: Float
    theta: Float | None = None


class WheelDefinition(Vda5050Model):
    """One wheel's arrangement and geometry (§6.15.1)."""

    type: WheelType
    is_active_driven: Bool
    is_active_steered: Bool
    position: WheelPosition
    diameter: Float
    width: Float
    center_displacement: Float | None = None
    constraints: str | None = None


class PolygonPoint(Vda5050Model):
    """Vertex of a 2D envelope polygon in metres (§6.15.1)."""

    x: Float
    y: Float


class Envelope2d(Vda5050Model):
    """A closed, non-self-intersecting 2D envelope curve (§6.15.1)."""

    set: str
    polygon_points: list[PolygonPoint]
    description: str | None = None


class Envelope3d(Vda5050Model):
    """A 3D envelope curve given inline (``data``) or by ``url`` (§6.15.1)."""

    set: str
    format: str
    data: dict[str, JsonValue] | None = None
    url: str | None = None
    # The spec text says string, the 2.1.0 schema says integer; accept both so a
    # vehicle following either is understood.
    description: int | str | None = None


class AgvGeometry(Vda5050Model):
    """Wheels and envelope curves of the vehicle (§6.15.1)."""

    wheel_definitions: list[WheelDefinition] | None = None
    # to_camel would spell these "envelopes2D".
    envelopes2d: list[Envelope2d] | None = Field(default=None, alias="envelopes2d")
    envelopes3d: list[Envelope3d] | None = Field(default=None, alias="envelopes3d")


class LoadSet(Vda5050Model):
    """A load type the vehicle can handle and its handling limits (§6.15.1)."""

    set_name: str
    load_type: str
    load_positions: list[str] | None = None
    bounding_box_reference: BoundingBoxReference | None = None
    load_dimensions: LoadDimensions | None = None
    max_weight: Float | None = None
    min_loadhandling_height: Float | None = None
    max_loadhandling_height: Float | None = None
    min_loadhandling_depth: Float | None = None
    max_loadhandling_depth: Float | None = None
    min_loadhandling_tilt: Float | None = None
    max_loadhandling_tilt: Float | None = None
    agv_speed_limit: Float | None = None
    agv_acceleration_limit: Float | None = None
    agv_deceleration_limit: Float | None = None
    pick_time: Float | None = None
    drop_time: Float | None = None
    description: str | None = None


class LoadSpecification(Vda5050Model):
    """Load handling devices and load sets; no devices listed means none (§6.15.1)."""

    load_positions: list[str] | None = None
    load_sets: list[LoadSet] | None = None


class VersionInfo(Vda5050Model):
    """A hardware or software version on the vehicle (§6.15.1 vehicleConfig)."""

    key: str
    value: str


class Network(Vda5050Model):
    """The vehicle's network configuration (§6.15.1 vehicleConfig)."""

    dns_servers: list[str] | None = None
    local_ip_address: str | None = None
    ntp_servers: list[str] | None = None
    netmask: str | None = None
    default_gateway: str | None = None


class VehicleConfig(Vda5050Model):
    """Versions and network information of the vehicle (§6.15.1)."""

    versions: list[VersionInfo] | None = None
    network: Network | None = None


class Factsheet(Vda5050Model):
    """Description of the vehicle type and its protocol abilities (§6.15)."""

    # The factsheet schema makes headerId and timestamp optional.
    header_id: UInt32 | None = None
    timestamp: Timestamp | None = None
    version: str
    manufacturer: str
    serial_number: str
    type_specification: TypeSpecification
    physical_parameters: PhysicalParameters
    protocol_limits: ProtocolLimits
    protocol_features: ProtocolFeatures
    agv_geometry: AgvGeometry
    load_specification: LoadSpecification
    vehicle_config: VehicleConfig | None = None

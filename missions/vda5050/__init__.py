"""VDA 5050 2.1.0 message models, JSON codec and MQTT topic names.

Every message of the protocol (order, instantActions, state, visualization,
connection, factsheet) is a pydantic v2 model. Python attributes are snake_case; the
wire uses the spec's camelCase (``Order(order_update_id=3)`` ↔ ``"orderUpdateId": 3``);
both names are accepted when building a model.

The models follow the official 2.1.0 JSON schemas (required fields, enums, numeric
ranges; unknown fields are accepted and kept because no schema forbids them).
Where the spec text and the schemas disagree the text wins, and each place says so:

* ``ActionStatus.PAUSED`` is in the spec (§6.11) but not in state.schema's enum.
* ``AgvAction.blocking_types`` is an array of enum in the spec; the schema puts the
  enum on the array itself, so no array passes that schema.
* ``Envelope3d.description`` is a string in the spec, an integer in the schema; both
  are accepted.
* ``Edge.orientation_type`` is an enum in the spec, a free string in the schema.
* ``PhysicalParameters.angular_speed_min/max`` exist only in the spec.
* ids and counters the spec types as ``uint32`` (headerId, sequenceId, orderUpdateId,
  factsheet limits) are bounded to 0..2³²-1, which some schemas leave open.
* state's nodePosition and trajectory reuse the order's objects, as §6.10.6 says.

Use :func:`encode` and the ``decode_*`` functions for payloads, :func:`topic_for`,
:func:`parse_topic` and :func:`subscription_for` for topics, :class:`HeaderCounter`
and :func:`utc_timestamp` for headers.
"""

from missions.vda5050.codec import (
    HeaderCounter,
    Vda5050Message,
    decode,
    decode_connection,
    decode_factsheet,
    decode_instant_actions,
    decode_order,
    decode_state,
    decode_visualization,
    encode,
    message_type_for,
)
from missions.vda5050.common import (
    Action,
    ActionParameter,
    ActionParameterValue,
    AgvPosition,
    BoundingBoxReference,
    ControlPoint,
    Header,
    LoadDimensions,
    NodePosition,
    Trajectory,
    Vda5050Model,
    Velocity,
)
from missions.vda5050.connection import Connection
from missions.vda5050.enums import (
    ActionScope,
    ActionStatus,
    AgvClass,
    AgvKinematic,
    BlockingType,
    ConnectionState,
    CorridorRefPoint,
    ErrorLevel,
    EStop,
    InfoLevel,
    LocalizationType,
    MapStatus,
    NavigationType,
    OperatingMode,
    OrientationType,
    Support,
    ValueDataType,
    WheelType,
)
from missions.vda5050.factsheet import (
    AgvAction,
    AgvActionParameter,
    AgvGeometry,
    Envelope2d,
    Envelope3d,
    Factsheet,
    LoadSet,
    LoadSpecification,
    MaxArrayLens,
    MaxStringLens,
    Network,
    OptionalParameter,
    PhysicalParameters,
    PolygonPoint,
    ProtocolFeatures,
    ProtocolLimits,
    Timing,
    TypeSpecification,
    VehicleConfig,
    VersionInfo,
    WheelDefinition,
    WheelPosition,
)
from missions.vda5050.instant_actions import InstantActions
from missions.vda5050.order import Corridor, Edge, Node, Order
from missions.vda5050.protocol import MAJOR_VERSION, PROTOCOL_VERSION, utc_timestamp
from missions.vda5050.state import (
    ActionState,
    BatteryState,
    EdgeState,
    Error,
    ErrorReference,
    InfoReference,
    Information,
    Load,
    Map,
    NodeState,
    SafetyState,
    State,
)
from missions.vda5050.topics import (
    DEFAULT_INTERFACE,
    TopicIdentity,
    TopicKind,
    parse_topic,
    subscription_for,
    topic_for,
)
from missions.vda5050.visualization import Visualization

__all__ = [
    "DEFAULT_INTERFACE",
    "MAJOR_VERSION",
    "PROTOCOL_VERSION",
    "Action",
    "ActionParameter",
    "ActionParameterValue",
    "ActionScope",
    "ActionState",
    "ActionStatus",
    "AgvAction",
    "AgvActionParameter",
    "AgvClass",
    "AgvGeometry",
    "AgvKinematic",
    "AgvPosition",
    "BatteryState",
    "BlockingType",
    "BoundingBoxReference",
    "Connection",
    "ConnectionState",
    "ControlPoint",
    "Corridor",
    "CorridorRefPoint",
    "EStop",
    "Edge",
    "EdgeState",
    "Envelope2d",
    "Envelope3d",
    "Error",
    "ErrorLevel",
    "ErrorReference",
    "Factsheet",
    "Header",
    "HeaderCounter",
    "InfoLevel",
    "InfoReference",
    "Information",
    "InstantActions",
    "Load",
    "LoadDimensions",
    "LoadSet",
    "LoadSpecification",
    "LocalizationType",
    "Map",
    "MapStatus",
    "MaxArrayLens",
    "MaxStringLens",
    "NavigationType",
    "Network",
    "Node",
    "NodePosition",
    "NodeState",
    "OperatingMode",
    "OptionalParameter",
    "Order",
    "OrientationType",
    "PhysicalParameters",
    "PolygonPoint",
    "ProtocolFeatures",
    "ProtocolLimits",
    "SafetyState",
    "State",
    "Support",
    "Timing",
    "TopicIdentity",
    "TopicKind",
    "Trajectory",
    "TypeSpecification",
    "ValueDataType",
    "Vda5050Message",
    "Vda5050Model",
    "VehicleConfig",
    "Velocity",
    "VersionInfo",
    "Visualization",
    "WheelDefinition",
    "WheelPosition",
    "WheelType",
    "decode",
    "decode_connection",
    "decode_factsheet",
    "decode_instant_actions",
    "decode_order",
    "decode_state",
    "decode_visualization",
    "encode",
    "message_type_for",
    "parse_topic",
    "subscription_for",
    "topic_for",
    "utc_timestamp",
]

"""Building blocks shared by several VDA 5050 messages: base model, header, actions, geometry.

Field constraints mirror the official 2.1.0 JSON schemas. Where the spec text is
stricter than a schema (``uint32`` ids and counters, §6.4/§6.6.6) the model follows
the text; everything the models emit still validates against the schemas.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, TypeAlias

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    PlainSerializer,
    Strict,
)
from pydantic.alias_generators import to_camel

from missions.vda5050.enums import BlockingType
from missions.vda5050.protocol import UINT32_MAX, utc_timestamp

# The schemas bound angles with these literals, slightly wider than math.pi.
THETA_LIMIT = 3.14159265359
DEVIATION_THETA_LIMIT = 3.141592654


def _refuse_non_text_timestamp(value: object) -> object:
    # Lax datetime parsing would read a JSON number as Unix seconds; the schemas
    # demand an ISO 8601 string, so a number is a sender bug worth reporting.
    if isinstance(value, str | datetime):
        return value
    raise ValueError("timestamp must be an ISO 8601 string such as 2017-04-15T11:40:03.12Z")


# Strict scalars reject the lax coercions ("5" → 5, 1 → True) the schemas do not allow;
# a strict float still accepts JSON integers, as JSON Schema's "number" does.
Float = Annotated[float, Strict()]
NonNegativeFloat = Annotated[float, Strict(), Field(ge=0)]
UInt32 = Annotated[int, Strict(), Field(ge=0, le=UINT32_MAX)]
Bool = Annotated[bool, Strict()]
Theta = Annotated[float, Strict(), Field(ge=-THETA_LIMIT, le=THETA_LIMIT)]
Timestamp = Annotated[
    AwareDatetime,
    BeforeValidator(_refuse_non_text_timestamp),
    PlainSerializer(utc_timestamp, return_type=str, when_used="json"),
]
"""Header timestamp: any aware ISO 8601 datetime in, UTC with milliseconds and 'Z' out."""

ActionParameterValue: TypeAlias = (
    Annotated[bool, Strict()]
    | Annotated[int, Strict()]
    | Annotated[float, Strict()]
    | str
    | list[JsonValue]
    | dict[str, JsonValue]
)
"""§7.2: one of array, boolean, number, string, object (null is not allowed)."""


class Vda5050Model(BaseModel):
    """Base of every VDA 5050 object: camelCase on the wire, snake_case in Python.

    No schema sets ``additionalProperties``, so unknown (vendor) fields are accepted
    and kept, which lets a decoded message be re-encoded without losing them.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="allow",
        allow_inf_nan=False,  # §6.1.4: NaN and infinity are not supported
    )


class Header(Vda5050Model):
    """The header fields that start order, instantActions, state and connection (§6.4)."""

    header_id: UInt32
    timestamp: Timestamp
    version: str
    manufacturer: str
    serial_number: str


class ActionParameter(Vda5050Model):
    """Key-value parameter of an action (§6.6.6, §7.2)."""

    key: str
    value: ActionParameterValue


class Action(Vda5050Model):
    """An action on a node, an edge, or sent as an instant action (§6.6.6, §6.9)."""

    action_type: str
    action_id: str
    action_description: str | None = None
    blocking_type: BlockingType
    action_parameters: list[ActionParameter] | None = None

    def parameter(self, key: str) -> ActionParameterValue | None:
        """Return the value of the parameter named ``key``, or None when absent."""
        for item in self.action_parameters or ():
            if item.key == key:
                return item.value
        return None


class NodePosition(Vda5050Model):
    """Position of a node on a map (§6.6.6); also reported in state.nodeStates."""

    x: Float
    y: Float
    theta: Theta | None = None
    allowed_deviation_xy: NonNegativeFloat | None = Field(default=None, alias="allowedDeviationXY")
    allowed_deviation_theta: (
        Annotated[float, Strict(), Field(ge=-DEVIATION_THETA_LIMIT, le=DEVIATION_THETA_LIMIT)]
        | None
    ) = None
    map_id: str
    map_description: str | None = None


class ControlPoint(Vda5050Model):
    """NURBS control point; weight defaults to 1.0 when absent (§6.6.6)."""

    x: Float
    y: Float
    weight: NonNegativeFloat | None = None


class Trajectory(Vda5050Model):
    """NURBS trajectory of an edge (§6.6.6); also reported in state.edgeStates."""

    degree: Annotated[int, Strict(), Field(ge=1)]
    knot_vector: list[Annotated[float, Strict(), Field(ge=0, le=1)]]
    control_points: list[ControlPoint]


class AgvPosition(Vda5050Model):
    """Vehicle pose on a map, in state and visualization (§6.10.6, §6.13)."""

    x: Float
    y: Float
    theta: Float
    map_id: str
    map_description: str | None = None
    position_initialized: Bool
    localization_score: Annotated[float, Strict(), Field(ge=0, le=1)] | None = None
    deviation_range: Float | None = None


class Velocity(Vda5050Model):
    """Vehicle velocity in vehicle coordinates (§6.10.6)."""

    vx: Float | None = None
    vy: Float | None = None
    omega: Float | None = None


class BoundingBoxReference(Vda5050Model):
    """Centre of a load's bounding-box bottom in vehicle coordinates (§6.10.6)."""

    x: Float
    y: Float
    z: Float
    theta: Float | None = None


class LoadDimensions(Vda5050Model):
    """Size of a load's bounding box in metres (§6.10.6)."""

    length: Float
    width: Float
    height: Float | None = None

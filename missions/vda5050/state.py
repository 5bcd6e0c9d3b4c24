"""The ``state`` message, vehicle → master control (§6.10)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, Strict

from missions.vda5050.common import (
    AgvPosition,
    Bool,
    BoundingBoxReference,
    Float,
    Header,
    LoadDimensions,
    NodePosition,
    NonNegativeFloat,
    Trajectory,
    UInt32,
    Vda5050Model,
    Velocity,
)
from missions.vda5050.enums import (
    ActionStatus,
    ErrorLevel,
    EStop,
    InfoLevel,
    MapStatus,
    OperatingMode,
)


class Map(Vda5050Model):
    """A map version stored on the vehicle (§6.7.2)."""

    map_id: str
    map_version: str
    map_description: str | None = None
    map_status: MapStatus


class NodeState(Vda5050Model):
    """A node of the current order still to be traversed (§6.10.6)."""

    node_id: str
    sequence_id: UInt32
    node_description: str | None = None
    released: Bool
    # §6.10.6 defines this as the order's nodePosition object (§6.6.6), so the
    # order's model (and its theta range) is reused.
    node_position: NodePosition | None = None


class EdgeState(Vda5050Model):
    """An edge of the current order still to be traversed (§6.10.6)."""

    edge_id: str
    sequence_id: UInt32
    edge_description: str | None = None
    released: Bool
    trajectory: Trajectory | None = None


class Load(Vda5050Model):
    """A load the vehicle carries; every field is optional (§6.10.6)."""

    load_id: str | None = None
    load_type: str | None = None
    load_position: str | None = None
    bounding_box_reference: BoundingBoxReference | None = None
    load_dimensions: LoadDimensions | None = None
    weight: NonNegativeFloat | None = None


class ActionState(Vda5050Model):
    """Progress of one action of the order or of an instant action (§6.11)."""

    action_id: str
    action_type: str | None = None
    action_description: str | None = None
    action_status: ActionStatus
    result_description: str | None = None


class BatteryState(Vda5050Model):
    """Battery charge, health and charging flag (§6.10.6)."""

    battery_charge: Float
    battery_voltage: Float | None = None
    battery_health: Annotated[float, Strict(), Field(ge=0, le=100)] | None = None
    charging: Bool
    reach: NonNegativeFloat | None = None


class ErrorReference(Vda5050Model):
    """Key-value reference (nodeId, orderId, actionId, ...) attached to an error (§7.1)."""

    reference_key: str
    reference_value: str


class Error(Vda5050Model):
    """An active vehicle error (§6.10.5)."""

    error_type: str
    error_references: list[ErrorReference] | None = None
    error_description: str | None = None
    error_hint: str | None = None
    error_level: ErrorLevel


class InfoReference(Vda5050Model):
    """Key-value reference attached to an information entry (§6.10.6)."""

    reference_key: str
    reference_value: str


class Information(Vda5050Model):
    """A debugging or visualization message; never to drive master-control logic (§6.10.4)."""

    info_type: str
    info_references: list[InfoReference] | None = None
    info_description: str | None = None
    info_level: InfoLevel


class SafetyState(Vda5050Model):
    """Emergency-stop and protective-field state (§6.10.6)."""

    e_stop: EStop
    field_violation: Bool


class State(Header):
    """The vehicle's complete state (§6.10)."""

    maps: list[Map] | None = None
    order_id: str
    order_update_id: UInt32
    zone_set_id: str | None = None
    last_node_id: str
    last_node_sequence_id: UInt32
    driving: Bool
    paused: Bool | None = None
    new_base_request: Bool | None = None
    distance_since_last_node: Float | None = None
    operating_mode: OperatingMode
    node_states: list[NodeState]
    edge_states: list[EdgeState]
    agv_position: AgvPosition | None = None
    velocity: Velocity | None = None
    # §6.10.6: absent means "cannot tell"; an empty list means "unloaded".
    loads: list[Load] | None = None
    action_states: list[ActionState]
    battery_state: BatteryState
    errors: list[Error]
    information: list[Information] | None = None
    safety_state: SafetyState

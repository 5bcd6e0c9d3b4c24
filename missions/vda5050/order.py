"""The ``order`` message, master control → vehicle (§6.6)."""

from __future__ import annotations

from missions.vda5050.common import (
    Action,
    Bool,
    Float,
    Header,
    NodePosition,
    NonNegativeFloat,
    Theta,
    Trajectory,
    UInt32,
    Vda5050Model,
)
from missions.vda5050.enums import CorridorRefPoint, OrientationType


class Node(Vda5050Model):
    """A node of an order; released nodes form the base, the others the horizon (§6.6.6)."""

    node_id: str
    sequence_id: UInt32
    node_description: str | None = None
    released: Bool
    node_position: NodePosition | None = None
    actions: list[Action]


class Corridor(Vda5050Model):
    """Boundaries within which the vehicle may leave its trajectory (§6.6.5)."""

    left_width: NonNegativeFloat
    right_width: NonNegativeFloat
    corridor_ref_point: CorridorRefPoint | None = None


class Edge(Vda5050Model):
    """A directed connection between two nodes of an order (§6.6.6)."""

    edge_id: str
    sequence_id: UInt32
    edge_description: str | None = None
    released: Bool
    start_node_id: str
    end_node_id: str
    max_speed: Float | None = None
    max_height: Float | None = None
    min_height: Float | None = None
    orientation: Theta | None = None
    orientation_type: OrientationType | None = None
    direction: str | None = None
    rotation_allowed: Bool | None = None
    max_rotation_speed: Float | None = None
    length: Float | None = None
    trajectory: Trajectory | None = None
    corridor: Corridor | None = None
    actions: list[Action]


class Order(Header):
    """A new order or an order update (§6.6.2); nodes and edges alternate by sequenceId."""

    order_id: str
    order_update_id: UInt32
    zone_set_id: str | None = None
    nodes: list[Node]
    edges: list[Edge]

"""Building VDA 5050 orders and instant actions for tests."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from missions.vda5050 import (
    Action,
    ActionParameter,
    BlockingType,
    Edge,
    InstantActions,
    Node,
    NodePosition,
    Order,
    utc_timestamp,
)

MANUFACTURER = "fleetsim"


def action(
    action_type: str,
    action_id: str,
    blocking: BlockingType = BlockingType.HARD,
    **params: Any,
) -> Action:
    """An action with parameters given as keyword arguments."""
    return Action(
        action_type=action_type,
        action_id=action_id,
        blocking_type=blocking,
        action_parameters=[ActionParameter(key=k, value=v) for k, v in params.items()] or None,
    )


@dataclass
class N:
    """A node for `order(...)`: id, position, released flag, actions."""

    node_id: str
    x: float
    y: float
    released: bool = True
    actions: list[Action] = field(default_factory=list)
    map_id: str = "L1"
    deviation: float | None = 0.3


def order(
    order_id: str,
    nodes: list[N],
    *,
    update_id: int = 0,
    first_sequence_id: int = 0,
    serial: str = "r1",
    max_speed: float | None = None,
    edge_actions: dict[int, list[Action]] | None = None,
    header_id: int = 0,
) -> Order:
    """An order whose edges join consecutive nodes; edges are released with their end node."""
    vda_nodes = [
        Node(
            node_id=n.node_id,
            sequence_id=first_sequence_id + 2 * i,
            released=n.released,
            node_position=NodePosition(
                x=float(n.x), y=float(n.y), map_id=n.map_id, allowed_deviation_xy=n.deviation
            ),
            actions=n.actions,
        )
        for i, n in enumerate(nodes)
    ]
    edges = [
        Edge(
            edge_id=f"e-{a.node_id}-{b.node_id}",
            sequence_id=first_sequence_id + 2 * i + 1,
            released=b.released,
            start_node_id=a.node_id,
            end_node_id=b.node_id,
            max_speed=max_speed,
            actions=(edge_actions or {}).get(i, []),
        )
        for i, (a, b) in enumerate(itertools.pairwise(nodes))
    ]
    return Order(
        header_id=header_id,
        timestamp=utc_timestamp(),
        version="2.1.0",
        manufacturer=MANUFACTURER,
        serial_number=serial,
        order_id=order_id,
        order_update_id=update_id,
        nodes=vda_nodes,
        edges=edges,
    )


def one_node_order(order_id: str = "o1", update_id: int = 0) -> Order:
    """An order of one released node, for tests of how orders are sent rather than driven."""
    return order(order_id, [N("n1", 1.0, 2.0)], update_id=update_id)


def instant(*actions: Action, serial: str = "r1", header_id: int = 0) -> InstantActions:
    """An instantActions message."""
    return InstantActions(
        header_id=header_id,
        timestamp=utc_timestamp(),
        version="2.1.0",
        manufacturer=MANUFACTURER,
        serial_number=serial,
        actions=list(actions),
    )

"""Order bookkeeping on the vehicle: acceptance, stitching and traversal (VDA 5050 §6.6).

Pure logic, no I/O: the executor feeds it orders and arrivals, and reads node and edge
states from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

from missions.vda5050 import Edge, Node, Order

DEFAULT_DEVIATION_XY_M = 0.5
"""How close the vehicle must be to a new order's first node when the node gives no range."""


class ErrorType:
    """errorType values for refused orders (§6.6.4) and cancellation (§6.6.3.2)."""

    VALIDATION = "validationError"
    ORDER = "orderError"
    ORDER_UPDATE = "orderUpdateError"
    NO_ROUTE = "noRouteError"
    NO_ORDER_TO_CANCEL = "noOrderToCancel"


class OrderRejected(Exception):
    """An order the vehicle does not take over; reported as a WARNING in state.errors."""

    def __init__(self, error_type: str, description: str, references: dict[str, str]) -> None:
        super().__init__(f"{error_type}: {description}")
        self.error_type = error_type
        self.description = description
        self.references = references


class Decision(StrEnum):
    """What to do with a received order that passed every check (§6.6.2, figure 8)."""

    NEW = "new"
    """A new order: replace all node, edge and action states."""
    UPDATE = "update"
    """An update of the current order: stitch onto the decision point."""
    IGNORE = "ignore"
    """Same orderId and orderUpdateId again: a resend, ignored."""


def _refs(order: Order, **extra: str) -> dict[str, str]:
    return {"orderId": order.order_id, "orderUpdateId": str(order.order_update_id), **extra}


def check_structure(order: Order) -> None:
    """The order is well-formed as a graph (§6.6.1); raises `OrderRejected` (validationError)."""
    nodes, edges = order.nodes, order.edges

    def bad(why: str, **refs: str) -> OrderRejected:
        return OrderRejected(ErrorType.VALIDATION, why, _refs(order, **refs))

    if not nodes:
        raise bad("an order needs at least one node")
    if len(edges) != len(nodes) - 1:
        raise bad(f"{len(nodes)} nodes need {len(nodes) - 1} edges, got {len(edges)}")
    first = nodes[0].sequence_id
    if first % 2:
        raise bad("node sequenceIds are even", nodeId=nodes[0].node_id)
    for i, node in enumerate(nodes):
        if node.sequence_id != first + 2 * i:
            raise bad("node sequenceIds must run 0, 2, 4, ... in list order", nodeId=node.node_id)
    for i, edge in enumerate(edges):
        if edge.sequence_id != first + 2 * i + 1:
            raise bad("edge sequenceIds must be odd, between their nodes", edgeId=edge.edge_id)
        if (edge.start_node_id, edge.end_node_id) != (nodes[i].node_id, nodes[i + 1].node_id):
            raise bad("edge does not join its neighbouring nodes", edgeId=edge.edge_id)
        if edge.released and not (nodes[i].released and nodes[i + 1].released):
            raise bad("a released edge needs both its nodes released", edgeId=edge.edge_id)
    if not nodes[0].released:
        raise bad("the first node must be released", nodeId=nodes[0].node_id)
    seen_unreleased = False
    for element in _interleaved(nodes, edges):
        if not element.released:
            seen_unreleased = True
        elif seen_unreleased:
            ident = element.node_id if isinstance(element, Node) else element.edge_id
            raise bad("nothing released may follow the horizon", elementId=ident)
    action_ids = [a.action_id for el in _interleaved(nodes, edges) for a in el.actions]
    duplicates = {a for a in action_ids if action_ids.count(a) > 1}
    if duplicates:
        raise bad("actionIds must be unique", actionId=sorted(duplicates)[0])


def _interleaved(nodes: list[Node], edges: list[Edge]) -> list[Node | Edge]:
    out: list[Node | Edge] = []
    for i, node in enumerate(nodes):
        out.append(node)
        if i < len(edges):
            out.append(edges[i])
    return out


@dataclass
class OrderBook:
    """The order the vehicle holds: what is left to drive, and where it last was."""

    order_id: str = ""
    order_update_id: int = 0
    nodes: list[Node] = field(default_factory=list)
    """Nodes not yet traversed, base then horizon, in sequence."""
    edges: list[Edge] = field(default_factory=list)
    """Edges not yet left, in sequence."""
    last_node_id: str = ""
    last_node_sequence_id: int = 0
    last_node: Node | None = None
    cancelled: bool = False
    """The held order was cancelled (cancelOrder): it is deleted and takes no updates."""

    @property
    def has_nodes(self) -> bool:
        """True while nodes are left (in the base or the horizon)."""
        return bool(self.nodes)

    def decision_point(self) -> Node | None:
        """The last released node: where the vehicle stops without an update."""
        released = [n for n in self.nodes if n.released]
        if released:
            return released[-1]
        return self.last_node

    def decide(self, order: Order, position: tuple[float, float, str], busy: bool) -> Decision:
        """Figure 8 of §6.6.2: accept as new, accept as update, ignore, or raise OrderRejected."""
        check_structure(order)
        if order.order_id != self.order_id:
            if busy:
                raise OrderRejected(
                    ErrorType.ORDER_UPDATE,
                    f"still executing order {self.order_id!r}; cancel it first",
                    _refs(order),
                )
            self._check_reachable(order.nodes[0], position, order)
            return Decision.NEW
        if order.order_update_id < self.order_update_id:
            raise OrderRejected(
                ErrorType.ORDER_UPDATE,
                f"orderUpdateId {order.order_update_id} is older than {self.order_update_id}",
                _refs(order),
            )
        if order.order_update_id == self.order_update_id:
            return Decision.IGNORE
        if self.cancelled:
            raise OrderRejected(
                ErrorType.ORDER_UPDATE,
                f"order {self.order_id!r} was cancelled; send a new order",
                _refs(order),
            )
        stitch = order.nodes[0]
        anchor = self.decision_point() if busy else self.last_node
        anchor_id = anchor.node_id if anchor else self.last_node_id
        anchor_seq = anchor.sequence_id if anchor else self.last_node_sequence_id
        if (stitch.node_id, stitch.sequence_id) != (anchor_id, anchor_seq):
            raise OrderRejected(
                ErrorType.ORDER_UPDATE,
                f"update starts at {stitch.node_id}/{stitch.sequence_id}, not at the "
                f"decision point {anchor_id}/{anchor_seq}",
                _refs(order, nodeId=stitch.node_id),
            )
        return Decision.UPDATE

    @staticmethod
    def _check_reachable(node: Node, position: tuple[float, float, str], order: Order) -> None:
        # §6.6.1: the first node must be trivially reachable: the vehicle stands on it or
        # within its deviation range.
        pos = node.node_position
        if pos is None:
            return  # a node without position is where the vehicle stands (tag-less vehicles)
        x, y, map_id = position
        allowed = pos.allowed_deviation_xy
        allowed = DEFAULT_DEVIATION_XY_M if allowed is None or allowed <= 0 else allowed
        if pos.map_id != map_id or math.hypot(pos.x - x, pos.y - y) > allowed:
            raise OrderRejected(
                ErrorType.NO_ROUTE,
                f"first node {node.node_id} is not where the vehicle stands",
                _refs(order, nodeId=node.node_id),
            )

    def take_new(self, order: Order) -> None:
        """Hold a new order; its first node counts as traversed at once (§6.6.1)."""
        self.order_id, self.order_update_id = order.order_id, order.order_update_id
        self.nodes, self.edges = list(order.nodes), list(order.edges)
        self.cancelled = False

    def take_update(self, order: Order) -> None:
        """Stitch an update: drop the old horizon, append what follows the stitching node.

        The stitching node and the released base stay as first received (§6.6.2).
        """
        self.order_update_id = order.order_update_id
        stitch_seq = order.nodes[0].sequence_id
        self.nodes = [n for n in self.nodes if n.released and n.sequence_id <= stitch_seq]
        self.edges = [e for e in self.edges if e.released and e.sequence_id < stitch_seq]
        self.nodes.extend(order.nodes[1:])
        self.edges.extend(order.edges)

    def next_node(self) -> Node | None:
        """The next node to drive to, if released."""
        return self.nodes[0] if self.nodes and self.nodes[0].released else None

    def edge_to(self, node: Node) -> Edge | None:
        """The edge that leads to `node`, if still held."""
        return next(
            (
                e
                for e in self.edges
                if e.end_node_id == node.node_id and e.sequence_id == node.sequence_id - 1
            ),
            None,
        )

    def traverse(self, node: Node) -> Edge | None:
        """Mark the first node traversed; returns the edge thereby left (§6.10.2)."""
        if not self.nodes or self.nodes[0] is not node:
            raise ValueError(f"{node.node_id} is not the next node")
        self.nodes.pop(0)
        left = self.edge_to(node)
        if left is not None:
            self.edges.remove(left)
        self.last_node = node
        self.last_node_id, self.last_node_sequence_id = node.node_id, node.sequence_id
        return left

    def next_edge(self) -> Edge | None:
        """The edge the vehicle enters after the last traversed node."""
        return self.edges[0] if self.edges else None

    def drop_all(self) -> None:
        """Forget remaining nodes and edges; ids and last node are kept."""
        self.nodes, self.edges = [], []

    def cancel(self) -> None:
        """cancelOrder: the order is deleted (§6.6.3); later updates of it are refused."""
        self.drop_all()
        self.cancelled = True

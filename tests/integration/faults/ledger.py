"""What the broker saw, read back as missions: which robot got which order, what it did.

Definitions the fault tests assert on (docs/reliability.md repeats them):

- An *execution* of a mission is one robot running one of the mission's orders (orderIds
  are the mission id, or the mission id with a round suffix). Its *done* actions are the
  order's actionIds the robot reported FINISHED in its `state`.
- A mission is *executed twice* when two executions each finished every action of their
  order (the whole mission ran twice), or when a robot went on with a mission's order (a
  newly FINISHED action or a newly traversed node) after the server had sent that
  mission to another robot and could stop it: after the robot echoed the cancelOrder
  the server sent it, or, if none was sent, after its first state back. (What a robot
  does while it is unreachable is reported as `offline_actions`: no server can stop it.)
- A mission is *lost* when it is not `completed` at the end of the test.
"""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from dataclasses import dataclass, field

MISSION_ID_LEN = 36


def mission_of(order_id: str) -> str:
    """The mission an orderId belongs to (orders are named after their mission)."""
    return order_id[:MISSION_ID_LEN]


@dataclass
class OrderSent:
    at: float
    robot: str
    order_id: str
    update_id: int
    action_ids: frozenset[str]
    final_node: tuple[str, int]
    """The order's last node, horizon included: where the robot ends when it is done."""


@dataclass
class StateSeen:
    at: float
    robot: str
    order_id: str
    last_node: tuple[str, int]
    nodes_left: int
    released_left: int
    """Released nodes not yet traversed: 0 at the end or at the decision point."""
    finished: frozenset[str]
    action_ids: frozenset[str]
    """Every actionId in actionStates (instant actions included)."""


@dataclass
class Ledger:
    """The VDA 5050 traffic of a test run, by kind."""

    orders: list[OrderSent] = field(default_factory=list)
    states: list[StateSeen] = field(default_factory=list)
    instant: list[tuple[float, str, str, str]] = field(default_factory=list)
    """(time, robot, actionType, actionId) of every instant action sent."""
    connections: list[tuple[float, str, str]] = field(default_factory=list)
    """(time, robot, connectionState)."""

    @classmethod
    def read(cls, messages: list[tuple[float, str, bytes]]) -> Ledger:
        ledger = cls()
        for at, topic, payload in messages:
            parts = topic.split("/")
            if len(parts) != 5 or not payload:
                continue
            robot, kind = parts[3], parts[4]
            body = json.loads(payload)
            if kind == "order":
                ids = frozenset(
                    a["actionId"]
                    for element in (*body["nodes"], *body["edges"])
                    for a in element.get("actions", [])
                )
                last = body["nodes"][-1]
                ledger.orders.append(
                    OrderSent(
                        at,
                        robot,
                        body["orderId"],
                        body["orderUpdateId"],
                        ids,
                        (last["nodeId"], last["sequenceId"]),
                    )
                )
            elif kind == "state":
                finished = frozenset(
                    a["actionId"]
                    for a in body.get("actionStates", [])
                    if a["actionStatus"] == "FINISHED"
                )
                ledger.states.append(
                    StateSeen(
                        at,
                        robot,
                        body["orderId"],
                        (body["lastNodeId"], body["lastNodeSequenceId"]),
                        len(body.get("nodeStates", [])),
                        sum(1 for n in body.get("nodeStates", []) if n["released"]),
                        finished,
                        frozenset(a["actionId"] for a in body.get("actionStates", [])),
                    )
                )
            elif kind == "instantActions":
                for action in body["actions"]:
                    ledger.instant.append((at, robot, action["actionType"], action["actionId"]))
            elif kind == "connection":
                ledger.connections.append((at, robot, body["connectionState"]))
        return ledger

    # -- orders --------------------------------------------------------------------------

    def orders_of(self, mission_id: str) -> list[OrderSent]:
        return [o for o in self.orders if mission_of(o.order_id) == mission_id]

    def order_ids_sent(self, mission_id: str, *, before: float | None = None) -> set[str]:
        return {o.order_id for o in self.orders_of(mission_id) if before is None or o.at < before}

    def actions_of(self, robot: str, order_id: str) -> frozenset[str]:
        found: set[str] = set()
        for order in self.orders:
            if order.robot == robot and order.order_id == order_id:
                found |= order.action_ids
        return frozenset(found)

    # -- executions ----------------------------------------------------------------------

    def executions(self, mission_id: str) -> dict[tuple[str, str], frozenset[str]]:
        """(robot, orderId) → the order's actions that robot reported FINISHED."""
        done: dict[tuple[str, str], set[str]] = defaultdict(set)
        for state in self.states:
            if mission_of(state.order_id) != mission_id:
                continue
            actions = self.actions_of(state.robot, state.order_id)
            if actions:
                done[(state.robot, state.order_id)] |= state.finished & actions
        return {key: frozenset(ids) for key, ids in done.items()}

    def complete_executions(self, mission_id: str) -> int:
        """Executions that reached the end of their order with every action FINISHED."""
        complete = 0
        for (robot, order_id), done in self.executions(mission_id).items():
            ends = {
                o.final_node for o in self.orders if o.robot == robot and o.order_id == order_id
            }
            reached = any(
                s.robot == robot and s.order_id == order_id and s.last_node in ends
                for s in self.states
            )
            complete += int(reached and done == self.actions_of(robot, order_id))
        return complete

    def finished_on_robot(self, mission_id: str) -> bool:
        """The mission's one execution reached the end of its order on its robot."""
        return self.complete_executions(mission_id) == 1 and any(
            s.order_id == mission_id and s.nodes_left == 0 for s in self.states
        )

    def in_flight(self, mission_ids: list[str]) -> list[str]:
        """Missions whose robot's latest state shows their order not yet done."""
        last = {s.robot: s for s in self.states}
        return [
            m for m in mission_ids if any(s.order_id == m and s.nodes_left for s in last.values())
        ]

    def progress_after_handover(self, mission_id: str) -> int:
        """Progress reports on the mission's orders the server could have prevented."""
        count = 0
        orders = self.orders_of(mission_id)
        for robot in {o.robot for o in orders}:
            first = self._first(robot, orders)
            handed_over = [o.at for o in orders if o.robot != robot and o.at > first]
            if not handed_over:
                continue
            count += self._progress_after(robot, mission_id, min(handed_over))
        return count

    @staticmethod
    def _first(robot: str, orders: list[OrderSent]) -> float:
        return min(o.at for o in orders if o.robot == robot)

    def _progress_after(self, robot: str, mission_id: str, since: float) -> int:
        """Progress the robot reports on the mission after the server could stop it: after
        its robot echoed a cancelOrder sent after `since`, or, without one, after its
        first state following `since` (what it did while unreachable)."""
        held = {
            o.order_id
            for o in self.orders
            if o.robot == robot and mission_of(o.order_id) == mission_id and o.at <= since
        }
        # Orders of the mission given to this robot again later are a new execution.
        after = [s for s in self.states if s.robot == robot and s.order_id in held and s.at > since]
        cancels = {
            action_id
            for at, r, kind, action_id in self.instant
            if r == robot and kind == "cancelOrder" and at > since
        }
        start = 0
        if cancels:
            echoed = [i for i, s in enumerate(after) if s.action_ids & cancels]
            start = echoed[0] if echoed else len(after)
        count = 0
        for base, state in itertools.pairwise(after[start:]):
            ours = self.actions_of(robot, state.order_id)
            if (state.finished - base.finished) & ours or (
                state.order_id == base.order_id and state.last_node != base.last_node
            ):
                count += 1
        return count

    def offline_actions(self, mission_id: str, robot: str, since: float) -> int:
        """Actions the robot reports FINISHED in its first state after `since` that its last
        state before `since` did not show (done while the server could not reach it)."""
        states = [
            s for s in self.states if s.robot == robot and mission_of(s.order_id) == mission_id
        ]
        before = [s for s in states if s.at <= since]
        after = [s for s in states if s.at > since]
        if not after:
            return 0
        known = before[-1].finished if before else frozenset()
        return len((after[0].finished - known) & self.actions_of(robot, after[0].order_id))

    def executed_twice(self, mission_id: str) -> bool:
        return (
            self.complete_executions(mission_id) > 1 or self.progress_after_handover(mission_id) > 0
        )

"""Order execution: drive the released base, run actions, answer instant actions.

Implements VDA 5050 §6.6 (acceptance via `OrderBook`), §6.10.2 (traversal and action
triggering), §6.11/§6.12 (action states and blocking types) and §6.6.3 (cancelOrder).
Everything here is synchronous and polled by the agent's tick; the adapter never blocks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from missions.vda5050 import (
    Action,
    ActionState,
    ActionStatus,
    BlockingType,
    Edge,
    EdgeState,
    Error,
    ErrorLevel,
    ErrorReference,
    InstantActions,
    Node,
    NodeState,
    Order,
)
from robot_agent.actions import (
    INSTANT_HANDLED,
    ORDER_ACTIONS,
    ActionContext,
    ActionHandler,
    ActionParameterError,
)
from robot_agent.adapter import NavGoal, NavStatus
from robot_agent.orders import Decision, ErrorType, OrderBook, OrderRejected

log = logging.getLogger(__name__)

_DONE = frozenset({ActionStatus.FINISHED, ActionStatus.FAILED})
HOLD_ON_FAILURE = frozenset({"openDoor", "callLift", "guideWaitForPerson"})
"""Actions whose failure means driving on is unsafe or pointless (a shut door, no lift, no
visitor): the vehicle holds at that node until master control sends an update or cancels."""
_KEEP_INSTANT_RESULTS = 50


@dataclass
class ActionRun:
    """One action the vehicle knows of, with its status (an entry of state.actionStates)."""

    action: Action
    handler: ActionHandler | None
    status: ActionStatus = ActionStatus.WAITING
    node_sequence_id: int | None = None
    """Node (even) or edge (odd) sequenceId the action belongs to; None for instant actions."""
    result: str | None = None

    @property
    def done(self) -> bool:
        """FINISHED or FAILED."""
        return self.status in _DONE

    @property
    def active(self) -> bool:
        """Triggered and not done."""
        return self.status in (ActionStatus.INITIALIZING, ActionStatus.RUNNING, ActionStatus.PAUSED)

    def state(self) -> ActionState:
        """The VDA 5050 actionState."""
        # PAUSED is in the spec's table 2 (§6.11) but not in the official 2.1.0
        # state.schema enum; a paused action is reported RUNNING, with `paused: true` on
        # the vehicle, so every state we send validates against the schema.
        status = ActionStatus.RUNNING if self.status is ActionStatus.PAUSED else self.status
        return ActionState(
            action_id=self.action.action_id,
            action_type=self.action.action_type,
            action_description=self.action.action_description,
            action_status=status,
            result_description=self.result,
        )


@dataclass
class ExecutorErrors:
    """Warnings to report in state.errors, with how long they stay."""

    order: list[Error] = field(default_factory=list)
    """Order rejections: reported until a new order is accepted (§6.6.4)."""
    findings: list[Error] = field(default_factory=list)
    """Patrol anomalies and action failures of the current order."""
    vehicle: list[Error] = field(default_factory=list)
    """Navigation failures; cleared by the next accepted order."""
    safety: list[Error] = field(default_factory=list)
    """The pressed emergency stop (FATAL); gone once it is released."""

    def all(self) -> list[Error]:
        """Every error to report now."""
        return [*self.order, *self.findings, *self.vehicle, *self.safety]


def make_error(error_type: str, description: str, refs: dict[str, str], level: ErrorLevel) -> Error:
    return Error(
        error_type=error_type,
        error_description=description,
        error_level=level,
        error_references=[
            ErrorReference(reference_key=k, reference_value=v) for k, v in refs.items()
        ],
    )


class OrderExecutor:
    """Holds the order, drives through the adapter, runs actions; feeds the state message."""

    def __init__(
        self,
        ctx: ActionContext,
        *,
        on_state_request: Callable[[], None] = lambda: None,
        on_factsheet_request: Callable[[], None] = lambda: None,
    ) -> None:
        self.ctx = ctx
        self.adapter = ctx.adapter
        self.book = OrderBook()
        self.runs: dict[str, ActionRun] = {}
        self.errors = ExecutorErrors()
        self.paused = False
        self.changed = False
        """Set whenever something the state message reports has changed."""
        self._nav_target: Node | None = None
        self._held = False
        self._on_state_request = on_state_request
        self._on_factsheet_request = on_factsheet_request

    # what the state reports ------------------------------------------------------------

    @property
    def busy(self) -> bool:
        """Figure 8 step 3: nodes left, or order actions neither FINISHED nor FAILED."""
        return self.book.has_nodes or any(
            not r.done for r in self.runs.values() if r.node_sequence_id is not None
        )

    def node_states(self) -> list[NodeState]:
        """Nodes not yet traversed."""
        return [
            NodeState(
                node_id=n.node_id,
                sequence_id=n.sequence_id,
                node_description=n.node_description,
                released=n.released,
                node_position=n.node_position,
            )
            for n in self.book.nodes
        ]

    def edge_states(self) -> list[EdgeState]:
        """Edges not yet left."""
        return [
            EdgeState(
                edge_id=e.edge_id,
                sequence_id=e.sequence_id,
                edge_description=e.edge_description,
                released=e.released,
            )
            for e in self.book.edges
        ]

    def action_states(self) -> list[ActionState]:
        """Every action of the order and every recent instant action."""
        return [run.state() for run in self.runs.values()]

    # orders ----------------------------------------------------------------------------

    def receive_order(self, order: Order) -> Decision | None:
        """Take an order or update, or report why not (§6.6.4). Returns the decision."""
        pose = self.adapter.read_pose()
        try:
            decision = self.book.decide(order, (pose.x, pose.y, pose.map_id), self.busy)
            new_runs = {} if decision is Decision.IGNORE else self._prepare_runs(order, decision)
            replaced = self._horizon_sequence_ids() if decision is Decision.UPDATE else set()
        except OrderRejected as rejected:
            log.warning("order %s/%s rejected: %s", order.order_id, order.order_update_id, rejected)
            self.errors.order = [
                make_error(
                    rejected.error_type,
                    rejected.description,
                    rejected.references,
                    ErrorLevel.WARNING,
                )
            ]
            self.changed = True
            return None
        if decision is Decision.IGNORE:
            return decision
        self.errors.order = []
        self._held = False
        if decision is Decision.NEW:
            self.errors.findings, self.errors.vehicle = [], []
            self.runs = {k: r for k, r in self.runs.items() if r.node_sequence_id is None}
            self.book.take_new(order)
        else:
            self.runs = {k: r for k, r in self.runs.items() if r.node_sequence_id not in replaced}
            self.book.take_update(order)
        self.runs.update(new_runs)
        self.changed = True
        if decision is Decision.NEW:
            # §6.6.1: the first node is where the vehicle stands: traversed at once.
            self._arrive(self.book.nodes[0])
        return decision

    def _horizon_sequence_ids(self) -> set[int]:
        """Unreleased nodes and edges: an update replaces them (§6.6.2)."""
        ids = {n.sequence_id for n in self.book.nodes if not n.released}
        return ids | {e.sequence_id for e in self.book.edges if not e.released}

    def _prepare_runs(self, order: Order, decision: Decision) -> dict[str, ActionRun]:
        """Action runs for what the order adds; unknown actions or bad parameters refuse it."""
        nodes = order.nodes if decision is Decision.NEW else order.nodes[1:]
        # An update may resend horizon nodes with their actions: those runs are replaced,
        # so their actionIds are free again.
        replaced = self._horizon_sequence_ids() if decision is Decision.UPDATE else set()
        taken = {k for k, r in self.runs.items() if r.node_sequence_id not in replaced}
        runs: dict[str, ActionRun] = {}
        elements: list[Node | Edge] = [*nodes, *order.edges]
        for element in elements:
            if isinstance(element, Edge) and element.trajectory is not None:
                raise OrderRejected(
                    ErrorType.ORDER,
                    "this vehicle navigates freely and cannot follow a trajectory",
                    {"orderId": order.order_id, "edgeId": element.edge_id},
                )
            for action in element.actions:
                if action.action_id in taken or action.action_id in runs:
                    raise OrderRejected(
                        ErrorType.VALIDATION,
                        f"actionId {action.action_id} is already in use",
                        {"orderId": order.order_id, "actionId": action.action_id},
                    )
                runs[action.action_id] = ActionRun(
                    action=action,
                    handler=self._make_handler(action, order.order_id),
                    node_sequence_id=element.sequence_id,
                )
        return runs

    def _make_handler(self, action: Action, order_id: str) -> ActionHandler:
        factory = ORDER_ACTIONS.get(action.action_type)
        if factory is None:
            raise OrderRejected(
                ErrorType.ORDER,
                f"action {action.action_type!r} is not supported by this vehicle",
                {"orderId": order_id, "actionId": action.action_id},
            )
        try:
            return factory(action, self.ctx)
        except ActionParameterError as exc:
            raise OrderRejected(
                ErrorType.ORDER,
                str(exc),
                {"orderId": order_id, "actionId": action.action_id, "parameter": exc.key},
            ) from exc

    # instant actions -------------------------------------------------------------------

    def receive_instant_actions(self, message: InstantActions) -> None:
        """Carry out each instant action (§6.9); a repeated actionId is ignored."""
        for action in message.actions:
            if action.action_id in self.runs:
                continue
            run = ActionRun(action=action, handler=None)
            self.runs[action.action_id] = run
            self._run_instant(run)
            self.changed = True
        self._prune_instant_results()

    def _run_instant(self, run: ActionRun) -> None:
        kind = run.action.action_type
        if kind == "startPause":
            self.set_paused(True)
            run.status = ActionStatus.FINISHED
        elif kind == "stopPause":
            self.set_paused(False)
            run.status = ActionStatus.FINISHED
        elif kind == "cancelOrder":
            self._cancel_order(run)
        elif kind == "stateRequest":
            self._on_state_request()
            run.status = ActionStatus.FINISHED
        elif kind == "factsheetRequest":
            self._on_factsheet_request()
            run.status = ActionStatus.FINISHED
        elif kind in INSTANT_HANDLED:
            try:
                run.handler = ORDER_ACTIONS[kind](run.action, self.ctx)
            except ActionParameterError as exc:
                run.status, run.result = ActionStatus.FAILED, str(exc)
                return
            self._start(run)
        else:
            run.status, run.result = ActionStatus.FAILED, f"{kind} is not an instant action here"

    def _prune_instant_results(self) -> None:
        instant_done = [k for k, r in self.runs.items() if r.node_sequence_id is None and r.done]
        for key in instant_done[:-_KEEP_INSTANT_RESULTS]:
            del self.runs[key]

    def set_paused(self, paused: bool) -> None:
        """startPause / stopPause (§6.8.1): hold driving and actions, or carry on."""
        if paused == self.paused:
            return
        self.paused = paused
        self.adapter.set_paused(paused or bool(self.errors.safety))
        for run in self.runs.values():
            if run.handler is None or not run.active:
                continue
            if paused:
                run.handler.pause()
                run.status = ActionStatus.PAUSED
            else:
                run.handler.resume()
                run.status = ActionStatus.RUNNING
        self.changed = True

    def _cancel_order(self, run: ActionRun) -> None:
        # §6.6.3.2: nothing to cancel → FAILED and a noOrderToCancel warning.
        if not self.busy:
            run.status = ActionStatus.FAILED
            self.errors.vehicle.append(
                make_error(
                    ErrorType.NO_ORDER_TO_CANCEL,
                    "cancelOrder received without an order",
                    {"actionId": run.action.action_id},
                    ErrorLevel.WARNING,
                )
            )
            return
        self.adapter.cancel_navigation()
        self._nav_target = None
        for other in self.runs.values():
            if other.node_sequence_id is None or other.done:
                continue
            if other.active and other.handler is not None:
                other.handler.cancel()
                other.result = other.handler.result_description
            other.status = ActionStatus.FAILED
        self.book.cancel()
        if self.paused:
            self.set_paused(False)
        # Our handlers stop at once, so the cancellation is complete (§6.6.3: FINISHED
        # once all movement and actions have stopped). orderId and orderUpdateId stay.
        run.status = ActionStatus.FINISHED

    # the tick --------------------------------------------------------------------------

    def tick(self) -> None:
        """Advance actions and driving by whatever happened since the last tick."""
        for run in list(self.runs.values()):
            if run.active and run.handler is not None:
                self._update(run, run.handler.tick())
        if self._emergency_stopped() or self.paused:
            return
        self._start_node_actions()
        if self._nav_target is not None:
            self._follow_navigation(self._nav_target)
        elif self._may_drive():
            self._drive_next()

    def _emergency_stopped(self) -> bool:
        """A pressed emergency stop holds the vehicle where it is, keeps the order and is
        reported as a FATAL error (someone has to release it); released, it carries on."""
        pressed = self.adapter.emergency_stop_active()
        if pressed == bool(self.errors.safety):
            return pressed
        self.errors.safety = (
            [make_error("emergencyStop", "emergency stop pressed", {}, ErrorLevel.FATAL)]
            if pressed
            else []
        )
        self.adapter.set_paused(pressed or self.paused)
        self.changed = True
        return pressed

    def _update(self, run: ActionRun, status: ActionStatus) -> None:
        if status == run.status:
            return
        run.status = status
        handler = run.handler
        if (
            status is ActionStatus.FAILED
            and run.action.action_type in HOLD_ON_FAILURE
            and run.node_sequence_id is not None
        ):
            self._held = True
        if run.done and handler is not None:
            run.result = handler.result_description
            for finding in handler.findings:
                self.errors.findings.append(
                    make_error(
                        "patrolAnomaly",
                        f"{finding.get('check')} failed",
                        {
                            "actionId": run.action.action_id,
                            "check": str(finding.get("check")),
                            "value": str(finding.get("value")),
                        },
                        ErrorLevel.WARNING,
                    )
                )
        self.changed = True

    def _start(self, run: ActionRun) -> None:
        if run.handler is None:
            return
        run.status = ActionStatus.RUNNING
        self._update(run, run.handler.start())
        self.changed = True

    def _runs_at(self, sequence_id: int) -> list[ActionRun]:
        return [r for r in self.runs.values() if r.node_sequence_id == sequence_id]

    def _start_node_actions(self) -> None:
        """§6.12 / figure 17: actions of the node just traversed, in list order."""
        if self.book.last_node is None:
            return
        runs = self._runs_at(self.book.last_node_sequence_id)
        for run in runs:
            if run.status is not ActionStatus.WAITING:
                if run.action.blocking_type is BlockingType.HARD and run.active:
                    return  # nothing may run beside a HARD action
                continue
            if run.action.blocking_type is BlockingType.HARD:
                if any(r.active for r in runs):
                    return
                self._start(run)
                return
            self._start(run)

    def _blocking(self) -> bool:
        """True while an action that forbids driving is pending or running here."""
        here = self.book.last_node_sequence_id if self.book.last_node else None
        for run in self.runs.values():
            if run.done or run.action.blocking_type is BlockingType.NONE:
                continue
            if run.node_sequence_id is None and run.active:
                return True
            if here is not None and run.node_sequence_id == here:
                return True
        return False

    def _may_drive(self) -> bool:
        return not self._held and self.book.next_node() is not None and not self._blocking()

    def _drive_next(self) -> None:
        node = self.book.next_node()
        if node is None:
            return
        edge = self.book.edge_to(node)
        if edge is not None:
            if not edge.released:
                return
            # Entering the edge triggers its actions (§6.10.2); SOFT/HARD ones hold the
            # vehicle until they finish.
            for run in self._runs_at(edge.sequence_id):
                if run.status is ActionStatus.WAITING:
                    self._start(run)
            if any(
                r.active and r.action.blocking_type is not BlockingType.NONE
                for r in self._runs_at(edge.sequence_id)
            ):
                return
        position = node.node_position
        if position is None:
            self._arrive(node)  # a node without position is passed where the vehicle is
            return
        self.adapter.navigate_to(
            NavGoal(
                node_id=node.node_id,
                x=position.x,
                y=position.y,
                map_id=position.map_id,
                theta=position.theta,
                max_speed=edge.max_speed if edge is not None else None,
                allowed_deviation_xy=position.allowed_deviation_xy or 0.25,
            )
        )
        self._nav_target = node
        self.changed = True

    def _follow_navigation(self, node: Node) -> None:
        status = self.adapter.navigation_status()
        if status is NavStatus.SUCCEEDED:
            self._nav_target = None
            self._arrive(node)
        elif status in (NavStatus.FAILED, NavStatus.IDLE):
            self._nav_target = None
            self.errors.vehicle.append(
                make_error(
                    "navigationFailed",
                    f"could not reach node {node.node_id}",
                    {"nodeId": node.node_id, "orderId": self.book.order_id},
                    ErrorLevel.FATAL,
                )
            )
            self.book.drop_all()
            self.changed = True

    def _arrive(self, node: Node) -> None:
        left = self.book.traverse(node)
        if left is not None:
            # Leaving an edge finishes the actions that were active on it (§6.10.2).
            for run in self._runs_at(left.sequence_id):
                if run.active and run.handler is not None:
                    run.handler.cancel()
                    run.result = run.handler.result_description
                    run.status = ActionStatus.FINISHED
        self.changed = True
        self._start_node_actions()

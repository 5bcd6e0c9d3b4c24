"""Orders and instant actions out, with a bounded resend until the robot's state echoes them.

VDA 5050 §6.2 runs `order` and `instantActions` at QoS 0, so an order can be lost on the
way. We publish at QoS 1 (a robot that subscribed at QoS 0 still gets QoS 0, which the spec
allows) and watch the robot's state: an order counts as received once state.orderId is its
orderId and state.orderUpdateId has reached its orderUpdateId (§6.6.2); an instant action
once its actionId appears in state.actionStates (§6.9). Until then the SAME message (same
orderId/orderUpdateId or actionIds, new headerId and timestamp) is sent again every
`echo_timeout_s`, at most `max_tries` times in all; then the publisher gives up and says so
through `on_gave_up`, which the server turns into an alarm. A rejection the robot reports
in state.errors (§6.6.4) stops the resending at once and goes to `on_rejected`.

Everything here runs on the event loop: `send_*` from routes and the dispatcher, the
echo check from the live fleet's STATE listener, the resend timer as a task (`run`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Generic, Protocol, TypeVar

from fleet_server.fleet.live_state import LiveFleet, RobotEvent, RobotKey, RobotLive
from missions.vda5050 import (
    PROTOCOL_VERSION,
    Action,
    BlockingType,
    Error,
    HeaderCounter,
    InstantActions,
    Order,
    State,
    TopicKind,
    encode,
    topic_for,
    utc_timestamp,
)

log = logging.getLogger(__name__)

DEFAULT_ECHO_TIMEOUT_S = 5.0
"""A robot publishes a state on receiving an order (§6.10); 5 s leaves room for a busy link."""
DEFAULT_MAX_TRIES = 3
"""Sends in all, the first included."""
PUBLISH_QOS = 1

ORDER_REJECTION_TYPES = frozenset(
    {"orderUpdateError", "validationError", "noRouteError", "orderError"}
)
"""errorTypes with which a vehicle refuses an order (§6.6.4)."""

Message = Order | InstantActions
GaveUpCallback = Callable[[RobotKey, Message, str], None]
RejectedCallback = Callable[[RobotKey, Message, Error], None]
_ErrorKey = tuple[str, tuple[tuple[str, str], ...]]
M = TypeVar("M", Order, InstantActions)


def instant_action(robot: RobotKey, action_type: str, action_id: str) -> InstantActions:
    """An instantActions message of one HARD-blocking action for ``robot``.

    The header is a placeholder until :meth:`OrderPublisher.send_instant_actions` fills it in.
    """
    return InstantActions(
        header_id=0,
        timestamp=utc_timestamp(),
        version=PROTOCOL_VERSION,
        manufacturer=robot[0],
        serial_number=robot[1],
        actions=[
            Action(action_type=action_type, action_id=action_id, blocking_type=BlockingType.HARD)
        ],
    )


class Publisher(Protocol):
    """What the order publisher needs of the MQTT link."""

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        """Queue one message for the broker."""


@dataclass
class OrderCounters:
    """What the publisher has done, for /metrics and tests."""

    sent: int = 0
    resent: int = 0
    echoed: int = 0
    rejected: int = 0
    gave_up: int = 0
    superseded: int = 0
    withheld: int = 0
    """Updates of a withdrawn order that were not sent."""


@dataclass(slots=True)
class PendingMessage(Generic[M]):
    """An order or instant-actions message not yet echoed by the robot's state."""

    robot: RobotKey
    message: M
    tries: int
    first_sent: float
    last_sent: float
    # Errors the robot already reported before the first send: §6.6.4 keeps a rejection
    # warning up "until the vehicle has accepted a new order", so an old one may still be
    # there and must not be read as a rejection of this message.
    baseline_errors: frozenset[_ErrorKey]
    # Instant actions only: actionIds not yet seen in state.actionStates.
    awaiting_actions: set[str] = field(default_factory=set)


class OrderPublisher:
    """Sends orders and instant actions to robots and resends them until their state echoes."""

    def __init__(
        self,
        link: Publisher,
        live: LiveFleet,
        interface: str,
        *,
        echo_timeout_s: float = DEFAULT_ECHO_TIMEOUT_S,
        max_tries: int = DEFAULT_MAX_TRIES,
        on_gave_up: GaveUpCallback | None = None,
        on_rejected: RejectedCallback | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if echo_timeout_s <= 0:
            raise ValueError(f"echo_timeout_s must be positive, got {echo_timeout_s}")
        if max_tries < 1:
            raise ValueError(f"max_tries must be at least 1, got {max_tries}")
        self._link = link
        self._live = live
        self.interface = interface
        self.echo_timeout_s = echo_timeout_s
        self.max_tries = max_tries
        self._on_gave_up = on_gave_up
        self._on_rejected = on_rejected
        self._monotonic = monotonic
        self.counters = OrderCounters()
        self._headers: dict[RobotKey, HeaderCounter] = {}
        self._orders: dict[RobotKey, PendingMessage[Order]] = {}
        self._instant: dict[RobotKey, list[PendingMessage[InstantActions]]] = {}
        self._withdrawn: set[tuple[RobotKey, str]] = set()
        """Orders taken from their robot: no update of them goes out any more."""
        self._remove_listener: Callable[[], None] | None = live.add_listener(self._on_robot_event)

    # sending ---------------------------------------------------------------------------

    def send_order(self, manufacturer: str, serial: str, order: Order) -> Order:
        """Publish an order (or order update) and track it until the robot's state echoes it.

        The header is filled in here (headerId per robot and topic, timestamp, version,
        identity); a pending order for the same robot is superseded. Returns the message
        as first sent. Raises ValueError naming the part of the robot's identity that
        cannot appear in a topic.
        """
        key = (manufacturer, serial)
        if (key, order.order_id) in self._withdrawn:
            if order.order_update_id > 0:
                # VDA 5050 §6.6.2 lets a robot stitch an update onto an order it still
                # knows; one whose mission went to another robot must not go on.
                self.counters.withheld += 1
                log.warning(
                    "not sending update %s of withdrawn order %s to %s/%s",
                    order.order_update_id,
                    order.order_id,
                    manufacturer,
                    serial,
                )
                return order
            self._withdrawn.discard((key, order.order_id))  # dispatched to it anew
        topic = topic_for(self.interface, manufacturer, serial, TopicKind.ORDER)
        sent = self._publish(key, topic, TopicKind.ORDER, order)
        if self._orders.pop(key, None) is not None:
            self.counters.superseded += 1
        now = self._monotonic()
        self._orders[key] = PendingMessage(
            robot=key,
            message=sent,
            tries=1,
            first_sent=now,
            last_sent=now,
            baseline_errors=self._current_errors(key),
        )
        return sent

    def send_instant_actions(
        self, manufacturer: str, serial: str, msg: InstantActions
    ) -> InstantActions:
        """Publish instant actions and track each actionId until state.actionStates shows it.

        Several instant-actions messages may be pending for one robot at once; none
        supersedes another. Returns the message as first sent.
        """
        key = (manufacturer, serial)
        topic = topic_for(self.interface, manufacturer, serial, TopicKind.INSTANT_ACTIONS)
        sent = self._publish(key, topic, TopicKind.INSTANT_ACTIONS, msg)
        awaiting = {action.action_id for action in msg.actions}
        if awaiting:
            now = self._monotonic()
            self._instant.setdefault(key, []).append(
                PendingMessage(
                    robot=key,
                    message=sent,
                    tries=1,
                    first_sent=now,
                    last_sent=now,
                    baseline_errors=self._current_errors(key),
                    awaiting_actions=awaiting,
                )
            )
        return sent

    def _publish(self, key: RobotKey, topic: str, kind: TopicKind, message: M) -> M:
        headers = self._headers.get(key)
        if headers is None:
            headers = self._headers[key] = HeaderCounter()
        stamped = message.model_copy(
            update={
                "header_id": headers.next(kind),
                "timestamp": datetime.now(UTC),
                "version": PROTOCOL_VERSION,
                "manufacturer": key[0],
                "serial_number": key[1],
            }
        )
        self._link.publish(topic, encode(stamped), qos=PUBLISH_QOS)
        self.counters.sent += 1
        return stamped

    # what is still open ----------------------------------------------------------------

    def withdraw_order(self, manufacturer: str, serial: str, order_id: str) -> None:
        """The robot's order `order_id` is taken from it (its mission went elsewhere): it is
        no longer resent, and updates of it are not sent (they would set the robot going
        again) until the order is sent to this robot anew (orderUpdateId 0)."""
        key = (manufacturer, serial)
        self._withdrawn.add((key, order_id))
        pending = self._orders.get(key)
        if pending is not None and pending.message.order_id == order_id:
            del self._orders[key]

    def pending_order(self, manufacturer: str, serial: str) -> PendingMessage[Order] | None:
        """The order still waiting for the robot's echo, if any."""
        return self._orders.get((manufacturer, serial))

    def pending_instant_actions(
        self, manufacturer: str, serial: str
    ) -> list[PendingMessage[InstantActions]]:
        """Instant-actions messages with actionIds the robot has not yet echoed."""
        return list(self._instant.get((manufacturer, serial), ()))

    # echoes and rejections, from the robot's state -------------------------------------

    def _on_robot_event(self, event: str, robot: RobotLive) -> None:
        if event != RobotEvent.STATE or robot.state is None:
            return
        key = robot.key
        if key in self._orders:
            self._check_order(key, robot.state)
        if key in self._instant:
            self._check_instant_actions(key, robot.state)

    def _check_order(self, key: RobotKey, state: State) -> None:
        pending = self._orders[key]
        order = pending.message
        error = _order_rejection(order, state, pending.baseline_errors)
        if error is not None:
            del self._orders[key]
            self.counters.rejected += 1
            self._notify_rejected(key, order, error)
        elif state.order_id == order.order_id and state.order_update_id >= order.order_update_id:
            del self._orders[key]
            self.counters.echoed += 1

    def _check_instant_actions(self, key: RobotKey, state: State) -> None:
        seen = {a.action_id for a in state.action_states}
        still_open = []
        rejections: list[tuple[InstantActions, Error]] = []
        for pending in self._instant[key]:
            for action_id, error in _action_rejections(pending, state):
                pending.awaiting_actions.discard(action_id)
                self.counters.rejected += 1
                rejections.append((pending.message, error))
            echoed = pending.awaiting_actions & seen
            if echoed:
                pending.awaiting_actions -= echoed
                if not pending.awaiting_actions:
                    self.counters.echoed += 1
            if pending.awaiting_actions:
                still_open.append(pending)
        if still_open:
            self._instant[key] = still_open
        else:
            del self._instant[key]
        # Callbacks last: one that sends a new message must find the bookkeeping settled.
        for message, error in rejections:
            self._notify_rejected(key, message, error)

    def _current_errors(self, key: RobotKey) -> frozenset[_ErrorKey]:
        robot = self._live.get(*key)
        if robot is None or robot.state is None:
            return frozenset()
        return frozenset(_error_key(error) for error in robot.state.errors)

    # the resend timer ------------------------------------------------------------------

    def resend_due(self, now: float | None = None) -> int:
        """Resend every message whose echo is overdue, or give up on it; returns resends."""
        if now is None:
            now = self._monotonic()
        resent = 0
        given_up: list[PendingMessage[Order] | PendingMessage[InstantActions]] = []
        for key, pending in list(self._orders.items()):
            if now - pending.last_sent < self.echo_timeout_s:
                continue
            if pending.tries >= self.max_tries:
                del self._orders[key]
                given_up.append(pending)
            else:
                self._resend(pending, TopicKind.ORDER, pending.message, now)
                resent += 1
        for key, messages in list(self._instant.items()):
            still_open = []
            for waiting in messages:
                if now - waiting.last_sent < self.echo_timeout_s:
                    still_open.append(waiting)
                elif waiting.tries >= self.max_tries:
                    given_up.append(waiting)
                else:
                    # Only the actions not yet echoed: a resent action that already ran
                    # would run twice.
                    remaining = [
                        a
                        for a in waiting.message.actions
                        if a.action_id in waiting.awaiting_actions
                    ]
                    message = waiting.message.model_copy(update={"actions": remaining})
                    self._resend(waiting, TopicKind.INSTANT_ACTIONS, message, now)
                    still_open.append(waiting)
                    resent += 1
            if still_open:
                self._instant[key] = still_open
            else:
                del self._instant[key]
        # Callbacks last: one that sends a new message must find the bookkeeping settled.
        for overdue in given_up:
            self._give_up(overdue, now)
        return resent

    def _resend(self, pending: PendingMessage[M], kind: TopicKind, message: M, now: float) -> None:
        key = pending.robot
        topic = topic_for(self.interface, key[0], key[1], kind)
        pending.message = self._publish(key, topic, kind, message)
        pending.tries += 1
        pending.last_sent = now
        self.counters.resent += 1
        log.info(
            "resent %s to %s/%s (try %s of %s)", kind, key[0], key[1], pending.tries, self.max_tries
        )

    def _give_up(
        self, pending: PendingMessage[Order] | PendingMessage[InstantActions], now: float
    ) -> None:
        self.counters.gave_up += 1
        reason = (
            f"no echo in the robot's state after {pending.tries} tries "
            f"over {now - pending.first_sent:.1f} s"
        )
        key = pending.robot
        log.warning("gave up sending to %s/%s: %s", key[0], key[1], reason)
        if self._on_gave_up is not None:
            try:
                self._on_gave_up(key, pending.message, reason)
            except Exception:
                log.exception("on_gave_up callback failed for %s/%s", key[0], key[1])

    def _notify_rejected(self, key: RobotKey, message: Message, error: Error) -> None:
        log.warning(
            "robot %s/%s rejected a message: %s: %s",
            key[0],
            key[1],
            error.error_type,
            error.error_description,
        )
        if self._on_rejected is not None:
            try:
                self._on_rejected(key, message, error)
            except Exception:
                log.exception("on_rejected callback failed for %s/%s", key[0], key[1])

    async def run(self, tick_s: float | None = None) -> None:
        """The resend timer: check for overdue echoes every tick until cancelled."""
        if tick_s is None:
            tick_s = min(0.5, self.echo_timeout_s / 5)
        while True:
            await asyncio.sleep(tick_s)
            self.resend_due()

    def close(self) -> None:
        """Stop listening to the live fleet; pending messages are no longer resent."""
        if self._remove_listener is not None:
            self._remove_listener()
            self._remove_listener = None
        self._orders.clear()
        self._instant.clear()


def _error_key(error: Error) -> _ErrorKey:
    refs = tuple(sorted((r.reference_key, r.reference_value) for r in error.error_references or ()))
    return (error.error_type, refs)


def _references(error: Error) -> dict[str, str]:
    return {r.reference_key: r.reference_value for r in error.error_references or ()}


def _order_rejection(order: Order, state: State, baseline: frozenset[_ErrorKey]) -> Error | None:
    """A new error in state refusing this order (§6.6.4, §7.1 references), if any."""
    for error in state.errors:
        if error.error_type not in ORDER_REJECTION_TYPES:
            continue
        refs = _references(error)
        if refs.get("orderId") != order.order_id:
            continue
        # §7.1: orderUpdateId is referenced when an update caused the error; one naming
        # another update of this order is about that update, not this one.
        update = refs.get("orderUpdateId")
        if update is not None and update != str(order.order_update_id):
            continue
        if _error_key(error) not in baseline:
            return error
    return None


def _action_rejections(
    pending: PendingMessage[InstantActions], state: State
) -> list[tuple[str, Error]]:
    """New errors in state that name an awaited actionId (§7.1: actionId reference)."""
    found: dict[str, Error] = {}
    for error in state.errors:
        action_id = _references(error).get("actionId")
        if (
            action_id is not None
            and action_id in pending.awaiting_actions
            and action_id not in found
            and _error_key(error) not in pending.baseline_errors
        ):
            found[action_id] = error
    return list(found.items())

"""The onboard agent: reports the robot to the fleet server over VDA 5050.

State goes out when something a dispatcher cares about changes and at least every
`state_interval_s`; visualization (pose only) at its own rate (VDA 5050 §6.10, §6.16).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from pydantic import ValidationError

from missions.vda5050 import (
    AgvPosition,
    BatteryState,
    ErrorLevel,
    EStop,
    OperatingMode,
    SafetyState,
    State,
    TopicKind,
    Velocity,
    Visualization,
    decode_instant_actions,
    decode_order,
    encode,
    utc_timestamp,
)
from missions.vda5050.protocol import PROTOCOL_VERSION
from robot_agent.actions import ActionContext
from robot_agent.adapter import PlatformAdapter
from robot_agent.config import AgentConfig
from robot_agent.executor import OrderExecutor, make_error
from robot_agent.factsheet import build_factsheet
from robot_agent.link import VdaLink
from robot_agent.orders import ErrorType

log = logging.getLogger(__name__)

TICK_S = 0.1


class Agent:
    """One robot's VDA 5050 client over one platform adapter."""

    def __init__(
        self,
        config: AgentConfig,
        adapter: PlatformAdapter,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.adapter = adapter
        self._monotonic = monotonic
        self._link: VdaLink | None = None
        self._last_state_at = float("-inf")
        self._last_visualization_at = float("-inf")
        self._last_fingerprint: tuple[object, ...] | None = None
        self._state_requested = False
        self.operating_mode = OperatingMode.AUTOMATIC
        self.executor = OrderExecutor(
            ActionContext(
                adapter=adapter,
                monotonic=monotonic,
                uv_irradiance_at_1m_mw_cm2=config.robot.uv_irradiance_at_1m_mw_cm2,
                spray_rate_ml_s=config.robot.spray_rate_ml_s,
            ),
            on_state_request=self._request_state,
            on_factsheet_request=self._request_factsheet,
        )
        self._factsheet_requested = False

    @property
    def link(self) -> VdaLink:
        """The MQTT link (only while running)."""
        if self._link is None:
            raise RuntimeError("agent is not running")
        return self._link

    async def run(self, stop: asyncio.Event) -> None:
        """Connect, report until `stop` is set, then say OFFLINE and disconnect."""
        loop = asyncio.get_running_loop()
        self._link = VdaLink(self.config, loop, self._on_inbound, self._on_connected)
        self._link.start()
        try:
            while not stop.is_set():
                self.tick()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), TICK_S)
        finally:
            await asyncio.to_thread(self._link.stop)

    def tick(self) -> None:
        """Publish whatever is due now."""
        now = self._monotonic()
        self.executor.tick()
        if self.executor.changed:
            self._state_requested = True
            self.executor.changed = False
        state = self.build_state()
        fingerprint = self._fingerprint(state)
        due = now - self._last_state_at >= self.config.state_interval_s
        if (
            due or fingerprint != self._last_fingerprint or self._state_requested
        ) and self._publish_state(state):
            self._last_state_at = now
            self._last_fingerprint = fingerprint
            self._state_requested = False
        if self._factsheet_requested and self.link.connected:
            factsheet = build_factsheet(self.config, self.link.next_header(TopicKind.FACTSHEET))
            if self.link.publish(TopicKind.FACTSHEET, encode(factsheet)):
                self._factsheet_requested = False
        vis_due = now - self._last_visualization_at >= self.config.visualization_interval_s
        if (
            vis_due
            and self.link.connected
            and self.link.publish(TopicKind.VISUALIZATION, encode(self.build_visualization()))
        ):
            self._last_visualization_at = now

    def _publish_state(self, state: State) -> bool:
        # The headerId is taken only for a message that is sent (VDA 5050 §6.4: it
        # increments by one per message on the topic).
        if not self.link.connected:
            return False
        numbered = state.model_copy(update={"header_id": self.link.next_header(TopicKind.STATE)})
        return self.link.publish(TopicKind.STATE, encode(numbered))

    def _request_state(self) -> None:
        self._state_requested = True

    def _request_factsheet(self) -> None:
        self._factsheet_requested = True

    def _on_connected(self) -> None:
        # VDA 5050 §6.14: after (re)connecting, publish a full state at once; the
        # factsheet tells the server what this robot can do.
        self._state_requested = True
        self._factsheet_requested = True

    def _on_inbound(self, kind: TopicKind, payload: bytes) -> None:
        try:
            if kind == TopicKind.ORDER:
                order = decode_order(payload)
                if self._for_me(order.manufacturer, order.serial_number):
                    self.executor.receive_order(order)
            elif kind == TopicKind.INSTANT_ACTIONS:
                actions = decode_instant_actions(payload)
                if self._for_me(actions.manufacturer, actions.serial_number):
                    self.executor.receive_instant_actions(actions)
        except ValidationError as exc:
            # §6.6.4.1: a malformed order is not taken over; validationError is reported
            # until a new order is accepted.
            fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors()[:5])
            self.executor.errors.order = [
                make_error(
                    ErrorType.VALIDATION,
                    f"malformed {kind}: {fields}",
                    {"topic": kind},
                    ErrorLevel.WARNING,
                )
            ]
            self.executor.changed = True
        self.tick()

    def _for_me(self, manufacturer: str, serial_number: str) -> bool:
        return (manufacturer, serial_number) == (
            self.config.manufacturer,
            self.config.serial_number,
        )

    def _position(self) -> AgvPosition:
        pose = self.adapter.read_pose()
        return AgvPosition(
            x=pose.x,
            y=pose.y,
            theta=pose.theta,
            map_id=pose.map_id,
            position_initialized=pose.initialized,
        )

    def _velocity(self) -> Velocity:
        vel = self.adapter.read_velocity()
        return Velocity(vx=vel.vx, vy=vel.vy, omega=vel.omega)

    def build_state(self) -> State:
        """The robot's full VDA 5050 state now (headerId 0 until it is sent)."""
        battery = self.adapter.read_battery()
        cfg = self.config
        executor, book = self.executor, self.executor.book
        return State(
            header_id=0,  # numbered when sent
            timestamp=utc_timestamp(),
            version=PROTOCOL_VERSION,
            manufacturer=cfg.manufacturer,
            serial_number=cfg.serial_number,
            order_id=book.order_id,
            order_update_id=book.order_update_id,
            last_node_id=book.last_node_id,
            last_node_sequence_id=book.last_node_sequence_id,
            node_states=executor.node_states(),
            edge_states=executor.edge_states(),
            agv_position=self._position(),
            velocity=self._velocity(),
            driving=self.adapter.is_driving(),
            paused=executor.paused,
            new_base_request=False,
            action_states=executor.action_states(),
            battery_state=BatteryState(
                battery_charge=max(0.0, min(100.0, battery.charge_pct)),
                battery_voltage=battery.voltage_v,
                charging=battery.charging,
                reach=None if battery.reach_m is None else max(0.0, battery.reach_m),
            ),
            operating_mode=self.operating_mode,
            errors=executor.errors.all(),
            information=[],
            safety_state=SafetyState(
                e_stop=EStop.MANUAL if self.adapter.emergency_stop_active() else EStop.NONE,
                field_violation=False,
            ),
        )

    def build_visualization(self) -> Visualization:
        """Pose and velocity for the live map."""
        cfg = self.config
        return Visualization(
            header_id=self.link.next_header(TopicKind.VISUALIZATION),
            timestamp=utc_timestamp(),
            version=PROTOCOL_VERSION,
            manufacturer=cfg.manufacturer,
            serial_number=cfg.serial_number,
            agv_position=self._position(),
            velocity=self._velocity(),
        )

    @staticmethod
    def _fingerprint(state: State) -> tuple[object, ...]:
        # Pose and exact battery drift continuously and travel in visualization; state
        # goes out early only for changes a dispatcher acts on.
        return (
            state.driving,
            state.paused,
            state.operating_mode,
            int(state.battery_state.battery_charge),
            state.battery_state.charging,
            state.order_id,
            state.order_update_id,
            state.last_node_id,
            tuple(e.error_type for e in state.errors),
            tuple((a.action_id, a.action_status) for a in state.action_states),
            len(state.node_states),
            len(state.edge_states),
        )

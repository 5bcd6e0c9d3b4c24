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

from missions.vda5050 import (
    AgvPosition,
    BatteryState,
    EStop,
    OperatingMode,
    SafetyState,
    State,
    TopicKind,
    Velocity,
    Visualization,
    encode,
    utc_timestamp,
)
from missions.vda5050.protocol import PROTOCOL_VERSION
from robot_agent.adapter import PlatformAdapter
from robot_agent.config import AgentConfig
from robot_agent.link import VdaLink

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
        state = self.build_state()
        fingerprint = self._fingerprint(state)
        due = now - self._last_state_at >= self.config.state_interval_s
        if (
            due or fingerprint != self._last_fingerprint or self._state_requested
        ) and self._publish_state(state):
            self._last_state_at = now
            self._last_fingerprint = fingerprint
            self._state_requested = False
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

    def _on_connected(self) -> None:
        # VDA 5050 §6.14: after (re)connecting, publish a full state at once.
        self._state_requested = True

    def _on_inbound(self, kind: TopicKind, payload: bytes) -> None:
        log.debug("received %s (%d bytes)", kind, len(payload))

    def _position(self) -> AgvPosition:
        pose = self.adapter.read_pose()
        return AgvPosition(
            x=pose.x, y=pose.y, theta=pose.theta, map_id=pose.map_id, position_initialized=True
        )

    def _velocity(self) -> Velocity:
        vel = self.adapter.read_velocity()
        return Velocity(vx=vel.vx, vy=vel.vy, omega=vel.omega)

    def build_state(self) -> State:
        """The robot's full VDA 5050 state now (headerId 0 until it is sent)."""
        battery = self.adapter.read_battery()
        cfg = self.config
        return State(
            header_id=0,  # numbered when sent
            timestamp=utc_timestamp(),
            version=PROTOCOL_VERSION,
            manufacturer=cfg.manufacturer,
            serial_number=cfg.serial_number,
            order_id="",
            order_update_id=0,
            last_node_id="",
            last_node_sequence_id=0,
            node_states=[],
            edge_states=[],
            agv_position=self._position(),
            velocity=self._velocity(),
            driving=self.adapter.is_driving(),
            paused=False,
            new_base_request=False,
            action_states=[],
            battery_state=BatteryState(
                battery_charge=max(0.0, min(100.0, battery.charge_pct)),
                battery_voltage=battery.voltage_v,
                charging=battery.charging,
                reach=None if battery.reach_m is None else max(0.0, battery.reach_m),
            ),
            operating_mode=self.operating_mode,
            errors=[],
            information=[],
            safety_state=SafetyState(e_stop=EStop.NONE, field_violation=False),
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
            len(state.errors),
        )

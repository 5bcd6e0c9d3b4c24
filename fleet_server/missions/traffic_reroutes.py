"""Robots traffic control sends onto a new order in the middle of a drive.

A deadlock broken (a robot sent to a refuge and back), a robot backing out to let a
boxed-in one leave, a robot sent around one that cannot move: each is a
:class:`~fleet_server.dispatch.traffic_release.Reroute` the release planner made. The
robot's order is cancelled (cancelOrder, an instant action); once the cancel is done and
the robot stands still, the new order goes out (a new orderId, fresh actionIds). The
mission's progress tracking follows the new order and keeps what the old one did, and the
runtime is told (``on_reroute``).
"""

from __future__ import annotations

from collections.abc import Callable

from fleet_server.dispatch.traffic_release import Reroute
from fleet_server.fleet.live_state import RobotKey
from fleet_server.fleet.orders import instant_action
from fleet_server.missions.traffic_state import (
    DONE,
    Entry,
    LinkState,
    PendingReroute,
    Role,
    SiteTable,
    log,
    robot_name,
    standing_still,
)
from missions.compiler import CompiledMission
from missions.vda5050 import State

RerouteCallback = Callable[[RobotKey, CompiledMission], None]
"""Told that a robot's mission now runs as a new order (after stepping aside)."""


class Reroutes:
    """Cancels robots' orders and sends the new ones the planner made for them."""

    def __init__(self, state: LinkState, on_reroute: RerouteCallback) -> None:
        self._state = state
        self._on_reroute = on_reroute

    def new_order_id(self, robot: str, compiled: CompiledMission) -> str:
        """The orderId of a robot's new order (for the planner)."""
        return f"{compiled.order_id}-x{self._state.next_id()}"

    def unfinished(self) -> dict[str, set[str]]:
        """Per robot in a table, the actions of its tracked order not done yet."""
        out: dict[str, set[str]] = {}
        for key in self._state.entries:
            tracked = self._state.progress.get(key)
            if tracked is not None:
                out[robot_name(key)] = {
                    a for a in tracked.action_ids if tracked.action_status.get(a) not in DONE
                }
        return out

    def begin(self, reroute: Reroute, *, around: str = "") -> None:
        """Cancel the robot's order; its new one follows once the cancel is done. ``around``:
        the robot that cannot move it goes around (else it steps aside)."""
        compiled, order = reroute.compiled, reroute.order
        if compiled is None or order is None:
            return
        state = self._state
        key = state.by_name[reroute.robot]
        entry = state.entries[key]
        tracked = state.progress.get(key)
        cancel_id = f"traffic-cancel-{state.next_id()}"
        entry.reroute = PendingReroute(
            cancel_action_id=cancel_id,
            compiled=compiled,
            order=order,
            mission_id=tracked.mission_id if tracked is not None else None,
            statuses=dict(tracked.action_status) if tracked is not None else {},
            results=dict(tracked.results) if tracked is not None else {},
        )
        if tracked is not None:
            # The old order is cancelled on purpose: its end is not the mission's.
            state.progress.forget(key)
        entry.order_id = compiled.order_id
        if around:
            state.counters.detours += 1
            log.info(
                "traffic control: %s goes around %s by %s",
                reroute.robot,
                around,
                ", ".join(reroute.resolution.detour) or "the next lane",
            )
        else:
            state.counters.reroutes += 1
            log.info(
                "traffic control: %s steps aside to %s (deadlock %s)",
                reroute.robot,
                reroute.resolution.refuge,
                ", ".join(reroute.resolution.cycle),
            )
        state.send(key, instant_action(key, "cancelOrder", cancel_id))

    def follow(self, table: SiteTable, entry: Entry, robot_state: State) -> None:
        """The robot of a pending reroute reported: send its new order once the cancel is
        done, and follow it as its order once its state shows it."""
        reroute = entry.reroute
        if reroute is None:
            return
        state = self._state
        if not reroute.sent:
            cancelled = any(
                a.action_id == reroute.cancel_action_id and a.action_status in DONE
                for a in robot_state.action_states
            )
            if cancelled and standing_still(robot_state):
                reroute.sent = True
                state.send(entry.key, reroute.order)
                self._track(entry, reroute)
            return
        if robot_state.order_id == reroute.compiled.order_id:
            entry.reroute = None
            entry.last_sequence = None
            entry.echoed, entry.held = False, []
            state.echoed(entry)
            state.queue(table.planner.order_taken(robot_name(entry.key)))
            state.follow_node(table, entry, robot_state)

    def _track(self, entry: Entry, reroute: PendingReroute) -> None:
        """The mission's progress follows the new order; the runtime is told."""
        compiled = reroute.compiled
        if reroute.mission_id is not None:
            tracked = self._state.progress.track_order(reroute.mission_id, entry.key, compiled)
            # Keep what the old order did (e.g. UV doses delivered before stepping aside).
            tracked.action_status.update(reroute.statuses)
            tracked.results.update(reroute.results)
        if entry.role is Role.MISSION:
            self._on_reroute(entry.key, compiled)

"""Robots stuck behind a robot that cannot move (offline, or reporting a FATAL error).

Such a robot keeps the place it holds: it stands there. Once robots have waited for it
longer than ``stall_alarm_s`` an alarm (``traffic.stalled``) names it, where it stands and
who waits, those waiting directly and those queued behind them (cleared when it can move
again or nobody waits any more), and each robot waiting for it at its decision point is
sent around it by another way to its path when the map has one (a new order, as for a
deadlock: :mod:`~fleet_server.missions.traffic_reroutes`), looked for again every
``STALL_RETRY_S``. The stall alarms an earlier run of the server left uncleared are
cleared when it starts (:func:`stale_stall_alarms`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from fleet_server.alarms.model import AlarmChange, ClearAlarms, RaiseAlarm
from fleet_server.alarms.store import uncleared_keys
from fleet_server.db import Database
from fleet_server.dispatch.traffic_errors import TrafficError
from fleet_server.missions.traffic_reroutes import Reroutes
from fleet_server.missions.traffic_state import (
    LinkState,
    Role,
    SiteTable,
    log,
    queued_behind,
)

STALL_ALARM = "traffic.stalled"
"""Alarm code: robots wait for a robot that cannot move (offline, FATAL error)."""
STALL_KEY_PREFIX = "traffic-stall:"
STALL_RETRY_S = 5.0
"""Between two searches for a way around a robot that cannot move, per waiting robot."""


@dataclass
class _Stall:
    """Robots wait for one that cannot move."""

    since: float
    """Monotonic time somebody started waiting for it."""
    alarmed: bool = False
    tried: dict[str, float] = field(default_factory=dict)
    """Waiting robot -> monotonic time a way around was last looked for."""


class StallWatch:
    """Follows the robots others wait for that cannot move: alarms and detours."""

    def __init__(
        self,
        state: LinkState,
        reroutes: Reroutes,
        alarm: Callable[[AlarmChange], None],
        monotonic: Callable[[], float],
    ) -> None:
        self._state = state
        self._reroutes = reroutes
        self._alarm = alarm
        self._monotonic = monotonic
        self._stalls: dict[str, dict[str, _Stall]] = {}
        """Per site, the robots that cannot move and that others wait for, by name."""

    def watch(self, table: SiteTable, alarm_after_s: float) -> None:
        """Robots waiting for one that cannot move: alarm past ``alarm_after_s``, and send
        those at their decision point around it where the map allows."""
        now = self._monotonic()
        stalls = self._stalls.setdefault(table.site_id, {})
        waits = table.manager.waits_for()
        stuck: dict[str, list[str]] = {}
        for robot, blocker in sorted(waits.items()):
            if self._state.cannot_move(blocker):
                stuck.setdefault(blocker, []).append(robot)
        for name in [n for n in stalls if n not in stuck]:
            self._end(stalls, name)
        for name, waiting in stuck.items():
            stall = stalls.setdefault(name, _Stall(now))
            if now - stall.since < alarm_after_s:
                continue
            if not stall.alarmed:
                stall.alarmed = True
                self._state.counters.stalls += 1
                behind = [r for r in queued_behind(waits, name) if r not in waiting]
                self._raise(table, name, [*waiting, *behind])
            for robot in waiting:
                if now - stall.tried.get(robot, -math.inf) >= STALL_RETRY_S:
                    stall.tried[robot] = now
                    self._go_around(table, stalls, robot, name)

    def _go_around(
        self, table: SiteTable, stalls: dict[str, _Stall], robot: str, stuck: str
    ) -> None:
        state = self._state
        entry = state.entry_of(robot)
        if entry is None or entry.role is Role.STANDING or entry.reroute is not None:
            return
        if state.cannot_move(robot):
            return
        avoid = {res for name in stalls for res in table.manager.holds(name)}
        try:
            reroute = table.planner.bypass(
                robot, avoid, self._reroutes.new_order_id, self._reroutes.unfinished()
            )
        except TrafficError as exc:
            state.counters.errors += 1
            log.warning("traffic control: %s cannot go around %s: %s", robot, stuck, exc)
            return
        if reroute is None:
            log.debug("traffic control: no way for %s around %s", robot, stuck)
            return
        self._reroutes.begin(reroute, around=stuck)

    def _raise(self, table: SiteTable, name: str, waiting: list[str]) -> None:
        manager = table.manager
        key = self._state.by_name[name]
        here = manager.path(name).anchors[manager.current_node(name)]
        wp = manager.resources.waypoints[here]
        live = self._state.live.get(*key)
        why = "offline" if live is None or not live.online else "stopped by a FATAL error"
        place = f"{wp.name} ({here})" if wp.name else here
        message = (
            f"robot {name} stands {why} at {place} on {wp.level}; "
            f"{', '.join(waiting)} wait{'s' if len(waiting) == 1 else ''} for it"
        )
        log.warning("traffic control: %s", message)
        self._alarm(
            RaiseAlarm(
                source="system",
                severity="warning",
                code=STALL_ALARM,
                message=message,
                at=datetime.now(UTC),
                site_id=table.site_id,
                robot=key,
                dedup_key=_stall_key(name),
            )
        )

    def _end(self, stalls: dict[str, _Stall], name: str) -> None:
        stall = stalls.pop(name)
        if stall.alarmed:
            log.info("traffic control: nobody waits for %s any more, or it can move", name)
            self._alarm(ClearAlarms(_stall_key(name), datetime.now(UTC)))


def _stall_key(name: str) -> str:
    return f"{STALL_KEY_PREFIX}{name}"


def stale_stall_alarms(db: Database) -> list[ClearAlarms]:
    """Clears for stall alarms left uncleared by an earlier run of the server (no table
    follows them now; one that still holds is raised again by the new table)."""
    with db.session() as session:
        keys = uncleared_keys(session, STALL_KEY_PREFIX)
    now = datetime.now(UTC)
    return [ClearAlarms(key, now) for key, _, _ in keys]

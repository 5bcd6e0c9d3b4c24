"""Robots without a mission in somebody's way, and how traffic control clears them off it.

A standing robot that others wait for, or whose place lies ahead on somebody's path, is
sent to the nearest free holding point or parking spot (a "make way" order, released
through the table like any drive) before the others arrive, so no robot is left standing
in a dead end that the one coming for it then closes. A robot boxed in by standing robots
has one of them moved first; one boxed in a dead end by the robot coming for its place has
that robot back out to a refuge until it has left
(:meth:`~fleet_server.dispatch.traffic_release.ReleasePlanner.make_room`), the robot
right at it first, else the one behind it, down the queue. A robot that cannot move
(offline, charging, a FATAL error, an order of its own) is never chosen to step aside or
back out.
"""

from __future__ import annotations

from fleet_server.dispatch.traffic_deadlock import Refuge, find_refuge_aside
from fleet_server.dispatch.traffic_errors import TrafficError
from fleet_server.dispatch.traffic_release import walk_mission
from fleet_server.dispatch.traffic_resources import waypoint_resource
from fleet_server.missions.traffic_reroutes import Reroutes
from fleet_server.missions.traffic_state import (
    DONE,
    LinkState,
    Role,
    SiteTable,
    fatal,
    log,
    queued_behind,
    standing_still,
)
from missions.types import PatrolMission
from missions.vda5050 import State

MAKE_WAY_SPEED_M_S = 0.8


class MakeWay:
    """Sends standing robots out of the way of the robots that come for their place."""

    def __init__(self, state: LinkState, reroutes: Reroutes) -> None:
        self._state = state
        self._reroutes = reroutes

    def clear(self, table: SiteTable) -> None:
        """Move standing robots out of others' way (one robot at most once a look)."""
        moved: set[str] = set()
        for blocker, waiting in self._in_the_way(table).items():
            if blocker in moved:
                continue
            outcome = self._send_aside(table, blocker, waiting)
            if outcome is True:
                moved.add(blocker)
            elif outcome is False:
                # Boxed in by robots standing around it: move one of them first.
                for neighbour in self._standing_neighbours(table, blocker):
                    if neighbour not in moved and self._send_aside(
                        table, neighbour, [blocker, *waiting]
                    ):
                        moved.add(neighbour)
                        break
                else:
                    if not self._back_out(table, blocker):
                        log.debug(
                            "traffic control: %s in the way of %s; no refuge", blocker, waiting
                        )

    def _in_the_way(self, table: SiteTable) -> dict[str, list[str]]:
        """Standing robots others wait for, or whose place lies ahead on others' paths.

        Moving them before the others arrive keeps a robot from standing in a dead end
        that the one coming for it then closes.
        """
        manager = table.manager
        out = {blocker: list(waiting) for blocker, waiting in manager.idle_in_the_way().items()}
        standing: dict[str, str] = {}
        moving: list[str] = []
        for name in manager.robots:
            entry = self._state.entry_of(name)
            if entry is None:
                continue
            here = manager.current_node(name)
            if entry.role is Role.STANDING:
                standing[manager.path(name).anchors[here]] = name
            else:
                moving.append(name)
        for name in moving:
            path = manager.path(name)
            for anchor in path.anchors[manager.current_node(name) + 1 :]:
                blocker = standing.get(anchor)
                if blocker is not None and name not in out.setdefault(blocker, []):
                    out[blocker].append(name)
        return out

    def _back_out(self, table: SiteTable, blocker: str) -> bool:
        """A robot queued up to a boxed-in standing robot backs out to let it leave.

        The robot right at ``blocker`` is tried first; when it cannot back out (others
        queued behind it in a dead end), the one behind it is tried, and so on down the
        queue, so a line of robots in a spur empties from its far end one per tick.
        """
        state = self._state
        for robot in queued_behind(table.manager.waits_for(), blocker):
            entry = state.entry_of(robot)
            if entry is None or entry.role is Role.STANDING or entry.reroute is not None:
                continue
            if state.cannot_move(robot):
                continue
            if table.manager.current_node(robot) != table.manager.released_through(robot):
                continue  # still driving up to its decision point
            try:
                reroute = table.planner.make_room(
                    robot, blocker, self._reroutes.new_order_id, self._reroutes.unfinished()
                )
            except TrafficError as exc:
                log.info("traffic control: %s cannot back out: %s", robot, exc)
                continue
            if reroute is None:
                continue
            state.counters.backed_out += 1
            self._reroutes.begin(reroute)
            return True
        return False

    def _send_aside(self, table: SiteTable, robot: str, waiting: list[str]) -> bool | None:
        """Send a standing robot to a refuge: True if sent, False if no refuge is free,
        None if it cannot move now (offline, charging, running an order of its own)."""
        state = self._state
        entry = state.entry_of(robot)
        if entry is None or entry.role is not Role.STANDING:
            return None
        live = state.live.get(*entry.key)
        if live is None or not live.online or live.charging or live.pose is None:
            log.debug("traffic control: %s in the way, cannot move now", robot)
            return None
        if fatal(live.state):
            log.debug("traffic control: %s in the way, stopped by a FATAL error", robot)
            return None
        if not _idle(live.state):
            log.debug("traffic control: %s in the way, still running an order", robot)
            return None
        refuge = self._refuge_for(table, robot, waiting)
        if refuge is None:
            return False
        compiled = walk_mission(
            table.manager.resources,
            refuge.there,
            mission=PatrolMission.model_validate(
                {"site": table.site.name, "name": "make way", "checkpoints": [refuge.waypoint]}
            ),
            order_id=f"{entry.key[1]}-way-{state.next_id()}",
            manufacturer=entry.key[0],
            serial_number=entry.key[1],
            speed_m_s=MAKE_WAY_SPEED_M_S,
            start=(live.pose.x, live.pose.y, live.pose.map_id),
        )
        prepared = state.start_on(table, entry, compiled, Role.MAKE_WAY)
        if prepared is compiled or entry.waiting is not None:
            entry.role, entry.order_id, entry.waiting = Role.STANDING, None, None
            state.stand(table, entry, refuge.there[0])
            return False
        state.counters.make_way += 1
        log.info(
            "traffic control: %s makes way for %s, to %s",
            robot,
            ", ".join(waiting),
            refuge.waypoint,
        )
        state.send(entry.key, prepared.order())
        return True

    def _standing_neighbours(self, table: SiteTable, robot: str) -> list[str]:
        """Standing robots on the waypoints next to where ``robot`` stands."""
        manager = table.manager
        here = manager.path(robot).anchors[manager.current_node(robot)]
        out = []
        for hop in manager.resources.hops(here):
            for holder in manager.holders(waypoint_resource(hop.target)):
                entry = self._state.entry_of(holder)
                if entry is not None and entry.role is Role.STANDING and holder not in out:
                    out.append(holder)
        return out

    def _refuge_for(self, table: SiteTable, robot: str, waiting: list[str]) -> Refuge | None:
        """The nearest free refuge for ``robot``, as far off others' ways as the map allows."""
        manager = table.manager
        others = [r for r in manager.robots if r != robot]
        taken = {res for r in others for res in manager.holds(r)}
        taken |= {
            res
            for r in others
            for res in manager.path(r).step_needs(
                manager.released_through(r), manager.path(r).last
            )[:1]
        }
        ahead: set[str] = set()
        for r in others:
            ahead |= set(manager.path(r).anchors[manager.current_node(r) :])
        waiting_ahead: set[str] = set()
        for r in waiting:
            waiting_ahead |= set(manager.path(r).anchors[manager.current_node(r) :])
        start = manager.path(robot).anchors[manager.current_node(robot)]
        key = self._state.by_name[robot]
        robot_class = self._state.entries[key].robot_class
        # Crowded, any place off the way of those it blocks will do (others may push it on).
        return find_refuge_aside(
            manager.resources,
            robot_class,
            start,
            taken=taken,
            others_ahead=ahead,
            waiting_ahead=waiting_ahead,
            crowded=True,
        )


def _idle(state: State | None) -> bool:
    """Standing still with every action done: the robot takes a new order (§6.6.2)."""
    return (
        state is not None
        and standing_still(state)
        and all(a.action_status in DONE for a in state.action_states)
    )

"""Mission orders robots already run, taken back under traffic control after a server restart.

Order recovery hands each such order to :meth:`TrafficLink.resume
<fleet_server.missions.traffic_link.TrafficLink.resume>`: it is planned from the node the
robot was last at, holding what it was released; later updates extend its release as for
any mission. If another robot holds some of that, the robot stands where it is and its
order is planned on a later tick from where it then is: from the order's progress in its
state, or from where it was handed over while its state has not shown the order yet. A
robot whose state showed the order and no longer does runs it no more: it only stands. A
path the table cannot take runs on outside traffic control.
"""

from __future__ import annotations

from fleet_server.dispatch.traffic_errors import ReservationConflict, TrafficError
from fleet_server.missions.traffic_state import (
    Entry,
    LinkState,
    Resuming,
    Role,
    SiteTable,
    log,
    mission_priority,
    robot_name,
)
from missions.compiler import CompiledMission
from missions.vda5050 import State


def take_back(
    state: LinkState,
    table: SiteTable,
    entry: Entry,
    compiled: CompiledMission,
    *,
    node: int,
    released: int,
    release_cap: int | None,
    echoed: bool,
) -> bool:
    """Follow ``compiled`` as the robot's mission, at node ``node``, released through
    ``released``; False (counted, logged) if the table cannot take its path."""
    entry.role, entry.order_id = Role.MISSION, compiled.order_id
    entry.last_sequence, entry.ending, entry.reroute, entry.waiting = None, False, None, None
    entry.echoed, entry.held, entry.unanswered_ticks = echoed, [], 0
    entry.resuming = Resuming(compiled, release_cap, node, released)
    try:
        _plan(state, table, entry, node, released)
    except TrafficError as exc:
        state.counters.unmanaged += 1
        log.warning("traffic control: %s runs free: %s", robot_name(entry.key), exc)
        entry.role, entry.order_id, entry.resuming = Role.STANDING, None, None
        if robot_name(entry.key) not in table.manager.robots:
            entry.placed = False
            state.place(entry.key)
        return False
    return True


def retry_resumes(state: LinkState, table: SiteTable) -> None:
    """Plan the site's robots still resuming, from where they now are."""
    for entry in list(state.entries.values()):
        resuming = entry.resuming
        if resuming is None or state.sites.get(entry.site_id) is not table:
            continue
        live = state.live.get(*entry.key)
        robot_state = live.state if live is not None else None
        if robot_state is not None and robot_state.order_id == resuming.compiled.order_id:
            node, released = _progress_of(robot_state)
        elif not entry.echoed:
            node, released = resuming.node, resuming.released
        else:
            state.end(entry)  # the robot no longer runs it
            continue
        try:
            _plan(state, table, entry, node, released)
        except TrafficError as exc:
            state.counters.errors += 1
            log.warning("traffic control: %s: %s", robot_name(entry.key), exc)


def _plan(state: LinkState, table: SiteTable, entry: Entry, node: int, released: int) -> None:
    """Plan a resuming robot; left resuming (placed where it stands) on a conflict."""
    resuming = entry.resuming
    if resuming is None:
        return
    name = robot_name(entry.key)
    cap = resuming.release_cap
    try:
        updates = table.planner.resume(
            name,
            resuming.compiled,
            node=node,
            released=released,
            priority=mission_priority(resuming.compiled),
            robot_class=entry.robot_class,
            release_cap=None if cap is None or cap < released else cap,
        )
    except ReservationConflict as exc:
        log.info("traffic control: %s; its order is planned once that is free", exc)
        if name not in table.manager.robots:
            state.place(entry.key)
        return
    entry.resuming = None
    entry.placed = True
    entry.last_sequence = 2 * node
    state.queue(updates)
    log.info(
        "traffic control: %s runs %s again under control, at node %s, released through %s",
        name,
        resuming.compiled.order_id,
        node,
        released,
    )


def _progress_of(state: State) -> tuple[int, int]:
    """(node the robot was last at, node it is released through) of the order it runs."""
    node = state.last_node_sequence_id // 2
    released = [n.sequence_id // 2 for n in state.node_states if n.released]
    return node, max([node, *released])

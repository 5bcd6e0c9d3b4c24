"""Traffic control meets the orders: release a compiled mission's base as its path is reserved.

:class:`ReleasePlanner` keeps, per robot, the :class:`~missions.compiler.CompiledMission`
whose orders the robot gets, and asks the :class:`~fleet_server.dispatch.traffic.
TrafficManager` how far each may be released. It produces the initial release point and,
whenever a robot moves on, the order updates (``compiled.next_order_update``) for every
robot whose release point advanced; nothing when it did not.

The server wires it in :mod:`fleet_server.missions.traffic_link` along these lines (one
planner per site; the planner is synchronous and does no I/O):

1. Build ``TrafficManager(site)`` and ``ReleasePlanner(manager)`` per site when the site is
   loaded (``SiteStore.load``); keep them with the runtime, keyed by site id.
2. Robots without a mission still stand somewhere on the graph: plan each one standing
   where it is when it comes online, ``manager.plan(robot_id, TrafficPath.from_waypoints(
   [waypoint], manager.resources))``, so others wait instead of driving into it, and send
   robots listed by ``manager.idle_in_the_way()`` to a dock or holding point.
   ``_send_initial``: instead of ``compiled.order()``, call
   ``prepared = planner.start(robot_id, compiled, priority=PRIORITY[mission.priority],
   robot_class=run.profile.robot_class, release_cap=compiled.meeting_node_index)``, store
   ``prepared`` as ``run.compiled`` and publish ``prepared.order()``. ``robot_id`` is any
   stable string, e.g. ``f"{manufacturer}/{serial}"``. Guidance: when
   ``guideWaitForPerson`` finishes, ``planner.set_release_cap(robot_id, None)`` replaces
   ``compiled.next_order_update(None)``. ``start`` raises ``ReservationConflict`` if
   another robot's reservation covers where the robot stands: leave the mission pending
   and try again on a later tick.
3. ``ProgressKind.NODE``: the node index is ``state.lastNodeSequenceId // 2`` (node ``i``
   has sequenceId ``2 i``); call ``planner.on_node(robot_id, index)`` and publish every
   ``(robot_id, order)`` it returns, each to its own robot (progress of one robot can free
   the way for another). Call ``planner.advance()`` on every runtime tick as well.
4. Mission ends (completed, failed, cancelled): ``planner.finish(robot_id)`` (the robot
   keeps the place it stands on) and publish what it returns; a robot taken off the site
   or decommissioned: ``planner.finish(robot_id, keep_standing=False)``. Patrol
   ``until_stopped``: ``finish`` the round, then ``start`` the next round's mission.
5. On every tick after ``advance``: ``planner.resolve_deadlocks(new_order_id)``. For each
   :class:`Reroute` with an ``order``: send ``cancelOrder`` to that robot, and once the
   cancellation is reported FINISHED send ``reroute.order`` (a new order from where the
   robot stands, out to a holding point and back, then the rest of its mission with fresh
   actionIds), track ``reroute.compiled`` for that robot, and call
   ``planner.order_taken(robot_id)`` when its state shows the new orderId; publish what it
   returns. Until then the planner sends that robot no update.
6. ``GET /api/v1/sites/{id}/plan``: return ``planner.snapshot()``.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fleet_server.dispatch.traffic import Resolution, TrafficManager, TrafficPath
from fleet_server.dispatch.traffic_errors import DeadlockUnresolved
from fleet_server.dispatch.traffic_resources import SiteResources
from missions.compiler import CompiledMission
from missions.compiler import actions as act
from missions.sites import RobotClass
from missions.types import MissionSpec
from missions.vda5050 import Action, Edge, Node, NodePosition, Order

log = logging.getLogger(__name__)

WAY_OUT_ACTIONS = frozenset({"openDoor", "callLift"})
"""Actions that open the way onwards; a robot that comes back to their node needs them again."""


@dataclass
class _Released:
    compiled: CompiledMission
    sent: int
    """The release point of the last order or update sent."""
    awaiting_order: bool = False
    """A new order is on its way (after a cancel): hold updates until the robot has it."""


@dataclass(frozen=True)
class Reroute:
    """A deadlock resolution the server must carry out for ``robot``.

    ``order`` is None when the robot keeps its order (it just stops waiting at a
    refuge). Otherwise: send cancelOrder, then ``order`` (the initial order of
    ``compiled``), then :meth:`ReleasePlanner.order_taken` once the robot runs it.
    """

    robot: str
    resolution: Resolution
    compiled: CompiledMission | None
    order: Order | None


class ReleasePlanner:
    """Release points and order updates for the missions of one site."""

    def __init__(self, manager: TrafficManager) -> None:
        self.manager = manager
        self._released: dict[str, _Released] = {}

    def compiled(self, robot: str) -> CompiledMission:
        """The compiled mission whose orders ``robot`` gets now."""
        return self._released[robot].compiled

    def start(
        self,
        robot: str,
        compiled: CompiledMission,
        *,
        priority: int = 0,
        robot_class: RobotClass | None = None,
        release_cap: int | None = None,
    ) -> CompiledMission:
        """Plan ``robot``'s mission; returns it with the initial release point set.

        Send ``returned.order()`` and keep ``returned``: later updates are cut from it.
        """
        self.manager.plan(
            robot, compiled, priority=priority, robot_class=robot_class, release_cap=release_cap
        )
        release = self.manager.request_release(robot, 0)
        prepared = compiled.with_initial_release(release)
        self._released[robot] = _Released(prepared, release)
        return prepared

    def adopt(
        self,
        robot: str,
        issued: CompiledMission,
        *,
        priority: int = 0,
        robot_class: RobotClass | None = None,
        release_cap: int | None = None,
    ) -> list[tuple[str, Order]]:
        """Plan ``robot`` whose order ``issued`` was sent before it could be planned.

        The robot was released only through ``issued.released_through`` (node 0 when
        :meth:`start` could not plan it) and still stands on node 0. Raises like
        :meth:`start`; returns the updates to send now, to any robot.
        """
        sent = issued.released_through
        if sent is None:
            raise ValueError("adopt: the order of the mission was never issued")
        if sent != 0:
            raise ValueError(f"adopt: the order released through node {sent}, not node 0")
        self.manager.plan(
            robot, issued, priority=priority, robot_class=robot_class, release_cap=release_cap
        )
        self._released[robot] = _Released(issued, sent)
        return self.advance()

    def resume(
        self,
        robot: str,
        issued: CompiledMission,
        *,
        node: int,
        released: int,
        priority: int = 0,
        robot_class: RobotClass | None = None,
        release_cap: int | None = None,
    ) -> list[tuple[str, Order]]:
        """Plan ``robot`` that already runs the order of ``issued`` (after a server restart).

        The robot was last at node ``node`` and is released through node ``released``;
        ``issued`` has issued every orderUpdateId the robot has, and later updates go on
        from there. It holds its place and released path from now on. Raises like
        :meth:`start` (:class:`ReservationConflict`: another robot holds some of that);
        returns the updates to send now, to any robot.
        """
        if issued.released_through is None:
            raise ValueError("resume: the order of the mission was never issued")
        self.manager.plan(
            robot,
            issued,
            priority=priority,
            robot_class=robot_class,
            release_cap=release_cap,
            at=node,
            released=released,
        )
        self._released[robot] = _Released(issued, released)
        return self.advance()

    def on_node(self, robot: str, node_index: int) -> list[tuple[str, Order]]:
        """``robot`` traversed node ``node_index``: the updates to send now, to any robot.

        Ignored while a rerouted robot has not taken its new order yet: until then its
        reports are about the old order's nodes.
        """
        entry = self._released.get(robot)
        if entry is not None and not entry.awaiting_order:
            self.manager.on_progress(robot, node_index)
        return self.advance()

    def set_release_cap(self, robot: str, release_cap: int | None) -> list[tuple[str, Order]]:
        """Move ``robot``'s release cap (None: lift it); the updates to send now."""
        self.manager.set_release_cap(robot, release_cap)
        return self.advance()

    def finish(self, robot: str, *, keep_standing: bool = True) -> list[tuple[str, Order]]:
        """``robot``'s mission ended: free its reservations; the updates others get now.

        With ``keep_standing`` the robot keeps the place it stands on (the node it was
        last reported at), as a plan of that one node, so nobody is released into it;
        the next :meth:`start` replaces that. Without, it is forgotten (it left the graph).
        """
        self._released.pop(robot, None)
        if keep_standing and robot in self.manager.robots:
            path = self.manager.path(robot)
            here = self.manager.current_node(robot)
            standing = TrafficPath(
                node_ids=(path.path.node_ids[here],),
                waypoints=(path.anchors[here],),
                lengths_m=(),
            )
            self.manager.plan(robot, standing, priority=self.manager.priority(robot))
        else:
            self.manager.release_all(robot)
        return self.advance()

    def order_taken(self, robot: str) -> list[tuple[str, Order]]:
        """``robot`` runs the new order of a :class:`Reroute`: updates may flow again."""
        self._released[robot].awaiting_order = False
        return self.advance()

    def advance(self) -> list[tuple[str, Order]]:
        """Extend every robot's release as far as the table allows; the updates to send.

        Robots are served most important first, so they get freed resources first.
        """
        out: list[tuple[str, Order]] = []
        robots = sorted(self._released, key=lambda r: (-self.manager.priority(r), r))
        for robot in robots:
            entry = self._released[robot]
            release = self.manager.request_release(robot, self.manager.current_node(robot))
            if release > entry.sent and not entry.awaiting_order:
                out.append((robot, entry.compiled.next_order_update(release)))
                entry.sent = release
                log.debug("robot %s released through node %s", robot, release)
        return out

    def resolve_deadlocks(
        self,
        new_order_id: Callable[[str, CompiledMission], str],
        unfinished: Mapping[str, Collection[str]] | None = None,
        *,
        immovable: Collection[str] = (),
    ) -> list[Reroute]:
        """Break every deadlock among the planned robots; what the server must send.

        ``new_order_id(robot, compiled)`` names the new order of a robot that must step
        aside; ``unfinished[robot]`` lists actionIds of its mission not yet FINISHED or
        FAILED (those on the node it stands on are run again when it comes back).
        Robots that merely stop waiting at a refuge get their updates from the next
        :meth:`advance`; robots in ``immovable`` are never sent aside.
        """
        reroutes: list[Reroute] = []
        for cycle in self.manager.detect_deadlock():
            try:
                resolution = self.manager.resolve(cycle, immovable=immovable)
            except DeadlockUnresolved as exc:
                log.warning("deadlock left for now: %s", exc)
                continue
            reroutes.append(self._reroute(resolution, new_order_id, unfinished))
        return reroutes

    def make_room(
        self,
        robot: str,
        for_robot: str,
        new_order_id: Callable[[str, CompiledMission], str],
        unfinished: Mapping[str, Collection[str]] | None = None,
    ) -> Reroute | None:
        """``robot`` backs out of the way of ``for_robot`` (:meth:`TrafficManager.make_room`).

        None if it has no refuge now; otherwise carry out the :class:`Reroute` as for a
        deadlock. Only for a robot whose orders this planner cuts, not awaiting one.
        """
        entry = self._released.get(robot)
        if entry is None or entry.awaiting_order:
            return None
        resolution = self.manager.make_room(robot, for_robot)
        if resolution is None:
            return None
        return self._reroute(resolution, new_order_id, unfinished)

    def bypass(
        self,
        robot: str,
        avoid: Collection[str],
        new_order_id: Callable[[str, CompiledMission], str],
        unfinished: Mapping[str, Collection[str]] | None = None,
    ) -> Reroute | None:
        """``robot`` goes around ``avoid`` (:meth:`TrafficManager.bypass`), leaving out only
        nodes with no work on them (at most openDoor / callLift for the way it no longer
        takes). None if there is no such way; otherwise carry out the :class:`Reroute` as
        for a deadlock.
        """
        entry = self._released.get(robot)
        if entry is None or entry.awaiting_order:
            return None
        compiled = entry.compiled

        def may_leave_out(resume: int, rejoin: int) -> bool:
            nodes = compiled.nodes[resume + 1 : rejoin]
            edges = compiled.edges[resume:rejoin]
            return all(
                a.action_type in WAY_OUT_ACTIONS for n in nodes for a in n.actions
            ) and not any(e.actions for e in edges)

        resolution = self.manager.bypass(robot, avoid, may_leave_out=may_leave_out)
        if resolution is None:
            return None
        return self._reroute(resolution, new_order_id, unfinished)

    def _reroute(
        self,
        resolution: Resolution,
        new_order_id: Callable[[str, CompiledMission], str],
        unfinished: Mapping[str, Collection[str]] | None,
    ) -> Reroute:
        robot = resolution.robot
        entry = self._released[robot]
        if not resolution.rerouted:
            return Reroute(robot, resolution, None, None)
        compiled = rerouted_mission(
            entry.compiled,
            resolution,
            self.manager.resources,
            order_id=new_order_id(robot, entry.compiled),
            unfinished=(unfinished or {}).get(robot, ()),
        )
        release = self.manager.request_release(robot, 0)
        compiled = compiled.with_initial_release(release)
        order = compiled.order()
        self._released[robot] = _Released(compiled, release, awaiting_order=True)
        return Reroute(robot, resolution, compiled, order)

    def snapshot(self) -> dict[str, Any]:
        """The manager's snapshot with each robot's orderId and last orderUpdateId."""
        snap = self.manager.snapshot()
        for row in snap["robots"]:
            entry = self._released.get(row["robot"])
            row["order_id"] = entry.compiled.order_id if entry else None
            row["order_update_id"] = entry.compiled.last_update_id if entry else None
            row["awaiting_order"] = entry.awaiting_order if entry else False
        return snap


# -- a robot sent out of the way --------------------------------------------------------


def walk_mission(
    site: SiteResources,
    waypoints: Sequence[str],
    *,
    mission: MissionSpec,
    order_id: str,
    manufacturer: str,
    serial_number: str,
    speed_m_s: float,
    start: tuple[float, float, str] | None = None,
    deviation_m: float | None = None,
) -> CompiledMission:
    """A plain drive along graph ``waypoints`` (no mission actions), as a compiled mission.

    For a robot sent to a refuge so that others can pass. ``start`` is where the robot
    stands: when it lies off the first waypoint (beyond ``deviation_m``, default 0.5 m)
    the path begins there, at a free node, so the first node is where it stands (VDA
    5050 §6.6.1). Doors and lifts on the way get their openDoor / callLift actions.
    ``mission`` only labels the plan (nothing of it is run).
    """
    if not waypoints:
        raise ValueError("walk_mission: needs at least one waypoint")
    for i, wp in enumerate(waypoints):
        if wp not in site.waypoints:
            raise ValueError(f"waypoints.{i}: no waypoint {wp!r} in the site")
    nodes = [_waypoint_node(site, wp, deviation_m) for wp in waypoints]
    node_waypoints: list[str | None] = list(waypoints)
    if start is not None:
        x, y, level = start
        first = site.waypoints[waypoints[0]]
        if first.level != level or math.hypot(first.x - x, first.y - y) > (deviation_m or 0.5):
            here = Node(
                node_id="start",
                sequence_id=0,
                released=True,
                node_position=NodePosition(
                    x=round(x, 4), y=round(y, 4), map_id=level, allowed_deviation_xy=deviation_m
                ),
                actions=[],
            )
            nodes.insert(0, here)
            node_waypoints.insert(0, None)
    edges: list[Edge] = []
    seconds = 0.0
    for i in range(len(nodes) - 1):
        edge, edge_s = _detour_edge(site, nodes, node_waypoints, i, speed_m_s)
        edges.append(edge)
        seconds += edge_s
    nodes, edges, _ = _renumber(nodes, edges, order_id)
    return CompiledMission(
        order_id=order_id,
        manufacturer=manufacturer,
        serial_number=serial_number,
        mission=mission,
        nodes=tuple(nodes),
        edges=tuple(edges),
        node_waypoints=tuple(node_waypoints),
        estimated_duration_s=round(seconds, 3),
        initial_release=0,
    )


# -- the order of a robot that steps aside -----------------------------------------------


def rerouted_mission(
    old: CompiledMission,
    resolution: Resolution,
    site: SiteResources,
    *,
    order_id: str,
    unfinished: Collection[str] = (),
) -> CompiledMission:
    """The mission of a robot that steps aside, as a new order from where it stands.

    Nodes: the node it stands on (no actions), the detour waypoints out to the refuge and
    back, the node it stood on again (with its actions listed in ``unfinished`` and its
    openDoor/callLift), then the rest of the old sequence. A robot going around a robot
    that cannot move (``resolution.rejoin_index`` set) keeps its actions listed in
    ``unfinished`` on the node it stands on, drives the detour and goes on with the old
    sequence from the rejoin node. Every action gets a new actionId under ``order_id``
    (the agent refuses ids it still holds from the old order); planned and dwell points
    follow their actions' new ids.
    """
    if not resolution.rerouted:
        raise ValueError("rerouted_mission: the resolution keeps the robot's path")
    r, rejoin = resolution.resume_index, resolution.rejoin_index
    stand = old.nodes[r]
    deviation = _deviation(stand)
    detour = [_waypoint_node(site, wp, deviation) for wp in resolution.detour]
    if rejoin is None:
        head = [stand.model_copy(update={"actions": []}, deep=True), *detour]
        back_actions = [
            a
            for a in stand.actions
            if a.action_id in unfinished or a.action_type in WAY_OUT_ACTIONS
        ]
        nodes = [*head, stand.model_copy(update={"actions": back_actions}, deep=True)]
        rest = r
    else:
        kept = [
            a
            for a in stand.actions
            if a.action_id in unfinished and a.action_type not in WAY_OUT_ACTIONS
        ]
        head = [stand.model_copy(update={"actions": kept}, deep=True), *detour]
        nodes = [*head, old.nodes[rejoin].model_copy(deep=True)]
        rest = rejoin
    nodes += [n.model_copy(deep=True) for n in old.nodes[rest + 1 :]]
    waypoints = [old.node_waypoints[r], *resolution.detour, *old.node_waypoints[rest:]]
    speed = max((e.max_speed or 0.0 for e in old.edges), default=0.0) or 1.0
    head_edges: list[Edge] = []
    extra_s = 0.0
    for i in range(len(head)):
        edge, seconds = _detour_edge(site, nodes, waypoints, i, speed)
        head_edges.append(edge)
        extra_s += seconds
    edges = [*head_edges, *(e.model_copy(deep=True) for e in old.edges[rest:])]
    nodes, edges, renamed = _renumber(nodes, edges, order_id)
    meeting = old.meeting_node_index
    return CompiledMission(
        order_id=order_id,
        manufacturer=old.manufacturer,
        serial_number=old.serial_number,
        mission=old.mission,
        nodes=tuple(nodes),
        edges=tuple(edges),
        node_waypoints=tuple(waypoints),
        estimated_duration_s=round(old.estimated_duration_s + extra_s, 3),
        dwell_points=tuple(
            dataclasses.replace(p, action_id=renamed.get(p.action_id, p.action_id))
            for p in old.dwell_points
        ),
        planned_points=tuple(
            dataclasses.replace(p, action_id=renamed.get(p.action_id, p.action_id))
            for p in old.planned_points
        ),
        room_plans=old.room_plans,
        repeat_until_stopped=old.repeat_until_stopped,
        meeting_node_index=(
            resolution.new_index(meeting) if meeting is not None and meeting >= r else None
        ),
        on_no_show=old.on_no_show,
        initial_release=0,
    )


def _deviation(node: Node) -> float | None:
    position = node.node_position
    return position.allowed_deviation_xy if position is not None else None


def _waypoint_node(site: SiteResources, waypoint_id: str, deviation: float | None) -> Node:
    wp = site.waypoints[waypoint_id]
    return Node(
        node_id=wp.id,
        sequence_id=0,
        node_description=wp.name or None,
        released=True,
        node_position=NodePosition(
            x=round(wp.x, 4), y=round(wp.y, 4), map_id=wp.level, allowed_deviation_xy=deviation
        ),
        actions=[],
    )


def _detour_edge(
    site: SiteResources,
    nodes: list[Node],
    waypoints: list[str | None],
    i: int,
    speed: float,
) -> tuple[Edge, float]:
    """Edge ``i`` of the detour; puts openDoor / callLift on its start node as needed."""
    a, b = nodes[i], nodes[i + 1]
    u, v = waypoints[i], waypoints[i + 1]
    description = None
    length = _straight(a, b)
    seconds = length / speed
    if u is not None and v is not None and site.is_ride(u, v):
        lift = site.cabin_lift[u]
        level_to = site.waypoints[v].level
        before = nodes[i - 1] if i > 0 else a
        before.actions.append(act.call_lift(lift, level_to).build("pending"))
        description = f"lift {lift}: {site.waypoints[u].level} to {level_to}"
        length = 0.0
        spec = next(x for x in site.site.lifts if x.name == lift)
        seconds = spec.wait_time_s + spec.travel_time_per_floor_s
    elif u is not None and v is not None and u != v:
        lanes = [
            lane
            for lane in site.lanes_between(u, v)
            if (lane.start, lane.end) == (u, v) or lane.bidirectional
        ]
        door = next((lane.door for lane in lanes if lane.door), "")
        if door:
            a.actions.append(act.open_door(door).build("pending"))
            description = f"through door {door}"
        limits = [lane.speed_limit_m_s for lane in lanes if lane.speed_limit_m_s]
        speed = min(speed, max(limits)) if limits else speed
        seconds = length / speed
    edge = Edge(
        edge_id=f"{a.node_id}->{b.node_id}",
        sequence_id=0,
        edge_description=description,
        released=True,
        start_node_id=a.node_id,
        end_node_id=b.node_id,
        max_speed=speed,
        length=round(length, 4),
        actions=[],
    )
    return edge, seconds


def _straight(a: Node, b: Node) -> float:
    pa, pb = a.node_position, b.node_position
    if pa is None or pb is None or pa.map_id != pb.map_id:
        return 0.0
    return math.hypot(pb.x - pa.x, pb.y - pa.y)


def _renumber(
    nodes: list[Node], edges: list[Edge], order_id: str
) -> tuple[list[Node], list[Edge], dict[str, str]]:
    """SequenceIds 0, 1, 2, ... in order; fresh actionIds; old id -> new id."""
    counter = itertools.count(1)
    renamed: dict[str, str] = {}

    def fresh(actions: list[Action]) -> list[Action]:
        out = []
        for action in actions:
            new_id = act.action_id(order_id, next(counter), action.action_type)
            renamed[action.action_id] = new_id
            out.append(action.model_copy(update={"action_id": new_id}))
        return out

    new_nodes = []
    new_edges = []
    for i, node in enumerate(nodes):
        new_nodes.append(
            node.model_copy(
                update={"sequence_id": 2 * i, "released": True, "actions": fresh(node.actions)}
            )
        )
        if i < len(edges):
            edge = edges[i]
            new_edges.append(
                edge.model_copy(
                    update={
                        "sequence_id": 2 * i + 1,
                        "released": True,
                        "edge_id": f"{node.node_id}->{nodes[i + 1].node_id}",
                        "start_node_id": node.node_id,
                        "end_node_id": nodes[i + 1].node_id,
                        "actions": fresh(edge.actions),
                    }
                )
            )
    return new_nodes, new_edges, renamed

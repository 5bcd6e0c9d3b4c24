"""The robot's whole path: routed legs between stops, with lift rides and door crossings.

Lift rides and doors become actions the robot performs before moving on:

- ``callLift`` (liftName, toMapId) goes on the node *before* the cabin node, so the robot
  waits outside until the cabin is there with its doors open, drives in, and the next edge
  leads to the cabin node on the destination level (another ``mapId``). When the path
  starts in the cabin, the action goes on the cabin node itself.
- ``openDoor`` (doorName) goes on the node where a lane that crosses the door starts.

Both are appended after the node's mission actions, so a door is not held open while the
robot dwells.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

from missions.compiler import actions as act
from missions.compiler.site_view import SiteView
from missions.compiler.stops import Stop
from missions.sites import LiftRide


@dataclass
class PathNode:
    """A node of the path, before it becomes a VDA 5050 node."""

    node_id: str
    x: float
    y: float
    level: str
    deviation_xy_m: float
    waypoint: str | None
    """The graph waypoint this node stands on; None for a free position."""
    description: str | None = None
    actions: list[act.ActionSpec] = field(default_factory=list)


@dataclass(frozen=True)
class PathEdge:
    """An edge between consecutive path nodes, before it becomes a VDA 5050 edge."""

    max_speed_m_s: float
    length_m: float
    time_s: float
    description: str | None = None
    lift: str | None = None


class PathBuilder:
    """Appends stops to a path that starts where the robot stands."""

    def __init__(self, view: SiteView, first: PathNode, anchor: str) -> None:
        self.view = view
        self.nodes = [first]
        self.edges: list[PathEdge] = []
        self.anchor = anchor
        """Graph waypoint the robot is on, or that its free position is joined to."""
        self.off_graph = first.waypoint is None
        self.last_field = "start"

    def visit(self, stop: Stop) -> int:
        """Drive to ``stop`` and put its actions there; returns the index of its node."""
        if stop.position is not None and self.off_graph and self.anchor == stop.waypoint:
            self._hop(stop)
        else:
            self._back_to_anchor(stop.speed_cap_m_s)
            self._route(stop.waypoint, stop.speed_cap_m_s, stop.field)
            if stop.position is not None:
                self._hop(stop)
        self.nodes[-1].actions.extend(stop.actions)
        self.last_field = stop.field
        return len(self.nodes) - 1

    def _cap(self, cap: float | None, lane_limit: float | None = None) -> float:
        return min(self.view.robot.max_speed_m_s, cap or math.inf, lane_limit or math.inf)

    def _append(self, node: PathNode, edge: PathEdge) -> None:
        self.nodes.append(node)
        self.edges.append(edge)

    def _straight(self, to: PathNode, cap: float | None) -> None:
        here = self.nodes[-1]
        length = math.hypot(to.x - here.x, to.y - here.y)
        speed = self._cap(cap)
        self._append(to, PathEdge(max_speed_m_s=speed, length_m=length, time_s=length / speed))

    def _waypoint_node(self, wp_id: str) -> PathNode:
        wp = self.view.waypoints[wp_id]
        return PathNode(
            node_id=wp.id,
            x=wp.x,
            y=wp.y,
            level=wp.level,
            deviation_xy_m=self.view.robot.allowed_deviation_xy_m,
            waypoint=wp.id,
            description=wp.name or None,
        )

    def _hop(self, stop: Stop) -> None:
        """Straight from here to the stop's free position."""
        if stop.position is None or stop.node_id is None:
            raise ValueError(f"{stop.field}: a free position needs coordinates and a node id")
        here = self.nodes[-1]
        if self.off_graph and here.node_id == stop.node_id:
            return  # already standing there
        x, y = stop.position
        node = PathNode(
            node_id=stop.node_id,
            x=x,
            y=y,
            level=self.view.waypoints[stop.waypoint].level,
            deviation_xy_m=stop.deviation_xy_m or self.view.robot.allowed_deviation_xy_m,
            waypoint=None,
            description=stop.description,
        )
        self._straight(node, stop.speed_cap_m_s)
        self.anchor, self.off_graph = stop.waypoint, True

    def _back_to_anchor(self, cap: float | None) -> None:
        if self.off_graph:
            self._straight(self._waypoint_node(self.anchor), cap)
            self.off_graph = False

    def _route(self, target: str, cap: float | None, field: str) -> None:
        if target == self.anchor:
            return
        found = self.view.route(self.anchor, target, from_field=self.last_field, to_field=field)
        rides = {(r.board_waypoint, r.alight_waypoint): r for r in found.lift_rides}
        for u, v in itertools.pairwise(found.waypoints):
            ride = rides.get((u, v))
            if ride is not None:
                self._ride(ride, v, cap)
            else:
                self._lane(u, v, cap)
        self.anchor = target

    def _ride(self, ride: LiftRide, alight: str, cap: float | None) -> None:
        before_cabin = self.nodes[-2] if len(self.nodes) > 1 else self.nodes[-1]
        before_cabin.actions.append(act.call_lift(ride.lift, ride.to_level))
        self._append(
            self._waypoint_node(alight),
            PathEdge(
                max_speed_m_s=self._cap(cap),
                length_m=0.0,
                time_s=ride.time_s,
                description=f"lift {ride.lift}: {ride.from_level} to {ride.to_level}",
                lift=ride.lift,
            ),
        )

    def _lane(self, u: str, v: str, cap: float | None) -> None:
        lane = self.view.lane(u, v)
        if lane is None:  # the router only uses lanes and lifts
            raise RuntimeError(f"route step {u!r} -> {v!r} is neither a lane nor a lift ride")
        description = None
        if lane.door:
            self.nodes[-1].actions.append(act.open_door(lane.door))
            description = f"through door {lane.door}"
        node = self._waypoint_node(v)
        here = self.nodes[-1]
        length = math.hypot(node.x - here.x, node.y - here.y)
        speed = self._cap(cap, lane.speed_limit_m_s)
        self._append(
            node,
            PathEdge(
                max_speed_m_s=speed,
                length_m=length,
                time_s=length / speed,
                description=description,
            ),
        )

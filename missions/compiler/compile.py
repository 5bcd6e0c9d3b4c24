"""Mission + site + robot → the VDA 5050 node/edge sequence of a :class:`CompiledMission`."""

from __future__ import annotations

import dataclasses
import math

from missions.compiler.actions import action_id
from missions.compiler.compiled import CompiledMission, DwellPointPlan
from missions.compiler.errors import MissionCompileError, present
from missions.compiler.path import PathBuilder, PathEdge, PathNode
from missions.compiler.quiet import QuietHours, Suppressed, suppress_quiet_actions
from missions.compiler.robot import RobotProfile, StartPose
from missions.compiler.site_view import SiteView
from missions.compiler.stops import mission_stops
from missions.report import PlannedPoint
from missions.sites import Site
from missions.types import GuidanceMission, MissionSpec
from missions.vda5050 import Action, Edge, Node, NodePosition


def compile_mission(
    mission: MissionSpec,
    site: Site,
    robot: RobotProfile,
    *,
    start: StartPose,
    order_id: str,
    release_until: int | None = None,
    quiet: QuietHours | None = None,
) -> CompiledMission:
    """Compile ``mission`` for ``robot`` standing at ``start`` on ``site``.

    ``release_until`` is the index of the last node the initial order releases (None:
    all). Raises :class:`MissionCompileError` naming the mission field that does not fit
    the site or the robot (``checkpoints.2``, ``targets.0.room``, ``from``,
    ``required_capability``, ``site``; ``start`` for the start pose). With ``quiet``,
    speech and spraying that would fall in a zone's quiet hours are left out
    (:mod:`missions.compiler.quiet`).
    """
    if not order_id.strip():
        raise ValueError("order_id: must not be empty")
    if mission.site != site.name:
        raise MissionCompileError(
            "site", f"the mission is for site {mission.site!r}, the map is {site.name!r}"
        )
    needed = mission.capability
    if needed not in robot.capabilities:
        have = ", ".join(c.value for c in robot.capabilities)
        raise MissionCompileError(
            "required_capability",
            f"robot {robot.serial_number!r} lacks {needed.value!r} (it has: {have})",
        )
    view = SiteView(site, robot)
    first, anchor = start_node(view, start)
    stops = mission_stops(mission, view, anchor)
    builder = PathBuilder(view, first, anchor)
    stop_nodes = [builder.visit(stop) for stop in stops.stops]
    silenced = (
        [] if quiet is None else suppress_quiet_actions(view, builder.nodes, builder.edges, quiet)
    )
    nodes, planned, dwell_points = _vda_nodes(builder.nodes, order_id)
    planned += _silenced_points(silenced, order_id)
    edges = _vda_edges(builder.nodes, builder.edges)
    duration = sum(e.time_s for e in builder.edges) + sum(
        a.duration_s for n in builder.nodes for a in n.actions
    )
    meeting = None if stops.meeting_stop is None else stop_nodes[stops.meeting_stop]
    return CompiledMission(
        order_id=order_id,
        manufacturer=robot.manufacturer,
        serial_number=robot.serial_number,
        mission=mission,
        nodes=tuple(nodes),
        edges=tuple(edges),
        node_waypoints=tuple(n.waypoint for n in builder.nodes),
        estimated_duration_s=round(duration, 3),
        dwell_points=tuple(dwell_points),
        planned_points=tuple(planned),
        room_plans=stops.room_plans,
        repeat_until_stopped=stops.repeat_until_stopped,
        meeting_node_index=meeting,
        on_no_show=mission.on_no_show if isinstance(mission, GuidanceMission) else None,
        initial_release=len(nodes) - 1 if release_until is None else release_until,
        quiet_suppressed=tuple(s.action.action_type for s in silenced),
    )


def _silenced_points(silenced: list[Suppressed], order_id: str) -> list[PlannedPoint]:
    """Planned points of sprays left out for quiet hours, under ids no action has: the
    report shows them as not done."""
    return [
        dataclasses.replace(
            s.action.dwell.planned_point,
            action_id=f"{order_id}-quiet-{number:03d}-{s.action.action_type}",
        )
        for number, s in enumerate(silenced, start=1)
        if s.action.dwell is not None
    ]


def start_node(view: SiteView, start: StartPose) -> tuple[PathNode, str]:
    """The first node (where the robot stands) and the graph waypoint it is joined to."""
    deviation = view.robot.allowed_deviation_xy_m
    if start.waypoint is not None:
        wp = view.waypoint(start.waypoint, "start")
    else:
        x, y = present(start.x, "start.x"), present(start.y, "start.y")
        level = view.level(present(start.level, "start.level"), "start.level")
        found = view.nearest_usable(level, x, y)
        if found is None:
            raise MissionCompileError(
                "start", f"no waypoint on level {level.name!r} the robot may use"
            )
        wp = found
        if math.hypot(wp.x - x, wp.y - y) > deviation:
            # Too far to count as on the waypoint: start at the robot's own position.
            node = PathNode("start", x, y, level.name, deviation, None, "start")
            return node, wp.id
    node = PathNode(wp.id, wp.x, wp.y, wp.level, deviation, wp.id, wp.name or None)
    return node, wp.id


def _vda_nodes(
    path: list[PathNode], order_id: str
) -> tuple[list[Node], list[PlannedPoint], list[DwellPointPlan]]:
    """VDA 5050 nodes with actionIds given in path order, and the dwell plan they carry."""
    nodes: list[Node] = []
    planned: list[PlannedPoint] = []
    dwell_points: list[DwellPointPlan] = []
    counter = 0
    for index, node in enumerate(path):
        actions: list[Action] = []
        for spec in node.actions:
            counter += 1
            ident = action_id(order_id, counter, spec.action_type)
            actions.append(spec.build(ident))
            if spec.dwell is not None:
                planned.append(dataclasses.replace(spec.dwell.planned_point, action_id=ident))
                dwell_points.append(
                    DwellPointPlan(
                        node_id=node.node_id,
                        action_id=ident,
                        x=round(node.x, 4),
                        y=round(node.y, 4),
                        level=node.level,
                        dwell_s=round(spec.dwell.dwell_s, 3),
                        predicted_dose_mj_cm2=_rounded(spec.dwell.predicted_dose_mj_cm2),
                        volume_ml=spec.dwell.volume_ml,
                    )
                )
        nodes.append(
            Node(
                node_id=node.node_id,
                sequence_id=2 * index,
                node_description=node.description,
                released=True,
                node_position=NodePosition(
                    x=round(node.x, 4),
                    y=round(node.y, 4),
                    map_id=node.level,
                    allowed_deviation_xy=node.deviation_xy_m,
                ),
                actions=actions,
            )
        )
    return nodes, planned, dwell_points


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _vda_edges(path: list[PathNode], edges: list[PathEdge]) -> list[Edge]:
    return [
        Edge(
            edge_id=f"{path[i].node_id}->{path[i + 1].node_id}",
            sequence_id=2 * i + 1,
            edge_description=edge.description,
            released=True,
            start_node_id=path[i].node_id,
            end_node_id=path[i + 1].node_id,
            max_speed=edge.max_speed_m_s,
            length=round(edge.length_m, 4),
            actions=[],
        )
        for i, edge in enumerate(edges)
    ]

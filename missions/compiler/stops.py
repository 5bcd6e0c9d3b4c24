"""From a mission to the ordered places the robot must be, with what it does there.

A :class:`Stop` is a graph waypoint, or a free position (a UV dwell point, a point target)
joined to a graph waypoint: its *anchor*. The robot routes over the graph to the anchor and
drives straight from there to the position (and back before routing on). Successive
positions with the same anchor, e.g. the dwell points of one room, are driven between
directly: they lie in the same room, and the agent's navigator plans the way between two
nodes itself (it follows no trajectory).

Per mission kind:

- Patrol: one stop per checkpoint (``speak`` if any, then ``patrolCheck``), ``rounds``
  times over; ``until_stopped`` gives one round. A zone sweep visits every usable
  waypoint inside the zone once, in a nearest-neighbour tour from the start improved by
  2-opt on travel times.
- UV-C: a waypoint or point target gets one ``uvDisinfect`` with the dwell time the dose
  model needs at the mission's ``distance_m`` (rounded up to 0.1 s with the robot's timing
  margin, as room plans are). A room (zone) is planned with :func:`plan_room`; each dwell
  point with a dwell time becomes a free position (points the plan gives 0 s are left
  out), anchored to the usable waypoint inside the room nearest the dwell points, else to
  the nearest one on the level. A room whose plan cannot light every spot is refused. If
  a level has UV-allowed zones, every UV position on it must lie in one of them.
- Spray: one ``sprayDisinfect`` per target with rate × volume; a room is sprayed from the
  usable waypoint inside it nearest its most open spot, else from that spot.
- Guidance: ``from`` (greeting, ``guideWaitForPerson``, follow-me) then ``to`` (arrival
  prompt), the way to ``to`` capped at the mission's speed.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from missions.compiler import actions as act
from missions.compiler.errors import MissionCompileError, present
from missions.compiler.robot import DWELL_DEVIATION_XY_M, RobotProfile
from missions.compiler.site_view import Point, SiteView, ZoneRef
from missions.report import PlannedPoint
from missions.sites import Level, Waypoint
from missions.sites.geometry import point_in_polygon
from missions.sites.routing import zone_blocks
from missions.types import (
    Checkpoint,
    DisinfectionMethod,
    DisinfectionMission,
    DisinfectionTarget,
    GuidanceMission,
    MissionSpec,
    PatrolCheck,
    PatrolMission,
    PromptSlot,
    TargetKind,
)
from missions.uv_dose import (
    DWELL_STEP_S,
    DWELL_TOLERANCE_S,
    DwellPoint,
    LampModel,
    RoomDosePlan,
    delivered_dose_mj_cm2,
    plan_room,
    uv_dwell_seconds,
)

_TWO_OPT_LIMIT = 60
"""Zone sweeps with more waypoints than this keep their nearest-neighbour tour."""


@dataclass(frozen=True)
class Stop:
    """One place the mission needs the robot at, and the actions it runs there."""

    field: str
    """Mission field the stop comes from, for errors (``checkpoints.2``, ``targets.0``)."""
    waypoint: str
    """Graph waypoint to route to: the stop itself, or the anchor of its position."""
    actions: tuple[act.ActionSpec, ...]
    position: Point | None = None
    """A free position to stand at, joined to ``waypoint``; None: stand on the waypoint."""
    node_id: str | None = None
    """Node id for the free position."""
    description: str | None = None
    speed_cap_m_s: float | None = None
    """Mission speed cap on the way to this stop (guidance leads at walking pace)."""
    deviation_xy_m: float | None = None


@dataclass
class MissionStops:
    """The stops of a mission and what the report and the server need besides."""

    stops: list[Stop]
    room_plans: dict[str, RoomDosePlan] = field(default_factory=dict)
    repeat_until_stopped: bool = False
    meeting_stop: int | None = None
    """Guidance: index of the stop where the robot waits for the person."""


def mission_stops(mission: MissionSpec, view: SiteView, start_wp: str) -> MissionStops:
    """The stops of any mission, in the order the robot visits them."""
    if isinstance(mission, PatrolMission):
        return _patrol(mission, view, start_wp)
    if isinstance(mission, DisinfectionMission):
        return _disinfection(mission, view)
    return _guidance(mission, view)


# ---------------------------------------------------------------------------- patrol


def _patrol(mission: PatrolMission, view: SiteView, start_wp: str) -> MissionStops:
    if mission.checkpoints is not None:
        one_round = [
            _checkpoint_stop(mission, checkpoint, f"checkpoints.{i}", view)
            for i, checkpoint in enumerate(mission.checkpoints)
        ]
    else:
        one_round = _zone_sweep(mission, present(mission.zone, "zone"), view, start_wp)
    until_stopped = mission.rounds == "until_stopped"
    rounds = 1 if isinstance(mission.rounds, str) else mission.rounds
    return MissionStops(stops=one_round * rounds, repeat_until_stopped=until_stopped)


def _checkpoint_stop(
    mission: PatrolMission, checkpoint: Checkpoint, field: str, view: SiteView
) -> Stop:
    wp = view.waypoint(checkpoint.waypoint, field)
    return Stop(
        field=field,
        waypoint=wp.id,
        actions=_patrol_actions(
            mission.speech_at(checkpoint),
            mission.dwell_at(checkpoint),
            mission.checks_at(checkpoint),
        ),
        description=wp.name or None,
    )


def _patrol_actions(
    speech: str | None, dwell_s: float, checks: list[PatrolCheck]
) -> tuple[act.ActionSpec, ...]:
    # A patrol mission has no language field: the agent speaks in its default (zh-CN).
    spoken = (act.speak(speech, None),) if speech else ()
    return (*spoken, act.patrol_check(dwell_s, checks))


def _zone_sweep(mission: PatrolMission, zone: str, view: SiteView, start_wp: str) -> list[Stop]:
    ref = view.zone(zone, "zone")
    inside = view.usable_in(ref)
    if not inside:
        raise MissionCompileError(
            "zone",
            f"zone {zone!r} holds no waypoint robot kind {view.robot.kind!r} can stand on",
        )
    ids = [start_wp, *(wp.id for wp in inside if wp.id != start_wp)]
    times = view.travel_times(ids)
    unreachable = [ids[j] for j in range(1, len(ids)) if not math.isfinite(times[0, j])]
    if unreachable:
        raise MissionCompileError(
            "zone",
            f"zone {zone!r}: no route from the start {start_wp!r} to {', '.join(unreachable)}",
        )
    order = _open_tour(times)
    if start_wp not in {wp.id for wp in inside}:
        order = order[1:]  # the start is not a checkpoint of the sweep
    speech = mission.speak_on_arrival
    by_id = {wp.id: wp for wp in inside}
    return [
        Stop(
            field="zone",
            waypoint=ids[k],
            actions=_patrol_actions(speech, mission.dwell_s, mission.checks),
            description=by_id[ids[k]].name or None,
        )
        for k in order
    ]


def _open_tour(times: np.ndarray) -> list[int]:
    """A short open path from node 0 through all others: nearest neighbour, then 2-opt."""
    n = len(times)
    tour = [0]
    left = set(range(1, n))
    while left:
        here = tour[-1]
        nxt = min(left, key=lambda j: (times[here, j], j))
        tour.append(nxt)
        left.remove(nxt)
    if n > _TWO_OPT_LIMIT:
        return tour

    def cost(path: list[int]) -> float:
        return float(sum(times[a, b] for a, b in itertools.pairwise(path)))

    best = cost(tour)
    improved = True
    while improved:
        improved = False
        for i in range(1, n - 1):
            for j in range(i + 1, n):
                # Reverse tour[i..j]; lanes may be one-way, so recompute the whole cost.
                candidate = tour[:i] + tour[i : j + 1][::-1] + tour[j + 1 :]
                candidate_cost = cost(candidate)
                if candidate_cost < best - 1e-9:
                    tour, best, improved = candidate, candidate_cost, True
    return tour


# ---------------------------------------------------------------------- disinfection


def _disinfection(mission: DisinfectionMission, view: SiteView) -> MissionStops:
    result = MissionStops(stops=[])
    rooms_seen: dict[str, int] = {}
    for i, target in enumerate(mission.targets):
        base = f"targets.{i}"
        if target.room is not None:
            if target.room in rooms_seen:
                raise MissionCompileError(
                    f"{base}.room",
                    f"room {target.room!r} is already targets.{rooms_seen[target.room]}",
                )
            rooms_seen[target.room] = i
        if mission.method is DisinfectionMethod.UV:
            result.stops += _uv_target(mission, target, base, view, result.room_plans)
        else:
            result.stops.append(_spray_target(mission, target, base, view))
    return result


def _lamp(mission: DisinfectionMission, robot: RobotProfile) -> LampModel:
    if mission.lamp is not None:
        return mission.lamp
    if robot.uv_irradiance_at_1m_mw_cm2 is None:
        raise MissionCompileError(
            "lamp",
            f"the mission names no lamp and robot {robot.serial_number!r} states no "
            "uv_irradiance_at_1m_mw_cm2",
        )
    return LampModel(irradiance_at_1m_mw_cm2=robot.uv_irradiance_at_1m_mw_cm2)


def planned_dwell_s(needed_s: float) -> float:
    """A dwell time as planned: rounded up to the step, with the robot's timing margin."""
    steps = math.ceil((needed_s + DWELL_TOLERANCE_S) / DWELL_STEP_S - 1e-9)
    return round(steps * DWELL_STEP_S, 6)


def _uv_target(
    mission: DisinfectionMission,
    target: DisinfectionTarget,
    base: str,
    view: SiteView,
    room_plans: dict[str, RoomDosePlan],
) -> list[Stop]:
    lamp = _lamp(mission, view.robot)
    dose = present(mission.target_dose_mj_cm2, "target_dose_mj_cm2")
    distance = present(mission.distance_m, "distance_m")
    if target.kind is TargetKind.ROOM:
        return _uv_room(mission, target, base, view, lamp, room_plans)
    wp, position, level = _stand_point(target, base, view)
    x, y = position if position is not None else (wp.x, wp.y)
    _check_uv_allowed(view, level, x, y, base)
    dwell = planned_dwell_s(uv_dwell_seconds(dose, lamp, distance))
    predicted = delivered_dose_mj_cm2(lamp, distance, dwell)
    point = PlannedPoint(
        action_id="",
        label=target.label,
        level=level.name,
        x=x,
        y=y,
        planned_dwell_s=dwell,
        target_dose_mj_cm2=dose,
    )
    action = act.uv_disinfect(
        dwell_s=dwell,
        target_dose_mj_cm2=dose,
        distance_m=distance,
        irradiance_at_1m_mw_cm2=lamp.irradiance_at_1m_mw_cm2,
        room=None,
        dwell=act.DwellInfo(dwell, predicted, None, point),
    )
    return [_target_stop(base, wp, position, (action,), target)]


def _uv_room(
    mission: DisinfectionMission,
    target: DisinfectionTarget,
    base: str,
    view: SiteView,
    lamp: LampModel,
    room_plans: dict[str, RoomDosePlan],
) -> list[Stop]:
    room = present(target.room, f"{base}.room")
    dose = present(mission.target_dose_mj_cm2, "target_dose_mj_cm2")
    distance = present(mission.distance_m, "distance_m")
    field = f"{base}.room"
    ref = view.zone(room, field)
    try:
        plan = plan_room(
            ref.zone.polygon,
            lamp,
            dose,
            dwell_point_count=present(mission.dwell_points_per_room, "dwell_points_per_room"),
        )
    except ValueError as exc:
        raise MissionCompileError(field, f"room {room!r}: {exc}") from exc
    if not plan.meets_target:
        raise MissionCompileError(
            field,
            f"room {room!r}: {plan.unreachable_sample_count} spots cannot be lit from "
            f"{len(plan.dwell_points)} dwell points (raise dwell_points_per_room)",
        )
    room_plans[room] = plan
    used = [(k, p) for k, p in enumerate(plan.dwell_points) if p.dwell_s > 0]
    anchor = _room_anchor(view, ref, [(p.x, p.y) for _, p in used], field)
    stops = []
    for k, point in _nearest_neighbour_order(used, (anchor.x, anchor.y)):
        _check_uv_allowed(view, ref.level, point.x, point.y, field)
        predicted = delivered_dose_mj_cm2(lamp, distance, point.dwell_s)
        planned = PlannedPoint(
            action_id="",
            label=f"{room} #{k + 1}",
            level=ref.level.name,
            x=point.x,
            y=point.y,
            room=room,
            room_dwell_index=k,
            planned_dwell_s=point.dwell_s,
        )
        action = act.uv_disinfect(
            dwell_s=point.dwell_s,
            target_dose_mj_cm2=round(predicted, 6),
            distance_m=distance,
            irradiance_at_1m_mw_cm2=lamp.irradiance_at_1m_mw_cm2,
            room=room,
            dwell=act.DwellInfo(point.dwell_s, predicted, None, planned),
        )
        stops.append(
            Stop(
                field=field,
                waypoint=anchor.id,
                actions=(action,),
                position=(point.x, point.y),
                node_id=f"{room}#{k + 1}",
                description=f"UV dwell point {k + 1} of {room}",
                deviation_xy_m=min(DWELL_DEVIATION_XY_M, view.robot.allowed_deviation_xy_m),
            )
        )
    return stops


def _room_anchor(view: SiteView, ref: ZoneRef, points: list[Point], field: str) -> Waypoint:
    """A usable waypoint inside the room nearest its dwell points, else nearest outside."""
    inside = view.usable_in(ref)
    cx, cy = (float(v) for v in np.mean(np.asarray(points), axis=0))
    anchor = view.nearest_usable(ref.level, cx, cy, among=inside or None)
    if anchor is None:
        raise MissionCompileError(
            field,
            f"no waypoint on level {ref.level.name!r} robot kind {view.robot.kind!r} may use",
        )
    return anchor


def _nearest_neighbour_order(
    points: list[tuple[int, DwellPoint]], start: Point
) -> list[tuple[int, DwellPoint]]:
    left = list(points)
    ordered = []
    here = start
    while left:
        nxt = min(left, key=lambda kp: (math.hypot(kp[1].x - here[0], kp[1].y - here[1]), kp[0]))
        ordered.append(nxt)
        left.remove(nxt)
        here = (nxt[1].x, nxt[1].y)
    return ordered


def _spray_target(
    mission: DisinfectionMission, target: DisinfectionTarget, base: str, view: SiteView
) -> Stop:
    volume_m3 = mission.volume_for(target)
    volume_ml = round(mission.spray_volume_ml(target), 6)
    duration = volume_ml / view.robot.spray_rate_ml_s
    if target.kind is TargetKind.ROOM:
        wp, position, level = _spray_room_stand(target, base, view)
    else:
        wp, position, level = _stand_point(target, base, view)
    x, y = position if position is not None else (wp.x, wp.y)
    point = PlannedPoint(
        action_id="",
        label=target.label,
        level=level.name,
        x=x,
        y=y,
        room=target.room,
        planned_volume_ml=volume_ml,
    )
    action = act.spray_disinfect(
        agent=present(mission.agent, "agent"),
        volume_ml=volume_ml,
        rate_ml_per_m3=present(mission.rate_ml_per_m3, "rate_ml_per_m3"),
        volume_m3=volume_m3,
        contact_time_s=mission.contact_time_s,
        re_entry_time_s=mission.re_entry_time_s,
        room=target.room,
        duration_s=duration,
        dwell=act.DwellInfo(duration, None, volume_ml, point),
    )
    return _target_stop(base, wp, position, (action,), target)


def _spray_room_stand(
    target: DisinfectionTarget, base: str, view: SiteView
) -> tuple[Waypoint, Point | None, Level]:
    """Spray a room from a waypoint inside it, else from its most open interior spot."""
    field = f"{base}.room"
    ref = view.zone(present(target.room, field), field)
    spot = interior_point(ref.zone.polygon)
    inside = view.usable_in(ref)
    if inside:
        wp = present(view.nearest_usable(ref.level, *spot, among=inside), field)
        return wp, None, ref.level
    anchor = view.nearest_usable(ref.level, *spot)
    if anchor is None:
        raise MissionCompileError(
            field,
            f"no waypoint on level {ref.level.name!r} robot kind {view.robot.kind!r} may use",
        )
    return anchor, spot, ref.level


def _stand_point(
    target: DisinfectionTarget, base: str, view: SiteView
) -> tuple[Waypoint, Point | None, Level]:
    """(waypoint, free position or None, level) for a waypoint or point target."""
    if target.kind is TargetKind.WAYPOINT:
        wp = view.waypoint(present(target.waypoint, base), f"{base}.waypoint")
        return wp, None, view.site.level(wp.level)
    x, y = present(target.x, f"{base}.x"), present(target.y, f"{base}.y")
    level = view.level(present(target.level, f"{base}.level"), f"{base}.level")
    for zone in level.zones:
        inside = point_in_polygon((x, y), zone.polygon, zone.holes)
        if inside and zone_blocks(zone, view.robot_class):
            raise MissionCompileError(
                base,
                f"point ({x}, {y}) lies in zone {zone.name!r}, "
                f"{zone.kind.value} for robot kind {view.robot.kind!r}",
            )
    anchor = view.nearest_usable(level, x, y)
    if anchor is None:
        raise MissionCompileError(
            base, f"no waypoint on level {level.name!r} robot kind {view.robot.kind!r} may use"
        )
    return anchor, (x, y), level


def _target_stop(
    base: str,
    wp: Waypoint,
    position: Point | None,
    actions: tuple[act.ActionSpec, ...],
    target: DisinfectionTarget,
) -> Stop:
    if position is None:
        return Stop(field=base, waypoint=wp.id, actions=actions, description=wp.name or None)
    return Stop(
        field=base,
        waypoint=wp.id,
        actions=actions,
        position=position,
        node_id=f"{base}@{position[0]:.2f},{position[1]:.2f}",
        description=target.label,
        deviation_xy_m=DWELL_DEVIATION_XY_M,
    )


def _check_uv_allowed(view: SiteView, level: Level, x: float, y: float, field: str) -> None:
    if not view.uv_allowed_here(level, x, y):
        raise MissionCompileError(
            field,
            f"({x:.2f}, {y:.2f}) on level {level.name!r} is outside every UV-allowed zone "
            "of that level",
        )


def interior_point(polygon: tuple[Point, ...], spacing_m: float = 0.25) -> Point:
    """The sample point of a polygon farthest from its outline (its most open spot)."""
    vertices = np.asarray(polygon, dtype=np.float64)
    low, high = vertices.min(axis=0), vertices.max(axis=0)
    spacing = max(spacing_m, float(np.sqrt(np.prod(high - low) / 4000)))
    xs = np.arange(low[0] + spacing / 2, high[0], spacing)
    ys = np.arange(low[1] + spacing / 2, high[1], spacing)
    grid = [(float(x), float(y)) for x in xs for y in ys]
    inside = [p for p in grid if point_in_polygon(p, polygon)]
    if not inside:
        cx, cy = vertices.mean(axis=0)
        return float(cx), float(cy)
    pts = np.asarray(inside)
    clearance = np.full(len(pts), np.inf)
    for a, b in zip(vertices, np.roll(vertices, -1, axis=0), strict=True):
        ab = b - a
        denom = float(ab @ ab) or 1.0
        t = np.clip(((pts - a) @ ab) / denom, 0.0, 1.0)
        clearance = np.minimum(clearance, np.linalg.norm(pts - (a + t[:, None] * ab), axis=1))
    best = pts[int(np.argmax(clearance))]
    return float(best[0]), float(best[1])


# -------------------------------------------------------------------------- guidance


def _guidance(mission: GuidanceMission, view: SiteView) -> MissionStops:
    origin = view.waypoint(mission.from_, "from")
    destination = view.waypoint(mission.to, "to")
    language = mission.language.value
    meet = Stop(
        field="from",
        waypoint=origin.id,
        actions=(
            act.speak(mission.prompt(PromptSlot.GREETING), language),
            act.guide_wait_for_person(mission.wait_for_person_timeout_s),
            act.speak(mission.prompt(PromptSlot.FOLLOW_ME), language),
        ),
        description=origin.name or None,
    )
    arrive = Stop(
        field="to",
        waypoint=destination.id,
        actions=(act.speak(mission.prompt(PromptSlot.ARRIVED), language),),
        description=destination.name or None,
        speed_cap_m_s=mission.max_speed_m_s,
    )
    return MissionStops(stops=[meet, arrive], meeting_stop=0)

"""Resuming a mission that stopped part-way (preempted, or its robot lost): what is left.

What is left depends on the mission kind (issue 8, item 2):

- disinfection: the targets not yet done; a target is done when every one of its
  disinfection actions FINISHED (a room half done is done again: a second dose is safe, a
  missing one is not). What was done is carried over, so the final report covers every
  target, those of earlier orders included;
- patrol with a number of rounds: the rounds not yet completed; the round in progress
  starts again from its first checkpoint. A patrol until stopped restarts its round;
- guidance: nothing can be carried over (the visitor walked with that robot); it starts
  again from the beginning.

Each part runs as a new order (``<mission id>-part<n>``), so action ids never repeat.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from missions.compiler import CompiledMission
from missions.report import ActionOutcome, PlannedPoint
from missions.types import DisinfectionMission, MissionSpec, PatrolMission, TargetKind
from missions.uv_dose import RoomDosePlan
from missions.vda5050 import ActionStatus

DISINFECT_ACTIONS = frozenset({"uvDisinfect", "sprayDisinfect"})


@dataclass(frozen=True)
class Resumption:
    """What is left of a mission, and what earlier parts did."""

    spec: MissionSpec
    """The mission as it remains (fewer targets or rounds); the stored spec is unchanged."""
    part: int
    """How many parts ran before (the next order is ``-part<part>``)."""
    note: str
    """Where it resumes, for the lifecycle event."""
    rounds_done: int = 0
    """Rounds of a patrol until stopped already done."""
    carried_points: tuple[PlannedPoint, ...] = ()
    carried_outcomes: tuple[ActionOutcome, ...] = ()
    carried_rooms: Mapping[str, RoomDosePlan] = field(default_factory=dict)


def order_id_for(mission_id: object, resumption: Resumption | None) -> str:
    """The order id of the next part of a mission."""
    return str(mission_id) if resumption is None else f"{mission_id}-part{resumption.part}"


def what_is_left(
    compiled: CompiledMission,
    statuses: Mapping[str, ActionStatus],
    results: Mapping[str, str | None],
    previous: Resumption | None,
    rounds_done: int = 0,
) -> Resumption:
    """The rest of `compiled` after the robot reported `statuses` for its actions."""
    part = 1 if previous is None else previous.part + 1
    spec = compiled.mission
    if isinstance(spec, DisinfectionMission):
        return _disinfection_left(compiled, spec, statuses, results, previous, part)
    if isinstance(spec, PatrolMission):
        return _patrol_left(compiled, spec, statuses, part, rounds_done)
    return Resumption(spec=spec, part=part, note="starts again from the beginning")


def _patrol_left(
    compiled: CompiledMission,
    spec: PatrolMission,
    statuses: Mapping[str, ActionStatus],
    part: int,
    rounds_done: int,
) -> Resumption:
    if spec.rounds == "until_stopped":
        return Resumption(
            spec=spec, part=part, note="restarts its current round", rounds_done=rounds_done
        )
    checks = [
        a.action_id for n in compiled.nodes for a in n.actions if a.action_type == "patrolCheck"
    ]
    per_round = max(1, len(checks) // max(1, spec.rounds))
    done = next(
        (i for i, a in enumerate(checks) if statuses.get(a) is not ActionStatus.FINISHED),
        len(checks),
    )
    completed = min(done // per_round, spec.rounds - 1)
    left = spec.rounds - completed
    return Resumption(
        spec=spec.model_copy(update={"rounds": left}),
        part=part,
        note=f"{completed} of {spec.rounds} rounds done; restarts round {completed + 1}",
    )


def _disinfection_left(
    compiled: CompiledMission,
    spec: DisinfectionMission,
    statuses: Mapping[str, ActionStatus],
    results: Mapping[str, str | None],
    previous: Resumption | None,
    part: int,
) -> Resumption:
    groups = target_points(spec, compiled.planned_points)
    done = [
        bool(points) and all(statuses.get(p.action_id) is ActionStatus.FINISHED for p in points)
        for points in groups
    ]
    if all(done):  # nothing left to run: keep the last target so there is an order to send
        done[-1] = False
    carried_points = list(previous.carried_points) if previous else []
    carried_outcomes = list(previous.carried_outcomes) if previous else []
    carried_rooms = dict(previous.carried_rooms) if previous else {}
    # A part followed again after a restart may be stopped twice: carry each action once.
    carried_ids = {p.action_id for p in carried_points}
    for points, finished in zip(groups, done, strict=True):
        if not finished:
            continue
        for point in points:
            if point.action_id in carried_ids:
                continue
            carried_points.append(point)
            status = statuses.get(point.action_id, ActionStatus.FINISHED)
            carried_outcomes.append(
                ActionOutcome(
                    action_id=point.action_id,
                    action_status=status.value,
                    result_description=results.get(point.action_id),
                )
            )
            if point.room is not None and point.room in compiled.room_plans:
                carried_rooms[point.room] = compiled.room_plans[point.room]
    left = [t for t, finished in zip(spec.targets, done, strict=True) if not finished]
    return Resumption(
        spec=spec.model_copy(update={"targets": left}),
        part=part,
        note=f"{sum(done)} of {len(done)} targets done; resumes at the next",
        carried_points=tuple(carried_points),
        carried_outcomes=tuple(carried_outcomes),
        carried_rooms=carried_rooms,
    )


def target_points(
    spec: DisinfectionMission, planned: tuple[PlannedPoint, ...]
) -> list[list[PlannedPoint]]:
    """The planned points of each target, in target order (a room has several)."""
    groups: list[list[PlannedPoint]] = []
    at = 0
    for target in spec.targets:
        if target.kind is TargetKind.ROOM:
            points = []
            while at < len(planned) and planned[at].room == target.room:
                points.append(planned[at])
                at += 1
            groups.append(points)
        else:
            groups.append(list(planned[at : at + 1]))
            at += 1
    return groups

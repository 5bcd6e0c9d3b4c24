"""Resumptions kept in the database (`missions.resumption`, revision 0008).

The runtime writes a mission's `Resumption` with the transition that stops it part-way
(preempted, suspended, reassigned), so a restarted server dispatches it again from what
is left, numbers its next order after the last part sent, and reports on every target,
those of earlier parts included. The stored form is plain JSON: the remaining spec, the
part number, the rounds done and what the disinfection report carries over (planned
points, action outcomes, and the dose plan of each room done, its arrays as lists of
floats, which JSON and PostgreSQL's JSONB give back unchanged).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

import numpy as np

from fleet_server.db.models import Mission
from fleet_server.missions.resume import Resumption
from missions.report import ActionOutcome, PlannedPoint
from missions.types import dump_mission, parse_mission
from missions.uv_dose import DwellPoint, LampModel, RoomDosePlan

log = logging.getLogger(__name__)

FORMAT = 1
"""Version of the stored form."""


def dump_resumption(resumption: Resumption) -> dict[str, Any]:
    """The JSON document stored for a resumption."""
    return {
        "format": FORMAT,
        "part": resumption.part,
        "note": resumption.note,
        "rounds_done": resumption.rounds_done,
        "spec": dump_mission(resumption.spec),
        "carried_points": [dataclasses.asdict(p) for p in resumption.carried_points],
        "carried_outcomes": [dataclasses.asdict(o) for o in resumption.carried_outcomes],
        "carried_rooms": {
            room: _dump_room(plan) for room, plan in resumption.carried_rooms.items()
        },
    }


def _dump_room(plan: RoomDosePlan) -> dict[str, Any]:
    return {
        "polygon": [[x, y] for x, y in plan.polygon],
        "lamp": plan.lamp.model_dump(mode="json"),
        "target_dose_mj_cm2": plan.target_dose_mj_cm2,
        "dwell_points": [[p.x, p.y, p.dwell_s] for p in plan.dwell_points],
        "sample_xy": plan.sample_xy.tolist(),
        "sample_is_wall": plan.sample_is_wall.tolist(),
        "dose_rate": plan.dose_rate.tolist(),
    }


def load_resumption(data: Mapping[str, Any], site_name: str) -> Resumption:
    """The resumption a stored document describes, for the site now named `site_name`;
    ValueError naming the field that cannot be read."""
    if data.get("format") != FORMAT:
        raise ValueError(f"resumption.format: expected {FORMAT}, got {data.get('format')!r}")
    try:
        field = "resumption.part"
        part = data["part"]
        if not isinstance(part, int) or isinstance(part, bool) or part < 1:
            raise ValueError(f"expected a whole number >= 1, got {part!r}")
        field = "resumption.spec"
        spec = parse_mission({**data["spec"], "site": site_name})
        field = "resumption.carried_points"
        points = tuple(PlannedPoint(**p) for p in data["carried_points"])
        field = "resumption.carried_outcomes"
        outcomes = tuple(ActionOutcome(**o) for o in data["carried_outcomes"])
        rooms: dict[str, RoomDosePlan] = {}
        for room, plan in data["carried_rooms"].items():
            field = f"resumption.carried_rooms.{room}"
            rooms[room] = _load_room(plan)
        field = "resumption.rounds_done"
        return Resumption(
            spec=spec,
            part=part,
            note=str(data["note"]),
            rounds_done=int(data["rounds_done"]),
            carried_points=points,
            carried_outcomes=outcomes,
            carried_rooms=rooms,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"{field}: {exc}") from exc


def _load_room(data: Mapping[str, Any]) -> RoomDosePlan:
    sample_xy = np.asarray(data["sample_xy"], dtype=np.float64).reshape(-1, 2)
    is_wall = np.asarray(data["sample_is_wall"], dtype=np.bool_)
    dwell_points = tuple(
        DwellPoint(float(x), float(y), float(t)) for x, y, t in data["dwell_points"]
    )
    dose_rate = np.asarray(data["dose_rate"], dtype=np.float64)
    if is_wall.shape != (len(sample_xy),) or dose_rate.shape != (
        len(sample_xy),
        len(dwell_points),
    ):
        raise ValueError("sample and dwell point counts do not match the dose rate matrix")
    return RoomDosePlan(
        polygon=tuple((float(x), float(y)) for x, y in data["polygon"]),
        lamp=LampModel.model_validate(data["lamp"]),
        target_dose_mj_cm2=float(data["target_dose_mj_cm2"]),
        dwell_points=dwell_points,
        sample_xy=sample_xy,
        sample_is_wall=is_wall,
        dose_rate=dose_rate,
    )


def keep_resumption(mission: Mission, resumption: Resumption) -> None:
    """Store what is left of the mission with it (the caller commits)."""
    mission.resumption = dump_resumption(resumption)


def stored_resumption(mission: Mission, site_name: str) -> Resumption | None:
    """The resumption stored with the mission, if any.

    One that cannot be read (logged) restarts the mission from its beginning, with the
    next part number still counting on from the stored one, so no orderId is used twice.
    """
    data = mission.resumption
    if data is None:
        return None
    try:
        return load_resumption(data, site_name)
    except ValueError as exc:
        part = data.get("part") if isinstance(data, Mapping) else None
        log.warning("mission %s: its stored resumption cannot be read: %s", mission.id, exc)
        if not isinstance(part, int) or isinstance(part, bool) or part < 1:
            return None
        return Resumption(
            spec=parse_mission({**mission.spec, "site": site_name}),
            part=part,
            note="starts again from the beginning (what earlier parts did could not be read)",
        )


def count_part_sent(mission: Mission) -> None:
    """The stored resumption's part went out and was lost with a restart: its next order
    is the part after it (the caller commits)."""
    data = mission.resumption
    part = data.get("part") if isinstance(data, Mapping) else None
    if data is not None and isinstance(part, int) and not isinstance(part, bool):
        mission.resumption = {**data, "part": part + 1}


def order_part(mission_id: object, order_id: str) -> int | None:
    """The part an orderId of the mission is: 0 the first, n for ``-part<n>``; None for
    another (the next round of a patrol until stopped)."""
    if order_id == str(mission_id):
        return 0
    suffix = order_id.removeprefix(f"{mission_id}-part")
    return int(suffix) if suffix != order_id and suffix.isdigit() else None


def resumption_of_order(
    mission: Mission, order_id: str, site_name: str
) -> tuple[Resumption | None, bool]:
    """For a live mission followed again after a restart under `order_id`: the resumption
    that order carries on from, and whether that order's progress is in it already (the
    mission was taken off its robot, e.g. suspended, before the restart)."""
    resumption = stored_resumption(mission, site_name)
    if resumption is None:
        return None, False
    part = order_part(mission.id, order_id)
    return resumption, part is not None and resumption.part > part

"""Missions that do not fit the site or the robot: each error names the mission field."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from missions.compiler import MissionCompileError, StartPose, compile_mission
from missions.sites import Site, Zone, ZoneKind
from missions.types import parse_mission
from tests.unit.missions.compiler.compiler_support import make_robot, with_zones

NURSE_L1 = "L1_left_nurse_center"


@dataclass
class Bad:
    """One mission that must not compile, and what the error must say."""

    body: dict[str, Any]
    field: str
    says: tuple[str, ...]
    site: str = "clinic"
    robot: dict[str, Any] = field(default_factory=dict)
    start: str = NURSE_L1


def patrol(*checkpoints: Any, **extra: Any) -> dict[str, Any]:
    return {"kind": "patrol", "site": "clinic", "checkpoints": list(checkpoints), **extra}


def uv(*targets: Any, **extra: Any) -> dict[str, Any]:
    body = {"kind": "disinfection", "site": "clinic", "method": "uv", "targets": list(targets)}
    return {**body, **extra}


def guide(frm: str, to: str) -> dict[str, Any]:
    return {"kind": "guidance", "site": "clinic", "from": frm, "to": to}


CASES = {
    "unknown checkpoint": Bad(
        patrol(NURSE_L1, "L1_right_nurse_center", "no_such_place"),
        "checkpoints.2",
        ("no_such_place",),
    ),
    "ambiguous checkpoint name": Bad(
        patrol("L1_sub_waiting_area_4"), "checkpoints.0", ("ambiguous", "L1:422", "L1:445")
    ),
    "checkpoint object form": Bad(
        patrol(NURSE_L1, {"waypoint": "L3_roof", "dwell_s": 5}), "checkpoints.1", ("L3_roof",)
    ),
    "checkpoint in keep-out zone": Bad(
        patrol("L1_right_treatment"), "checkpoints.0", ("may not enter",), site="keepout"
    ),
    "unknown patrol zone": Bad(
        {"kind": "patrol", "site": "clinic", "zone": "west_wing"}, "zone", ("west_wing",)
    ),
    "zone without waypoints": Bad(
        {"kind": "patrol", "site": "clinic", "zone": "ward_l2"}, "zone", ("ward_l2",), "rooms"
    ),
    "unknown UV waypoint": Bad(
        uv({"waypoint": "L1_left_treatment_1"}, {"waypoint": "L1_nowhere"}),
        "targets.1.waypoint",
        ("L1_nowhere",),
    ),
    "unknown room": Bad(uv({"room": "icu_7"}), "targets.0.room", ("icu_7",)),
    "duplicate room": Bad(
        uv({"room": "treatment_1"}, {"room": "treatment_1"}),
        "targets.1.room",
        ("targets.0",),
        "rooms",
    ),
    "room too small for its dwell points": Bad(
        uv({"room": "cupboard"}, dwell_points_per_room=50), "targets.0.room", ("cupboard",), "rooms"
    ),
    "unknown level of a point": Bad(
        uv({"x": 1.0, "y": 2.0, "level": "L9"}), "targets.0.level", ("L9", "L1, L2")
    ),
    "point in keep-out zone": Bad(
        uv({"x": 51.0, "y": -19.8, "level": "L1"}), "targets.0", ("keep_out",), "keepout"
    ),
    "UV outside the UV-allowed zones": Bad(
        uv({"waypoint": "L1_right_treatment"}), "targets.0", ("UV-allowed",), "rooms"
    ),
    "no lamp anywhere": Bad(
        uv({"waypoint": "L1_left_treatment_1"}),
        "lamp",
        ("uv_irradiance_at_1m_mw_cm2",),
        robot={"uv_irradiance_at_1m_mw_cm2": None},
    ),
    "unknown from": Bad(guide("front_door", "L2_north_counter"), "from", ("front_door",)),
    "unknown to": Bad(guide(NURSE_L1, "cardiology"), "to", ("cardiology",)),
    "unreachable without lifts": Bad(
        guide(NURSE_L1, "L2_north_counter"),
        "to",
        (NURSE_L1, "L2_north_counter", "(from)", "(to)"),
        site="no_lifts",
    ),
    "robot lacks the capability": Bad(
        guide(NURSE_L1, "L2_north_counter"),
        "required_capability",
        ("guidance", "'r1'"),
        robot={"capabilities": ["patrol"]},
    ),
    "spray robot for a UV mission": Bad(
        uv({"waypoint": "L1_left_treatment_1"}),
        "required_capability",
        ("uv_disinfection",),
        robot={"capabilities": ["spray_disinfection"]},
    ),
    "mission for another site": Bad(
        {**patrol(NURSE_L1), "site": "plaza"}, "site", ("plaza", "clinic")
    ),
    "unknown start": Bad(patrol(NURSE_L1), "start", ("nowhere",), start="nowhere"),
}


@pytest.fixture(scope="module")
def sites(clinic: Site, clinic_rooms: Site) -> dict[str, Site]:
    keep_out = Zone(
        name="isolation",
        kind=ZoneKind.KEEP_OUT,
        polygon=((49.0, -18.0), (53.0, -18.0), (53.0, -21.5), (49.0, -21.5)),
    )
    cupboard = Zone(
        name="cupboard",
        kind=ZoneKind.UV_ALLOWED,
        polygon=((1.0, -1.0), (2.0, -1.0), (2.0, -2.0), (1.0, -2.0)),
    )
    return {
        "clinic": clinic,
        "rooms": with_zones(clinic_rooms, {"L1": [cupboard]}),
        "keepout": with_zones(clinic, {"L1": [keep_out]}),
        "no_lifts": Site.model_validate({**clinic.model_dump(), "lifts": []}),
    }


def test_the_table_is_large_enough() -> None:
    assert len(CASES) >= 15


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_compile_error_names_the_field(case: Bad, sites: dict[str, Site]) -> None:
    mission = parse_mission(case.body)
    with pytest.raises(MissionCompileError) as caught:
        compile_mission(
            mission,
            sites[case.site],
            make_robot(**case.robot),
            start=StartPose(waypoint=case.start),
            order_id="bad",
        )
    assert caught.value.field == case.field
    message = str(caught.value)
    assert message.startswith(f"{case.field}: ")
    for text in case.says:
        assert text in message, message


def test_a_good_mission_on_the_same_sites_compiles(sites: dict[str, Site]) -> None:
    # The error cases fail for their stated reason, not because the fixtures are broken.
    robot = make_robot()
    start = StartPose(waypoint=NURSE_L1)
    compile_mission(
        parse_mission(guide(NURSE_L1, "L2_north_counter")),
        sites["keepout"],
        robot,
        start=start,
        order_id="ok1",
    )
    compile_mission(
        parse_mission(uv({"room": "treatment_1"})),
        sites["rooms"],
        robot,
        start=start,
        order_id="ok2",
    )
    compile_mission(
        parse_mission(guide(NURSE_L1, "L1_right_nurse_center")),
        sites["no_lifts"],
        robot,
        start=start,
        order_id="ok3",
    )

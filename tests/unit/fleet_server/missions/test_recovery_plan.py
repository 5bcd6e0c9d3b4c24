"""Order recovery rebuilds a plan from its recorded inputs: the same nodes and actionIds."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet_server.missions.recovery import plan_digest, start_of
from missions.compiler import RobotProfile, StartPose, compile_mission
from missions.sites import import_site
from missions.types import Capability, parse_mission

RMF = Path(__file__).resolve().parents[3] / "fixtures" / "maps" / "rmf"
SITE = import_site(RMF / "clinic.building.yaml", kind="hospital")
ROBOT = RobotProfile(
    manufacturer="fleetsim",
    serial_number="r1",
    capabilities=(Capability.PATROL,),
    max_speed_m_s=1.2,
)
PATROL = parse_mission(
    {
        "kind": "patrol",
        "site": SITE.name,
        "checkpoints": ["L1_sub_waiting_area_3", "L1_right_procedure"],
        "dwell_s": 4,
    }
)


@pytest.mark.parametrize(
    "start",
    [
        StartPose(waypoint="L1_left_nurse_center"),
        StartPose.at(21.6, -19.7, "L1"),  # within the deviation of a waypoint
        StartPose.at(24.0, -18.0, "L1"),  # off the graph: the order starts where it stands
    ],
)
def test_recorded_inputs_compile_to_the_same_plan(start: StartPose) -> None:
    sent = compile_mission(PATROL, SITE, ROBOT, start=start, order_id="m-1")
    recorded_start = StartPose.model_validate(start_of(sent).model_dump(mode="json"))
    spec = parse_mission(sent.mission.model_dump(mode="json", by_alias=True))
    profile = RobotProfile.model_validate(ROBOT.model_dump(mode="json"))
    again = compile_mission(spec, SITE, profile, start=recorded_start, order_id="m-1")
    assert plan_digest(again) == plan_digest(sent)
    assert again.order().model_dump(exclude={"timestamp"}) == sent.order().model_dump(
        exclude={"timestamp"}
    )


def test_digest_tells_a_changed_plan() -> None:
    start = StartPose(waypoint="L1_left_nurse_center")
    one = compile_mission(PATROL, SITE, ROBOT, start=start, order_id="m-1")
    other_id = compile_mission(PATROL, SITE, ROBOT, start=start, order_id="m-2")
    shorter = compile_mission(
        parse_mission({**PATROL.model_dump(mode="json"), "checkpoints": ["L1_right_procedure"]}),
        SITE,
        ROBOT,
        start=start,
        order_id="m-1",
    )
    assert len({plan_digest(one), plan_digest(other_id), plan_digest(shorter)}) == 3

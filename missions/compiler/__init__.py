"""Mission compiler: a mission, a site and a robot become VDA 5050 orders.

Typical use::

    compiled = compile_mission(
        mission, site, robot, start=StartPose(waypoint="L1_left_nurse_center"), order_id="m-42"
    )
    publish(compiled.order(header_id=next_header()))          # base + horizon
    publish(compiled.order_update(1, release_until=12))        # extend the base

See :mod:`missions.compiler.compiled` for base/horizon/update rules,
:mod:`missions.compiler.stops` for how each mission kind becomes stops and
:mod:`missions.compiler.path` for lift rides and doors.
"""

from missions.compiler.compile import compile_mission
from missions.compiler.compiled import CompiledMission, DwellPointPlan
from missions.compiler.errors import MissionCompileError
from missions.compiler.quiet import QuietHours, spraying_silenced
from missions.compiler.robot import (
    DEFAULT_DEVIATION_XY_M,
    DWELL_DEVIATION_XY_M,
    RobotProfile,
    RobotProfileError,
    StartPose,
    load_robot_profile,
)
from missions.compiler.stops import planned_dwell_s

__all__ = [
    "DEFAULT_DEVIATION_XY_M",
    "DWELL_DEVIATION_XY_M",
    "CompiledMission",
    "DwellPointPlan",
    "MissionCompileError",
    "QuietHours",
    "RobotProfile",
    "RobotProfileError",
    "StartPose",
    "compile_mission",
    "load_robot_profile",
    "planned_dwell_s",
    "spraying_silenced",
]

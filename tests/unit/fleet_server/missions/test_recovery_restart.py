"""Order recovery across a server restart, on a real SQLite database: the restarted runtime
follows again what the first one recorded."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleet_server.db.models import Mission, MissionOrder
from fleet_server.missions.recovery import plan_digest
from fleet_server.missions.runtime import _Dispatch
from fleet_server.missions.states import MissionState
from missions.compiler import CompiledMission, QuietHours, RobotProfile, StartPose, compile_mission
from missions.sites import Site
from missions.types import Capability, parse_mission
from tests.unit.fleet_server.missions.link_support import (
    MANUFACTURER,
    SITE_ID,
    LinkWorld,
    under_way,
)
from tests.unit.fleet_server.missions.link_support import profile as link_profile
from tests.unit.fleet_server.missions.server_support import (
    QUIET,
    QUIET_SITE,
    Server,
    stored_server,
)
from tests.unit.fleet_server.traffic.traffic_support import fixture_site


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with stored_server(tmp_path) as stored:
        yield stored


def robot_profile(serial: str) -> RobotProfile:
    return RobotProfile(
        manufacturer="acme",
        serial_number=serial,
        kind="service_robot",
        capabilities=(Capability.PATROL,),
        max_speed_m_s=1.0,
    )


QUIET_ROOM = QuietHours({"treatment_1": ((0.0, 86_400.0),)})
"""Quiet in the room drawn around L1_left_treatment_1 for the next day."""


def test_an_order_with_actions_silenced_for_quiet_hours_is_followed_again(
    server: Server,
) -> None:
    site: Site = QUIET
    spec = {
        "kind": "patrol",
        "site": QUIET_SITE,
        "dwell_s": 1,
        "checkpoints": [
            {"waypoint": "L1_right_nurse_center", "speak_on_arrival": "outside"},
            {"waypoint": "L1_left_treatment_1", "speak_on_arrival": "inside"},
        ],
    }
    mission_id = server.add_mission("q1", spec, MissionState.ACTIVE, site_id=QUIET_SITE)
    profile = robot_profile("q1")

    def compiled_with(quiet: QuietHours | None) -> CompiledMission:
        return compile_mission(
            parse_mission({**spec, "site": site.name}),
            site,
            profile,
            start=StartPose(waypoint="L1_left_nurse_center"),
            order_id=str(mission_id),
            quiet=quiet,
        )

    compiled = compiled_with(QUIET_ROOM)
    assert compiled.quiet_suppressed == ("speak",)
    compiled.order()
    first = server.runtime()
    first.recovery.record_dispatches(
        [_Dispatch(mission_id, ("acme", "q1"), compiled, QUIET_SITE, profile, quiet=QUIET_ROOM)]
    )
    first.close()
    # The same inputs without the quiet hours make another plan: the test means something.
    assert plan_digest(compiled_with(None)) != plan_digest(compiled)

    # Restarted when the quiet hours are over (or changed): the order is the recorded one.
    restarted = server.runtime()
    asyncio.run(restarted.recovery.adopt_live_missions())
    assert restarted.recovery.requeued == 0
    run = restarted.running[mission_id]
    assert plan_digest(run.compiled) == plan_digest(compiled)
    assert run.compiled.quiet_suppressed == ("speak",)
    assert run.quiet == QUIET_ROOM
    # An update recorded by the restarted runtime keeps the quiet hours for the next restart.
    update = run.compiled.order_update(1, None)
    restarted.recovery.record_follow_ups([(("acme", "q1"), update)], [run])
    restarted.close()
    again = server.runtime()
    asyncio.run(again.recovery.adopt_live_missions())
    assert again.recovery.requeued == 0
    assert plan_digest(again.running[mission_id].compiled) == plan_digest(compiled)
    again.close()
    with server.db.session() as session:
        mission = session.get(Mission, mission_id)
        assert mission is not None and mission.state == MissionState.ACTIVE
        row = session.get(MissionOrder, mission_id)
        assert row is not None and row.order_update_id == 1


def test_recorded_quiet_hours_that_are_not_quiet_hours_are_refused_naming_the_field() -> None:
    from fleet_server.missions.recovery import read_start

    with pytest.raises(ValueError, match=r"start\.quiet_hours"):
        read_start({"waypoint": "L1:396", "quiet_hours": {"windows": {"a": [[5, "x"]]}}})
    pose, quiet = read_start({"waypoint": "L1:396"})
    assert pose == StartPose(waypoint="L1:396") and quiet is None


def test_a_robot_under_way_at_a_restart_goes_on_under_traffic_control(server: Server) -> None:
    # a drives L1:396 -> 444 -> 416 -> 399 -> 401 -> 402 -> 403 when the server restarts;
    # b, sent by the restarted server, follows it to L1:399.
    world = LinkWorld(fixture_site("clinic"), {"a": "L1:396", "b": "L1:394"})
    spec = {"kind": "patrol", "site": SITE_ID, "checkpoints": ["L1:403"], "dwell_s": 1}
    mission_id = server.add_mission("a", spec, MissionState.ACTIVE)
    prepared = world.start("a", "L1:403", str(mission_id))
    first = server.runtime()
    key = (MANUFACTURER, "a")
    first.recovery.record_dispatches(
        [_Dispatch(mission_id, key, prepared, SITE_ID, link_profile("a"))]
    )
    first.close()
    for _ in range(70):
        world.step()
    node, released, update_id = under_way(world, "a")
    assert 0 < node < released < len(prepared.nodes) - 1

    restarted = server.runtime(world.live, world.orders)
    traffic = world.restart(restarted.traffic)
    asyncio.run(restarted.recovery.adopt_live_missions())
    manager = traffic.manager(SITE_ID)
    assert manager is not None
    wanted = {f"waypoint:{wp}" for wp in prepared.node_waypoints[node : released + 1]}
    assert wanted <= manager.holds("acme/a")
    # Nothing released outside traffic control: the restarted table releases the rest.
    assert restarted.recovery.resent == 0 and traffic.counters.unmanaged == 0
    run = restarted.running[mission_id]
    world.start("b", "L1:399", "m-b")
    world.run(600)
    assert sorted(world.done) == ["a", "b"]
    assert (run.compiled.last_update_id or 0) > update_id
    assert traffic.counters.reservation_conflicts == traffic.counters.errors == 0
    restarted.close()

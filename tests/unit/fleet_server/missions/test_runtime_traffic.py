"""Drives the mission runtime makes outside a mission go through traffic control: a guide
whose visitor does not come goes back through the reservation table. Stall alarms an
earlier run of the server left are cleared when it starts.

The runtime (on a real SQLite database) drives `LinkWorld` robots: real agents' executors
on kinematic bodies, orders and states through the real publisher and live fleet.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path

from fleet_server.alarms.store import apply_change
from fleet_server.db.models import Alarm
from fleet_server.missions.runtime import MissionRuntime, _Dispatch, _FollowUps
from fleet_server.missions.states import MissionState
from fleet_server.missions.traffic_stalls import STALL_ALARM, stale_stall_alarms
from missions.compiler import StartPose, compile_mission
from missions.types import Capability, parse_mission
from tests.unit.fleet_server.missions.link_support import (
    MANUFACTURER,
    SITE_ID,
    LinkWorld,
    orders_to,
    patrol_to,
    profile,
)
from tests.unit.fleet_server.missions.server_support import Server, stored_server
from tests.unit.fleet_server.traffic.traffic_support import fixture_site


def follow(world: LinkWorld, runtime: MissionRuntime, mission_id: uuid.UUID) -> None:
    """One step of the world with the runtime applying what its robots reported."""
    world.step()
    events = list(runtime._events)
    runtime._events.clear()
    if events:
        follow_ups = _FollowUps()
        runtime._apply_progress(events, follow_ups)
        runtime._publish(follow_ups)
        world.deliver()
    if mission_id not in runtime.running:
        world.running.pop((MANUFACTURER, "g"), None)


def dispatch_guidance(server: Server, world: LinkWorld, runtime: MissionRuntime) -> uuid.UUID:
    """g (at L1:396) is sent to meet a visitor at L1:399 who never comes (returns home)."""
    spec = {
        "kind": "guidance",
        "site": SITE_ID,
        "from": "L1:399",
        "to": "L1:403",
        "wait_for_person_timeout_s": 3,
        "on_no_show": "return_to_start",
    }
    mission_id = server.add_mission("g", spec, MissionState.DISPATCHED, capabilities=("guidance",))
    guide = profile("g").model_copy(update={"capabilities": (Capability.GUIDANCE,)})
    compiled = compile_mission(
        parse_mission({**spec, "site": world.site.name}),
        world.site,
        guide,
        start=StartPose(waypoint="L1:396"),
        order_id=str(mission_id),
    )
    assert compiled.meeting_node_index is not None
    dispatch = _Dispatch(
        mission_id,
        (MANUFACTURER, "g"),
        compiled.with_initial_release(compiled.meeting_node_index),
        SITE_ID,
        guide,
    )
    runtime._through_traffic([dispatch])
    runtime._send_initial(dispatch)
    world.running[(MANUFACTURER, "g")] = str(mission_id)
    world.deliver()
    return mission_id


def test_a_guide_whose_visitor_does_not_come_goes_back_through_traffic_control(
    tmp_path: Path,
) -> None:
    with stored_server(tmp_path) as server:
        world = LinkWorld(fixture_site("clinic"), {"g": "L1:396", "y": "L1:394"})
        world.robots["g"].surroundings.person_following = False
        runtime = server.runtime(world.live, world.orders)
        traffic = world.restart(runtime.traffic)
        key = (MANUFACTURER, "g")
        mission_id = dispatch_guidance(server, world, runtime)
        while mission_id in runtime.running:
            assert world.t < 300, world.link.snapshot(SITE_ID)
            follow(world, runtime, mission_id)
        assert server.state(mission_id) is MissionState.FAILED
        # On its way back: through the table, like a robot making way.
        assert traffic.busy(key)
        (row,) = [r for r in traffic.snapshot(SITE_ID)["robots"] if r["robot"] == "acme/g"]
        assert row["role"] == "walk" and row["order_id"] == f"{mission_id}-return"
        # y heads up the corridor g comes back along.
        world.start("y", "L1:401", "m-y")
        world.run(600)
        while traffic.busy(key):
            assert world.t < 900, world.link.snapshot(SITE_ID)
            world.step()
        assert world.done == ["y"]
        assert world.standing_waypoint("g") == "L1:396"
        counters = traffic.counters
        assert counters.unmanaged == counters.reservation_conflicts == counters.errors == 0
        # The two met head-on in the corridor: traffic control let one by the other.
        assert counters.deadlocks_resolved + counters.make_way >= 1
        back = {o for o, _, _ in orders_to(world, "g")} - {str(mission_id)}
        assert back and all(o.startswith(f"{mission_id}-return") for o in back)
        runtime.close()


def test_stall_alarms_an_earlier_run_left_uncleared_are_cleared_at_start(tmp_path: Path) -> None:
    with stored_server(tmp_path) as server:
        with server.db.session() as session:
            for key in ("traffic-stall:acme/s", "offline:acme/s"):
                session.add(
                    Alarm(
                        site_id=SITE_ID,
                        source="system",
                        severity="warning",
                        code=STALL_ALARM,
                        message="robot acme/s stands offline at L1:399; acme/w waits for it",
                        raised_at=datetime.now(UTC),
                        dedup_key=key,
                    )
                )
            session.commit()
        changes = stale_stall_alarms(server.db)
        assert [c.dedup_key for c in changes] == ["traffic-stall:acme/s"]
        with server.db.session() as session:
            for change in changes:
                apply_change(session, change)
            session.commit()
        assert stale_stall_alarms(server.db) == []


def test_traffic_control_keeps_releasing_while_the_database_is_unavailable(
    tmp_path: Path,
) -> None:
    # a drives L1:396 -> 444 -> 416 -> ... -> 403; idle stands on 416, so a's first release
    # ends at 444 and the rest comes only from traffic control's ticks.
    with stored_server(tmp_path) as server:
        world = LinkWorld(fixture_site("clinic"), {"a": "L1:396", "idle": "L1:416"})
        runtime = server.runtime(world.live, world.orders)
        world.restart(runtime.traffic)
        key = (MANUFACTURER, "a")
        spec = {"kind": "patrol", "site": SITE_ID, "checkpoints": ["L1:403"], "dwell_s": 1}
        mission_id = server.add_mission("a", spec, MissionState.DISPATCHED)
        compiled = patrol_to(world.site, "a", "L1:396", "L1:403", str(mission_id))
        dispatch = _Dispatch(mission_id, key, compiled, SITE_ID, profile("a"))
        database, away = tmp_path / "fleet.db", tmp_path / "away.db"

        def unplug(src: Path, dst: Path) -> None:
            server.db.engine.dispose()
            dst.unlink(missing_ok=True)
            src.rename(dst)

        async def drive() -> None:
            runtime._through_traffic([dispatch])
            runtime._send_initial(dispatch)
            world.deliver()
            assert dispatch.compiled.initial_release == 1
            unplug(database, away)  # the database goes away: every step fails
            while world.standing_waypoint("a") != "L1:403" or world.robots["a"].body.speed:
                assert world.t < 300, world.link.snapshot(SITE_ID)
                world.step(tick_link=False)
                assert not await runtime.step_or_keep_traffic()
                await asyncio.sleep(0)  # the link's flush
                world.deliver()
            assert runtime.running[mission_id].robot == key  # not recorded yet
            unplug(away, database)  # back: the robot's progress is applied
            while mission_id in runtime.running:
                assert world.t < 400, world.link.snapshot(SITE_ID)
                world.step(tick_link=False)
                assert await runtime.step_or_keep_traffic()
                await asyncio.sleep(0)
                world.deliver()

        asyncio.run(drive())
        assert server.state(mission_id) is MissionState.COMPLETED
        assert runtime.traffic.counters.make_way == 1
        assert runtime.traffic.counters.reservation_conflicts == 0
        runtime.close()

"""Faults around a running server: an agent killed, a robot's network cut, the broker restarted.

The tests share one server, broker and fleet and run in file order; each leaves the fleet
idle for the next (the killed agent stays dead).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.integration.faults.ledger import Ledger, StateSeen
from tests.integration.faults.rig import (
    REASSIGN_AFTER_S,
    ROBOT_KEEPALIVE_S,
    RecordProperty,
    Rig,
    ServerProcess,
    running_fleet,
)
from tests.support.mqtt import wait_until

ROBOTS = {
    "kill-a": ("L1_left_nurse_center", ["patrol"]),
    "cut-c": ("L1_right_nurse_center", ["patrol"]),
    "spare-b": ("L1_sub_waiting_area_2", ["patrol"]),
    "spare-d": ("L1_sub_waiting_area_7", ["patrol"]),
}
SERVER_KEEPALIVE_S = 30
"""The server's MQTT keepalive (fleet_server.mqtt_client.MqttLink default)."""


# One rig per test: a robot killed by one test stays where it died, and its reservation
# would hold up robots of the next test on the same corridors.
@pytest.fixture
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    workdir = tmp_path_factory.mktemp("fleet-faults")
    with running_fleet(workdir, ROBOTS, online_s=30, reconnect_max_s=ROBOT_KEEPALIVE_S) as rig:
        yield rig


def _robot_of(rig: Rig, mission_id: str) -> str | None:
    robot = rig.server.mission(mission_id)["robot"]
    return None if robot is None else str(robot)


def test_killed_agent_mission_paused_then_reassigned(
    rig: Rig, record_property: RecordProperty
) -> None:
    """An agent process killed mid-mission (no goodbye: the broker publishes its last
    will): the server raises a robot-offline alarm and pauses the mission; past the grace
    period the mission goes to another robot, which finishes it."""
    server = rig.server
    mission = server.patrol(
        "kill-a", ["L1_sub_waiting_area_3", "L1_sub_waiting_area_5"], dwell_s=8.0
    )
    server.await_states([mission], {"active"}, 30)
    killed_at = time.monotonic()
    rig.robots.call(rig.robots.fleet.crash_agent, "kill-a")
    server.await_states([mission], {"paused"}, 15)
    paused_s = time.monotonic() - killed_at
    assert wait_until(lambda: _robot_of(rig, mission) not in (None, "kill-a"), 30)
    reassigned_s = time.monotonic() - killed_at
    server.await_states([mission], {"completed"}, 60)
    ledger = rig.ledger()

    alarms = _alarms(server)
    offline = [a for a in alarms if a["code"] == "robot.offline" and "kill-a" in str(a["robot"])]
    transitions = [(e["from_state"], e["to_state"]) for e in server.events(mission)]
    lost = int(server.mission(mission)["state"] != "completed")
    twice = int(ledger.executed_twice(mission))
    record_property("paused_after_s", round(paused_s, 1))
    record_property("reassigned_after_s", round(reassigned_s, 1))
    record_property("grace_s", REASSIGN_AFTER_S)
    record_property("lost", lost)
    record_property("executed_twice", twice)
    assert offline, alarms
    assert ("active", "paused") in transitions and ("paused", "pending") in transitions
    assert reassigned_s >= REASSIGN_AFTER_S
    assert lost == 0
    assert twice == 0


def test_network_cut_past_grace_is_not_run_twice(rig: Rig, record_property: RecordProperty) -> None:
    """A robot's network cut for longer than the grace period, then restored: its mission
    went to another robot meanwhile; at its first state back the robot is told to cancel
    the old order and makes no further progress on it; the mission completes once."""
    server, robots = rig.server, rig.robots
    mission = server.patrol(
        "cut-c",
        ["L1_sub_waiting_area_5", "L1_sub_waiting_sucks_6", "L1_right_negative_air_pressure"],
        dwell_s=8.0,
    )
    server.await_states([mission], {"active"}, 30)
    cut_at = time.monotonic()
    robots.call(robots.fleet.cut_network, "cut-c")
    assert wait_until(lambda: _robot_of(rig, mission) not in (None, "cut-c"), 30)
    reassigned_s = time.monotonic() - cut_at
    time.sleep(1.0)
    restored_at = time.monotonic()
    robots.call(robots.fleet.restore_network, "cut-c")
    assert wait_until(
        lambda: _first_state_after(rig.ledger(), "cut-c", restored_at) is not None, 20
    )
    back = _first_state_after(rig.ledger(), "cut-c", restored_at)
    assert back is not None
    held = back.order_id.startswith(mission) and back.nodes_left > 0
    if held:
        # Still holding the mission that went elsewhere: it must be told to drop it.
        assert wait_until(
            lambda: any(
                t > restored_at and r == "cut-c" and a == "cancelOrder"
                for t, r, a, _ in rig.ledger().instant
            ),
            20,
        ), "the robot back from the cut was not told to cancel its old order: " + (
            _orders_trail(rig.ledger(), mission, cut_at)
        )
    server.await_states([mission], {"completed"}, 60)
    ledger = rig.ledger()

    lost = int(server.mission(mission)["state"] != "completed")
    twice = int(ledger.executed_twice(mission))
    record_property("cut_s", round(restored_at - cut_at, 1))
    record_property("held_old_order_when_back", int(held))
    record_property("reassigned_after_s", round(reassigned_s, 1))
    record_property("offline_actions", ledger.offline_actions(mission, "cut-c", cut_at))
    record_property("progress_after_cancel", ledger.progress_after_handover(mission))
    record_property("complete_runs", ledger.complete_executions(mission))
    record_property("lost", lost)
    record_property("executed_twice", twice)
    assert restored_at - cut_at > REASSIGN_AFTER_S
    assert lost == 0
    assert twice == 0, _orders_trail(ledger, mission, cut_at)
    assert ledger.complete_executions(mission) == 1, _orders_trail(ledger, mission, cut_at)


def test_broker_restart_everyone_reconnects_nothing_lost(
    rig: Rig, record_property: RecordProperty
) -> None:
    """The broker restarted (all sessions and retained messages gone) while one mission
    runs, and a second mission is created while it is down: every robot and the server
    are connected again within 2 × their keepalive of the broker's return, and both
    missions complete (no order and no action result lost)."""
    server, robots = rig.server, rig.robots
    running = server.patrol("spare-b", ["L1_sub_waiting_area_3", "L1_right_procedure"])
    server.await_states([running], {"active"}, 30)
    alive = [s for s in ROBOTS if s != "kill-a"]
    rig.broker.stop()
    created_while_down = server.patrol("spare-d", ["L1_sub_waiting_area_8"])
    time.sleep(2.0)
    rig.broker.start()
    back_at = time.monotonic()
    robot_s = _reconnect_time(lambda: all(robots.agent(s).link.connected for s in alive), back_at)
    server_s = _reconnect_time(lambda: _server_linked(server), back_at)
    server.await_states([running, created_while_down], {"completed"}, 60)
    ledger = rig.ledger()

    missions = [running, created_while_down]
    lost = sum(server.mission(m)["state"] != "completed" for m in missions)
    twice = sum(ledger.executed_twice(m) for m in missions)
    record_property("robots_reconnected_s", round(robot_s, 1))
    record_property("server_reconnected_s", round(server_s, 1))
    record_property("robot_keepalive_s", ROBOT_KEEPALIVE_S)
    record_property("lost", lost)
    record_property("executed_twice", twice)
    assert robot_s <= 2 * ROBOT_KEEPALIVE_S
    assert server_s <= 2 * SERVER_KEEPALIVE_S
    assert lost == 0
    assert twice == 0


def _reconnect_time(connected: Callable[[], bool], since: float, timeout_s: float = 90.0) -> float:
    assert wait_until(connected, timeout_s, interval_s=0.05), "not reconnected"
    return time.monotonic() - since


def _server_linked(server: ServerProcess) -> bool:
    try:
        metrics = server.http.get("/metrics").text
    except httpx.HTTPError:
        return False
    return "fleet_mqtt_link_connected 1" in metrics


def _alarms(server: ServerProcess) -> list[dict[str, object]]:
    body = server.get("/api/v1/alarms")
    items = body["items"] if isinstance(body, dict) else body
    return list(items)


def _orders_trail(ledger: Ledger, mission_id: str, since: float) -> str:
    """Who got which order of the mission when (seconds from `since`), for failures."""
    return (
        "; ".join(
            f"{o.at - since:+.1f} s {o.robot} {o.order_id[36:] or 'base'}/{o.update_id}"
            for o in ledger.orders_of(mission_id)
        )
        + " | states: "
        + "; ".join(
            f"{s.at - since:+.1f} s {s.robot} {s.order_id[36:] or 'base'} {s.last_node} "
            f"left={s.nodes_left} done={len(s.finished)}"
            for s in ledger.states
            if s.order_id.startswith(mission_id) and s.at > since - 1
        )
    )


def _first_state_after(ledger: Ledger, robot: str, since: float) -> StateSeen | None:
    return next((s for s in ledger.states if s.robot == robot and s.at > since), None)

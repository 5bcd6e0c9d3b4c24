"""Fault: the server process is killed (SIGKILL) mid-missions and started again."""

from __future__ import annotations

import time
from pathlib import Path

from tests.integration.faults.ledger import Ledger
from tests.integration.faults.rig import RecordProperty, running_fleet
from tests.support.mqtt import wait_until

ROBOTS = {
    "crash-1": ("L1_left_nurse_center", ["patrol"]),
    "crash-2": ("L1_right_nurse_center", ["patrol"]),
    "crash-3": ("L1_sub_waiting_area_7", ["patrol"]),
}


def test_server_killed_mid_missions_finds_every_mission_again(
    tmp_path: Path, record_property: RecordProperty
) -> None:
    """Server SIGKILLed with three missions running and one queued, restarted on the same
    database: every mission is found again in its state (none requeued) and the running ones
    are followed under their orderIds (none sent with a new id); the short patrol, which
    its robot finished while the server was down, completes from the robot's state; the
    long ones, still under way, are followed to their end; the queued one is dispatched;
    all complete."""
    with running_fleet(tmp_path, ROBOTS) as rig:
        server, recorder = rig.server, rig.recorder
        long_1 = server.patrol(
            "crash-1",
            ["L1_sub_waiting_area_2", "L1_left_treatment_1", "L1_sub_waiting_area_1"],
            dwell_s=15.0,
        )
        # Where the robot stands: an order of one node, released whole, so the robot
        # can finish it alone while the server is down.
        short = server.patrol("crash-2", ["L1_right_nurse_center"], dwell_s=30.0)
        long_3 = server.patrol(
            "crash-3",
            ["L1_right_negative_air_pressure", "L1_sub_waiting_area_8", "L1_right_procedure"],
            dwell_s=15.0,
        )
        running = [long_1, short, long_3]
        server.await_states(running, {"active"}, 20)
        queued = server.patrol("crash-2", ["L1_sub_waiting_area_5"])
        assert server.mission(queued)["state"] == "pending"

        server.kill()
        killed_at = time.monotonic()
        assert wait_until(lambda: rig.ledger().finished_on_robot(short), 30), _robot_trail(
            recorder.timed(), "crash-2"
        )
        downtime = time.monotonic() - killed_at
        in_flight = rig.ledger().in_flight(running)
        startup_s = server.start()
        restarted_at = time.monotonic()
        again = server.states(running)
        assert all(again[m] in ("active", "completed") for m in running), again
        server.await_states([*running, queued], {"completed"}, 60)
        settled_s = time.monotonic() - restarted_at
        ledger = rig.ledger()
        final = server.states([*running, queued])
        events = {m: server.events(m) for m in running}

    lost = sum(1 for state in final.values() if state != "completed")
    twice = sum(ledger.executed_twice(m) for m in [*running, queued])
    new_ids = {
        m: ledger.order_ids_sent(m) - ledger.order_ids_sent(m, before=killed_at) for m in running
    }
    requeued = [m for m in running if any(e["to_state"] == "pending" for e in events[m][1:])]
    record_property("missions", len(running) + 1)
    record_property("in_flight_at_restart", len(in_flight))
    record_property("downtime_s", round(downtime, 1))
    record_property("restart_to_ready_s", round(startup_s, 1))
    record_property("restart_to_all_completed_s", round(settled_s, 1))
    record_property("orders_with_new_id", sum(len(ids) for ids in new_ids.values()))
    record_property("lost", lost)
    record_property("executed_twice", twice)
    assert lost == 0
    assert twice == 0
    assert in_flight, "no mission was still running on its robot when the server came back"
    assert all(not ids for ids in new_ids.values()), new_ids
    assert not requeued, requeued
    causes = [e["cause"] for e in events[short]]
    assert causes[-1] == "order finished", causes
    assert {o.robot for o in ledger.orders_of(short)} == {"crash-2"}


def _robot_trail(messages: list[tuple[float, str, bytes]], robot: str) -> str:
    ledger = Ledger.read(messages)
    orders = [
        (o.order_id[-8:], o.update_id, sorted(o.action_ids))
        for o in ledger.orders
        if o.robot == robot
    ]
    states = [
        (s.order_id[-8:], s.last_node, s.nodes_left, sorted(s.finished))
        for s in ledger.states
        if s.robot == robot
    ]
    return f"robot {robot}: orders {orders}; last states {states[-5:]}"

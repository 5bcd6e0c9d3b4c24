"""Fault: PostgreSQL goes away for a while mid-missions and comes back.

The test runs its own PostgreSQL cluster (initdb in a temporary folder, a free port), so
stopping it touches nothing else on the machine; it is skipped when the PostgreSQL server
binaries are not installed.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fleet_server.broker import find_free_port
from tests.integration.faults.ledger import Ledger
from tests.integration.faults.rig import RecordProperty, running_fleet
from tests.support.mqtt import wait_until

ROBOTS = {
    "db-1": ("L1_left_nurse_center", ["patrol"]),
    "db-2": ("L1_right_nurse_center", ["patrol"]),
    "db-3": ("L1_sub_waiting_area_7", ["patrol"]),
}
OUTAGE_S = 10.0
"""How long the database stays down (real seconds; the robots' clock runs 6 × faster)."""
OUTAGE_LINE = re.compile(
    r"WARNING \S+: (.+): database unavailable \(.*\); retrying until it is back"
)
BACK_LINE = re.compile(r"WARNING \S+: (.+): database back after \d+ s; carrying on")


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


class PrivateCluster:
    """A PostgreSQL cluster of its own, run as the `postgres` user when we are root."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.folder = Path(tempfile.mkdtemp(prefix="fleet-pg-outage-"))
        self.data = self.folder / "data"
        self.port = find_free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # initdb refuses to run as root
            shutil.chown(self.folder, "postgres", "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        subprocess.run([*self.as_user, *args], check=True, capture_output=True, timeout=60)

    def init(self) -> None:
        self._run(
            str(self.bindir / "initdb"),
            "--auth=trust",
            "--username=postgres",
            "--no-sync",
            "-D",
            str(self.data),
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} -c fsync=off "
            "-c full_page_writes=off"
        )
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.folder / "postgres.log"),
            "-w",
            "start",
        )

    def stop(self) -> None:
        """Immediate stop: every connection drops at once, as when the host dies."""
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def cluster() -> Iterator[PrivateCluster]:
    bindir = _pg_bin()
    if bindir is None or not (bindir / "initdb").exists():
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not in /usr/lib/postgresql")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.skip("running as root and no runuser to start PostgreSQL as `postgres`")
    pg = PrivateCluster(bindir)
    try:
        pg.init()
        pg.start()
        yield pg
    finally:
        pg.remove()


def test_database_outage_robots_carry_on_and_nothing_is_lost(
    tmp_path: Path, cluster: PrivateCluster, record_property: RecordProperty
) -> None:
    """PostgreSQL stopped (immediate shutdown) for 10 s with three missions under way: the
    robots keep executing their orders; the API answers 503 with a `database-unavailable`
    problem document and /healthz says the database is down; each background loop of the
    server logs the outage once and carries on when it is back; the mission its robot
    finished during the outage is recorded completed from the robot's state, the others
    are followed to their end; all complete, none run twice."""
    with running_fleet(
        tmp_path, ROBOTS, FLEET_DATABASE_URL=cluster.url, FLEET_TELEMETRY_INTERVAL_S="1"
    ) as rig:
        server, recorder = rig.server, rig.recorder
        # Where the robot stands, released whole: it finishes alone during the outage.
        short = server.patrol("db-1", ["L1_left_nurse_center"], dwell_s=24.0)
        long_2 = server.patrol(
            "db-2", ["L1_right_negative_air_pressure", "L1_sub_waiting_area_8"], dwell_s=32.0
        )
        long_3 = server.patrol(
            "db-3", ["L1_sub_waiting_area_5", "L1_sub_waiting_area_2"], dwell_s=32.0
        )
        missions = [short, long_2, long_3]
        server.await_states(missions, {"active"}, 20)

        cluster.stop()
        down_at = time.monotonic()
        api = server.http.get("/api/v1/missions", headers=server._headers)
        created = server.http.post(
            "/api/v1/missions",
            headers=server._headers,
            json={"kind": "patrol", "site": "clinic", "checkpoints": ["L1_left_nurse_center"]},
        )
        health = server.http.get("/healthz")
        assert wait_until(lambda: rig.ledger().finished_on_robot(short), OUTAGE_S), (
            "the short patrol did not finish on its robot during the outage"
        )
        progress_during = _progress_between(recorder.timed(), down_at, time.monotonic())
        time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down_at)))
        in_flight = rig.ledger().in_flight(missions)
        cluster.start()
        back_at = time.monotonic()
        assert wait_until(lambda: server.http.get("/healthz").status_code == 200, 15), (
            server.http.get("/healthz").text
        )
        recovered_s = time.monotonic() - back_at
        assert wait_until(lambda: server._signed_in(), 10)
        server.await_states(missions, {"completed"}, 40)
        settled_s = time.monotonic() - back_at
        # The runtime still dispatches: a mission created after the outage completes.
        after = server.patrol("db-1", ["L1_sub_waiting_area_1"], dwell_s=2.0)
        server.await_states([after], {"completed"}, 30)
        ledger = rig.ledger()
        final = server.states([*missions, after])
        events = {m: server.events(m) for m in missions}
        alive = server.process is not None and server.process.poll() is None
    log = server.log_tail(lines=100_000)

    lost = sum(1 for state in final.values() if state != "completed")
    twice = sum(ledger.executed_twice(m) for m in [*missions, after])
    record_property("missions", len(missions) + 1)
    record_property("outage_s", OUTAGE_S)
    record_property("robot_progress_reports_during_outage", progress_during)
    record_property("in_flight_when_back", len(in_flight))
    record_property("healthy_again_s", round(recovered_s, 1))
    record_property("back_to_all_completed_s", round(settled_s, 1))
    record_property("lost", lost)
    record_property("executed_twice", twice)
    assert alive, log[-5000:]
    for response in (api, created):
        _assert_database_problem(response.status_code, response.headers, response.json())
    assert health.status_code == 503 and health.json()["database"] is False, health.text
    assert progress_during > 0
    assert lost == 0, (final, events, log[-5000:])
    assert twice == 0
    causes = [e["cause"] for e in events[short]]
    assert causes[-1] == "order finished", causes
    assert in_flight, "no mission was still running on its robot when the database came back"
    down = [m.group(1) for m in OUTAGE_LINE.finditer(log)]
    back = [m.group(1) for m in BACK_LINE.finditer(log)]
    assert "mission runtime" in down, log[-5000:]
    assert sorted(down) == sorted(set(down)) == sorted(back), (down, back)
    assert "Traceback" not in log, log[log.index("Traceback") - 2000 :][:6000]


def _assert_database_problem(status: int, headers: Any, body: dict[str, Any]) -> None:
    assert status == 503, (status, body)
    assert headers["content-type"].startswith("application/problem+json"), headers
    assert body["type"] == "urn:fleet:problem:database-unavailable", body
    assert "Traceback" not in str(body) and "psycopg" not in str(body), body
    assert int(headers["retry-after"]) >= 1, headers


def _progress_between(messages: list[tuple[float, str, bytes]], start: float, end: float) -> int:
    """States in [start, end) showing a node traversed or an action finished since the
    robot's previous state: the robots went on with their orders."""
    count = 0
    last: dict[str, tuple[tuple[str, int], frozenset[str]]] = {}
    for state in Ledger.read(messages).states:
        seen = (state.last_node, state.finished)
        before = last.get(state.robot)
        last[state.robot] = seen
        if start <= state.at < end and before is not None and before != seen:
            count += 1
    return count

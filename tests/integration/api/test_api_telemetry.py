"""Telemetry history end to end: a robot reporting over Mosquitto is sampled into the database
at most once per interval, and the robots API reads it back."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from fleet_server.broker import MosquittoBroker
from fleet_server.db.models import Site, TelemetrySample
from tests.integration.api.cast import (
    ADMIN_PASSWORD,
    app_settings,
    running_app,
    services_of,
    sign_in,
)
from tests.integration.api.robot_messages import PahoRobot
from tests.support.mqtt import wait_until
from tests.unit.fleet_server.db.databases import BACKENDS, temporary_database

INTERVAL_S = 0.3


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_reporting_robot_is_sampled_once_per_interval(
    backend: str, module_broker: MosquittoBroker, tmp_path: Path
) -> None:
    with temporary_database(backend, tmp_path) as url:
        settings = app_settings(module_broker.port, url, tmp_path, telemetry_interval_s=INTERVAL_S)
        with running_app(settings) as client:
            services = services_of(client)
            with services.db.session() as session:
                session.add(Site(id="north", name="North", kind="hospital"))
                session.commit()
            admin = sign_in(client, "admin", ADMIN_PASSWORD)
            body = {
                "manufacturer": "acme",
                "serial_number": "t1",
                "kind": "patrol_robot",
                "capabilities": ["patrol"],
                "site_id": "north",
            }
            assert client.post("/api/v1/robots", json=body, headers=admin).status_code == 201
            robot, stranger = (
                PahoRobot(module_broker.port, "acme", "t1"),
                PahoRobot(module_broker.port, "ghost", "t9"),
            )
            try:
                # Twenty states in about one second: a handful of samples, not twenty.
                for step in range(20):
                    robot.state(x=float(step), battery=90.0 - step)
                    stranger.state(x=float(step))
                    time.sleep(0.05)

                def stored() -> int:
                    with services.db.session() as session:
                        return int(
                            session.scalar(select(func.count()).select_from(TelemetrySample)) or 0
                        )

                assert wait_until(lambda: stored() >= 2, 5)
                assert stored() <= 1.0 / INTERVAL_S * 2 + 2
            finally:
                robot.close()
                stranger.close()
            time.sleep(3 * INTERVAL_S)  # the last state's sample is in; nothing new comes
            history = client.get("/api/v1/robots/acme/t1/telemetry", headers=admin).json()
            xs = [p["x"] for p in history["points"]]
            assert xs == sorted(xs) and len(xs) == history["stored"] >= 2
            assert history["points"][-1]["map_id"] == "L1"
            assert services.telemetry.counters.samples == history["stored"]

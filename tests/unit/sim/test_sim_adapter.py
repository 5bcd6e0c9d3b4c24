"""The real order executor driving a robot of the world through the sim adapter."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from missions.sites import Site, Waypoint
from missions.vda5050 import ActionStatus
from robot_agent.actions import ActionContext
from robot_agent.adapter import Device
from robot_agent.executor import OrderExecutor
from sim.adapter import SimAdapter, SimSurroundings
from sim.clock import ManualClock
from sim.faults import FaultInjector, FaultSpec
from sim.models import load_models
from sim.people import PeopleFlow
from sim.sitemaps import load_site, map_path
from sim.world import World, WorldSettings
from tests.support.orders import N, action, order

CST = timezone(timedelta(hours=8))


@pytest.fixture(scope="module")
def clinic() -> Site:
    return load_site(map_path("clinic"))


def wp(site: Site, ref: str) -> Waypoint:
    return next(w for w in site.all_waypoints() if ref in (w.id, w.name))


class Robot:
    def __init__(self, site: Site, kind: str, at: str, **settings: float) -> None:
        self.clock = ManualClock(start=datetime(2025, 3, 3, 10, 0, tzinfo=CST))
        self.world = World(site, start=self.clock.start, settings=WorldSettings(**settings))
        start = wp(site, at)
        self.body = self.world.add_robot(
            kind, model=load_models()[kind], x=start.x, y=start.y, level=start.level
        )
        self.adapter = SimAdapter(self.body, SimSurroundings())
        self.ex = OrderExecutor(
            ActionContext(
                adapter=self.adapter,
                monotonic=self.clock.monotonic,
                wallclock=self.clock.wallclock,
            )
        )
        self.injector: FaultInjector | None = None

    def run(self, seconds: float, dt: float = 0.1) -> None:
        for _ in range(round(seconds / dt)):
            self.clock.advance(dt)
            self.world.step(dt)
            if self.injector is not None:
                self.injector.tick()
            self.ex.tick()

    def status(self, action_id: str) -> ActionStatus:
        return self.ex.runs[action_id].status


def node(site: Site, ref: str, **kw: object) -> N:
    w = wp(site, ref)
    return N(w.id, w.x, w.y, map_id=w.level, **kw)  # type: ignore[arg-type]


def test_guide_calls_the_lift_rides_and_arrives_upstairs(clinic: Site) -> None:
    robot = Robot(clinic, "guide", "L1:370", door_open_delay_s=2.0)
    lift = next(lf for lf in robot.world.lifts if lf.name == "lift_1")
    lift.at_level = robot.world.level_index["L2"]
    call = action("callLift", "c1", liftName="lift_1", toMapId="L2")
    wait = action("guideWaitForPerson", "w1", timeoutS=60.0)
    nodes = [
        node(clinic, "L1:370", actions=[wait, call]),
        node(clinic, "L2:281"),
        node(clinic, "L2_right_nurse_center"),
    ]
    robot.ex.receive_order(order("o1", nodes, serial="guide"))
    robot.run(60)
    assert robot.status("w1") is ActionStatus.FINISHED  # the visitor came along
    assert robot.status("c1") is ActionStatus.FINISHED
    assert robot.body.map_id == "L2"
    robot.run(120)
    assert robot.ex.book.last_node_id == wp(clinic, "L2_right_nurse_center").id
    assert robot.world.visitor_following(robot.body.i)


def test_uv_dwell_is_interrupted_by_people_from_the_crowd(clinic: Site) -> None:
    robot = Robot(clinic, "uvc", "L1_right_treatment")
    here = wp(clinic, "L1_right_treatment")
    hourly = tuple(1 if h == 10 else 0 for h in range(24))
    area = (here.name, "L1_right_negative_air_pressure")
    robot.world.add_people([PeopleFlow("ward", "L1", hourly, waypoints=area)])
    uv = action("uvDisinfect", "uv1", dwellS=120.0, targetDoseMjCm2=100.0, distanceM=1.0)
    robot.ex.receive_order(order("o1", [node(clinic, here.id, actions=[uv])], serial="uvc"))
    lamp_on = []
    for _ in range(600):
        robot.run(1.0)
        lamp_on.append(Device.UV_LAMP in robot.adapter.devices_on)
        assert lamp_on[-1] == bool(robot.world.r.uv_on[robot.body.i])
    result = json.loads(robot.ex.runs["uv1"].result or "{}")
    assert robot.status("uv1") is ActionStatus.FINISHED
    assert any(i["cause"] == "personDetected" for i in result["interruptions"])
    assert result["dwellS"] == pytest.approx(120.0, abs=0.2)
    assert not all(lamp_on)


def test_patrol_check_finds_the_smoke_the_fault_put_there(clinic: Site) -> None:
    robot = Robot(clinic, "patrol", "L1_left_nurse_center")
    robot.injector = FaultInjector(
        [
            FaultSpec(
                kind="patrol_anomaly",
                at_s=0,
                duration_s=600,
                anomaly="smoke",
                waypoint="L1_left_nurse_center",
            )
        ],
        robot.world,
        None,
    )
    check = action("patrolCheck", "p1", dwellS=2.0, checks=["smoke_absent", "no_intruder"])
    robot.ex.receive_order(
        order("o1", [node(clinic, "L1_left_nurse_center", actions=[check])], serial="patrol")
    )
    robot.run(5)
    result = json.loads(robot.ex.runs["p1"].result or "{}")
    assert result["anomalies"] == ["smoke_absent"]


def test_devices_follow_the_model_and_charging_needs_a_site_charger(clinic: Site) -> None:
    robot = Robot(clinic, "patrol", "deliveryRobot_2_charger")
    assert not robot.adapter.set_device(Device.UV_LAMP, True)  # a patrol robot has no lamp
    assert robot.adapter.start_charging() and robot.body.charging
    far = Robot(clinic, "uvc", "L1_right_treatment")
    assert not far.adapter.start_charging()
    assert far.adapter.set_device(Device.UV_LAMP, True)
    assert set(robot.adapter.read_sensors()) == set(load_models()["patrol"].sensors)


def test_open_door_waits_for_the_world_door(clinic: Site) -> None:
    robot = Robot(clinic, "patrol", "L1_left_nurse_center", door_open_delay_s=3.0)
    door = action("openDoor", "d1", doorName="L1_clinic_a")
    nodes = [node(clinic, "L1_left_nurse_center", actions=[door]), node(clinic, "L1:398")]
    robot.ex.receive_order(order("o1", nodes, serial="patrol"))
    robot.run(2.0)
    assert robot.status("d1") is ActionStatus.RUNNING
    robot.run(2.0)
    assert robot.status("d1") is ActionStatus.FINISHED
    assert robot.world.door_open("L1_clinic_a")

"""The vectorised world: driving, lifts, doors, charging, battery, wandering."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from missions.sites import GeoReference, Lane, Level, Site, SiteKind, Waypoint
from sim.kinematic import Goal, KinematicRobot
from sim.models import RobotModel, load_models
from sim.sitemaps import load_site, map_path
from sim.world import World, WorldSettings


@pytest.fixture(scope="module")
def clinic() -> Site:
    return load_site(map_path("clinic"))


@pytest.fixture(scope="module")
def models() -> dict[str, RobotModel]:
    return load_models()


def run(world: World, seconds: float, dt: float = 0.1) -> None:
    for _ in range(round(seconds / dt)):
        world.step(dt)


def test_many_robots_drive_exactly_like_the_single_body_reference() -> None:
    rng = np.random.default_rng(3)
    world = World()
    n = 40
    starts = rng.uniform(-20, 20, size=(n, 2))
    goals = rng.uniform(-20, 20, size=(n, 2))
    speeds = rng.uniform(0.4, 1.6, size=n)
    world.add_robots(n, names=[f"r{i}" for i in range(n)], x=starts[:, 0], y=starts[:, 1])
    world.r.max_speed[:] = speeds
    refs = []
    for i in range(n):
        ref = KinematicRobot(x=starts[i, 0], y=starts[i, 1], max_speed_m_s=speeds[i])
        limit = 0.7 if i % 2 else math.inf
        ref.set_goal(Goal(goals[i, 0], goals[i, 1], "L1", max_speed=limit, tolerance=0.25))
        world.robot(i).set_goal(Goal(goals[i, 0], goals[i, 1], "L1", limit, 0.25))
        refs.append(ref)
    for _ in range(300):
        world.step(0.1)
        for ref in refs:
            ref.step(0.1)
        np.testing.assert_allclose(world.r.x, [r.x for r in refs], atol=1e-9)
        np.testing.assert_allclose(world.r.y, [r.y for r in refs], atol=1e-9)
        np.testing.assert_allclose(world.r.speed, [r.speed for r in refs], atol=1e-9)
    assert [world.robot(i).goal_reached for i in range(n)] == [r.goal_reached for r in refs]
    assert sum(r.goal_reached for r in refs) > n // 2


def test_speed_respects_limits_and_the_robot_brakes_onto_the_goal() -> None:
    world = World()
    robot = world.add_robot("a", max_speed_m_s=1.5, accel_m_s2=0.5)
    robot.set_goal(Goal(20.0, 0.0, "L1", max_speed=1.0, tolerance=0.25))
    speeds = []
    for _ in range(400):
        world.step(0.1)
        speeds.append(robot.speed)
    assert max(speeds) == pytest.approx(1.0)
    assert all(b - a <= 0.5 * 0.1 + 1e-9 for a, b in itertools.pairwise(speeds))
    # Arrival is within 2 cm, as for the single-body reference.
    assert robot.goal_reached and (robot.x, robot.y) == pytest.approx((20.0, 0.0), abs=0.02)
    assert robot.odometer_m == pytest.approx(robot.x)


def test_paused_flat_or_charging_robots_hold_still() -> None:
    world = World()
    a, b, c = (world.add_robot(n) for n in "abc")
    for robot in (a, b, c):
        robot.set_goal(Goal(5.0, 0.0, "L1", math.inf, 0.25))
    a.paused = True
    world.r.battery_wh[b.i] = 0.0
    c.charging = True
    run(world, 3)
    assert (a.x, b.x, c.x) == (0.0, 0.0, 0.0)
    a.paused = False
    run(world, 10)
    assert a.goal_reached and not b.goal_reached


def test_lift_ride_takes_wait_plus_travel_and_lands_on_the_other_level(clinic: Site) -> None:
    world = World(clinic)
    cabin_l1 = next(wp for wp in clinic.all_waypoints() if wp.id == "L1:370")
    cabin_l2 = next(wp for wp in clinic.all_waypoints() if wp.id == "L2:281")
    robot = world.add_robot("uv", x=cabin_l1.x, y=cabin_l1.y, level="L1")
    robot.set_goal(Goal(cabin_l2.x, cabin_l2.y, "L2", math.inf, 0.25))
    run(world, 37.5)  # lift_1: 30 s wait + 8 s for one floor
    assert robot.map_id == "L1" and not robot.goal_reached
    run(world, 1.0)
    assert robot.map_id == "L2" and robot.goal_reached
    assert (robot.x, robot.y) == pytest.approx((cabin_l2.x, cabin_l2.y))


def test_a_called_lift_comes_then_rides_without_the_wait(clinic: Site) -> None:
    world = World(clinic, settings=WorldSettings(lift_door_s=4.0))
    lift = next(lf for lf in world.lifts if lf.name == "lift_1")
    lift.at_level = world.level_index["L2"]
    robot = world.add_robot("g", x=lift.cabin[0][0] + 1.0, y=lift.cabin[0][1], level="L1")
    assert not world.request_lift(robot.i, "lift_1", "L1", "L2")  # coming down: 8 + 4 s
    run(world, 11.0)
    assert not world.request_lift(robot.i, "lift_1", "L1", "L2")
    run(world, 1.5)
    assert world.request_lift(robot.i, "lift_1", "L1", "L2")
    other = world.add_robot("h", x=lift.cabin[0][0], y=lift.cabin[0][1], level="L1")
    assert not world.request_lift(other.i, "lift_1", "L1", "L2")  # held for the caller
    robot.set_goal(Goal(*lift.cabin[1], "L2", math.inf, 0.25))
    run(world, 12.5)  # doors 4 s + one floor 8 s
    assert robot.map_id == "L2" and robot.goal_reached


def test_a_level_change_away_from_any_lift_fails(clinic: Site) -> None:
    world = World(clinic)
    robot = world.add_robot("p", x=20.0, y=-20.0, level="L1")
    robot.set_goal(Goal(20.0, -20.0, "L2", math.inf, 0.25))
    world.step(0.1)
    assert robot.goal_failed and robot.map_id == "L1"
    robot.set_goal(Goal(0.0, 0.0, "L9", math.inf, 0.25))
    assert robot.goal_failed  # no such level in the site


def test_doors_open_after_the_delay_and_close_when_no_longer_used(clinic: Site) -> None:
    world = World(clinic, settings=WorldSettings(door_open_delay_s=3.0, door_hold_open_s=10.0))
    assert not world.request_door("L1_clinic_a")
    run(world, 2.0)
    assert not world.request_door("L1_clinic_a")
    run(world, 1.5)
    assert world.request_door("L1_clinic_a") and world.door_open("L1_clinic_a")
    run(world, 11.0)
    assert not world.door_open("L1_clinic_a")
    world.doors["L1_clinic_a"].stuck = True
    run(world, 5.0)
    assert not world.request_door("L1_clinic_a")


def test_a_door_opened_on_request_waits_for_the_robot_that_asked(clinic: Site) -> None:
    """Robots ask again only between frames; a frame longer than the hold time (a loaded
    CPU) must not let the door open and close unseen until the robot gives up."""
    world = World(clinic, settings=WorldSettings(door_open_delay_s=3.0, door_hold_open_s=10.0))
    assert not world.request_door("L1_clinic_a")
    run(world, 20.0)  # opened at 3 s; nobody has seen it open yet
    assert world.request_door("L1_clinic_a") and world.door_open("L1_clinic_a")
    run(world, 11.0)  # seen open at 20 s: closes 10 s later as usual
    assert not world.door_open("L1_clinic_a")
    assert not world.request_door("L1_clinic_a")  # a new request opens it again
    run(world, 3.5)
    assert world.request_door("L1_clinic_a")


def test_battery_drains_by_power_and_charges_at_a_charger(
    clinic: Site, models: dict[str, RobotModel]
) -> None:
    world = World(clinic)
    uvc = models["uvc"]
    charger = next(wp for wp in clinic.all_waypoints() if wp.is_charger)
    robot = world.add_robot("uv", model=uvc, x=charger.x, y=charger.y, level=charger.level)
    run(world, 600, dt=1.0)
    idle_wh = uvc.idle_w * 600 / 3600
    assert world.r.energy_wh[robot.i] == pytest.approx(idle_wh)
    world.r.uv_on[robot.i] = True
    run(world, 600, dt=1.0)
    lamp_wh = (uvc.idle_w + uvc.uv_lamp_w) * 600 / 3600
    assert world.r.energy_wh[robot.i] == pytest.approx(idle_wh + lamp_wh)
    assert robot.battery_pct == pytest.approx(100 * (1 - (idle_wh + lamp_wh) / 1400))
    world.r.uv_on[robot.i] = False
    assert world.near_charger(robot.i)
    robot.charging = True
    before = robot.battery_pct
    run(world, 60, dt=1.0)
    gained = (uvc.charge_w - uvc.idle_w) * 60 / 3600 / uvc.battery_capacity_wh * 100
    assert robot.battery_pct - before == pytest.approx(gained)
    assert world.r.charge_s[robot.i] == pytest.approx(60)


def test_wanderers_stay_on_the_graph_and_use_lifts(clinic: Site) -> None:
    world = World(clinic, seed=5)
    n = 60
    world.add_robots(n, names=[f"w{i}" for i in range(n)])
    nodes = world.rng.choice(world.roamable_nodes(), size=n)
    world.wander_on_graph(np.arange(n), nodes)
    levels_seen = set()
    for _ in range(30):
        run(world, 20, dt=0.2)
        levels_seen |= set(world.r.level.tolist())
    assert levels_seen == {0, 1}
    assert world.r.odometer_m.min() > 0
    g = world.wander_graph()
    # Every robot heads for a waypoint of its level, rides a lift, or queues for one.
    queued = {i for lift in world.lifts for i in lift.queue}
    assert queued
    for i in range(n):
        target = world.r.wander_target[i]
        assert g.node_level[target] == world.r.level[i] or world.r.riding[i] or i in queued


def test_same_seed_same_world(clinic: Site) -> None:
    def final_positions(seed: int) -> np.ndarray:
        world = World(clinic, seed=seed)
        world.add_robots(20, names=[f"w{i}" for i in range(20)])
        world.wander_on_graph(np.arange(20), world.roamable_nodes()[:20])
        run(world, 120, dt=0.5)
        return np.column_stack([world.r.x, world.r.y, world.r.level])

    assert np.array_equal(final_positions(1), final_positions(1))
    assert not np.array_equal(final_positions(1), final_positions(2))


def test_add_robots_refuses_repeated_names() -> None:
    world = World()
    world.add_robot("a")
    with pytest.raises(ValueError, match="names"):
        world.add_robot("a")
    with pytest.raises(KeyError, match="zz"):
        world.index_of("zz")


def test_wanderers_keep_to_lane_speed_limits() -> None:
    site = Site(
        name="yard",
        kind=SiteKind.PUBLIC_SPACE,
        geo_reference=GeoReference(anchor_lon=114.0, anchor_lat=22.5),
        levels=(
            Level(
                name="L1",
                waypoints=(
                    Waypoint(id="a", level="L1", x=0.0, y=0.0),
                    Waypoint(id="b", level="L1", x=20.0, y=0.0),
                    Waypoint(id="c", level="L1", x=20.0, y=20.0),
                ),
                lanes=(
                    Lane(start="a", end="b", speed_limit_m_s=0.3),
                    Lane(start="b", end="c", bidirectional=False),
                    Lane(start="c", end="a", bidirectional=False),
                ),
            ),
        ),
    )
    world = World(site, seed=2)
    world.add_robots(3, names=["x", "y", "z"], max_speed_m_s=1.5)
    world.wander_on_graph([0, 1, 2], [0, 1, 2])
    on_slow_lane = []
    for _ in range(3000):
        world.step(0.1)
        slow = np.abs(world.r.y) < 1e-9  # on the a-b lane
        on_slow_lane.append(world.r.speed[slow].max(initial=0.0))
        assert np.all(world.r.speed <= 1.5 + 1e-9)
    assert max(on_slow_lane) == pytest.approx(0.3)

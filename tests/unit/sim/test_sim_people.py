"""Walkers by zone and hour, the interlock they trip, and guided visitors."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from missions.sites import Site
from sim.kinematic import Goal
from sim.people import PeopleFlow, VisitorBehaviour, VisitorOdds
from sim.sitemaps import load_site, map_path
from sim.world import World, WorldSettings

CST = timezone(timedelta(hours=8))
AREA = ("L1_left_nurse_center", "L1_sub_waiting_area_5", "L1_sub_waiting_sucks_6")


@pytest.fixture(scope="module")
def clinic() -> Site:
    return load_site(map_path("clinic"))


def hourly(**counts: int) -> tuple[int, ...]:
    table = [0] * 24
    for hour, count in counts.items():
        table[int(hour.removeprefix("h"))] = count
    return tuple(table)


def run(world: World, seconds: float, dt: float = 0.5) -> None:
    for _ in range(round(seconds / dt)):
        world.step(dt)


def test_head_count_follows_the_hour_and_walkers_stay_in_their_area(clinic: Site) -> None:
    world = World(clinic, start=datetime(2025, 3, 3, 8, 59, tzinfo=CST), seed=1)
    crowd = world.add_people([PeopleFlow("ward", "L1", hourly(h8=6, h9=2), waypoints=AREA)])
    run(world, 30)
    assert crowd.head_count().tolist() == [6]
    nodes = np.column_stack([crowd.node_x, crowd.node_y])
    lo, hi = nodes.min(axis=0) - 1e-6, nodes.max(axis=0) + 1e-6
    run(world, 45)  # 09:00:15
    alive = crowd.alive
    assert crowd.head_count().tolist() == [2]
    walkers = np.column_stack([crowd.x[alive], crowd.y[alive]])
    assert np.all((walkers >= lo) & (walkers <= hi))
    assert set(crowd.level[alive].tolist()) == {world.level_index["L1"]}


def test_a_person_near_a_uv_robot_trips_its_interlock(clinic: Site) -> None:
    world = World(clinic, start=datetime(2025, 3, 3, 10, 0, tzinfo=CST), seed=2)
    world.add_people([PeopleFlow("ward", "L1", hourly(h10=3), waypoints=AREA)])
    nurse = next(wp for wp in clinic.all_waypoints() if wp.name == AREA[0])
    robot = world.add_robot("uv", x=nurse.x, y=nurse.y, level="L1")
    far = world.add_robot("uv2", x=nurse.x, y=nurse.y, level="L2")
    counts = []
    for _ in range(120):
        run(world, 1.0)
        counts.append(world.people_near(robot.i, radius=4.0))
    assert max(counts) >= 1 and min(counts) == 0  # they come and go
    assert world.people_near(robot.i, radius=100.0) == 3
    assert world.people_near(far.i, radius=100.0) == 0  # another floor


def visitor_world(clinic: Site, odds: VisitorOdds) -> World:
    behaviour = VisitorBehaviour(odds=odds, arrive_within_s=5.0, stop_after_s=(5.0, 5.0))
    return World(clinic, settings=WorldSettings(visitors=behaviour), seed=3)


def guide_away(world: World, speed: float, seconds: float) -> list[bool]:
    robot = world.robot(0)
    robot.set_goal(Goal(robot.x + 200.0, robot.y, "L1", max_speed=speed, tolerance=0.2))
    seen = []
    for _ in range(round(seconds)):
        run(world, 1.0, dt=0.1)
        seen.append(world.visitor_following(0))
    return seen


def test_a_following_visitor_arrives_then_keeps_up_at_walking_pace(clinic: Site) -> None:
    world = visitor_world(clinic, VisitorOdds(follows=1.0, lags=0, stops=0, no_show=0))
    world.add_robot("guide", x=10.0, y=-20.0, level="L1")
    assert not world.visitor_following(0)  # asking starts the visit; they are on their way
    run(world, 5.5)
    assert world.visitor_following(0)
    assert all(guide_away(world, speed=0.5, seconds=60))
    assert world.people_near(0, radius=3.0) == 1  # a visitor is a person for the interlock


def test_a_lagging_visitor_falls_behind_and_one_who_stops_is_lost(clinic: Site) -> None:
    for odds in (
        VisitorOdds(follows=0, lags=1.0, stops=0, no_show=0),
        VisitorOdds(follows=0, lags=0, stops=1.0, no_show=0),
    ):
        world = visitor_world(clinic, odds)
        world.add_robot("guide", x=10.0, y=-20.0, level="L1")
        world.visitor_following(0)
        run(world, 5.5)
        seen = guide_away(world, speed=0.8, seconds=40)
        assert seen[0] and not seen[-1]


def test_a_no_show_never_follows_and_a_new_visit_draws_again(clinic: Site) -> None:
    world = visitor_world(clinic, VisitorOdds(follows=0, lags=0, stops=0, no_show=1.0))
    world.add_robot("guide", x=10.0, y=-20.0, level="L1")
    assert not any(world.visitor_following(0) or run(world, 1.0) for _ in range(30))
    run(world, world.settings.visitors.session_idle_s + 1)
    assert world.visitors.state[0] == 0  # the visit is over


def test_visitor_odds_must_add_up_and_name_the_field() -> None:
    with pytest.raises(ValueError, match=r"must be 1"):
        VisitorOdds(follows=0.5, lags=0.1, stops=0.1, no_show=0.1)
    with pytest.raises(ValueError, match=r"visitors\.lags"):
        VisitorOdds(follows=0.8, lags=-0.2, stops=0.4, no_show=0)


def test_a_visitor_with_the_robot_rides_the_lift_too(clinic: Site) -> None:
    world = visitor_world(clinic, VisitorOdds(follows=1.0, lags=0, stops=0, no_show=0))
    l1 = next(wp for wp in clinic.all_waypoints() if wp.id == "L1:370")
    l2 = next(wp for wp in clinic.all_waypoints() if wp.id == "L2:281")
    robot = world.add_robot("guide", x=l1.x, y=l1.y, level="L1")
    world.visitor_following(0)
    run(world, 6.0)
    robot.set_goal(Goal(l2.x, l2.y, "L2", math.inf, 0.25))
    run(world, 40.0)
    assert robot.map_id == "L2" and world.visitor_following(0)


def test_flows_name_the_bad_field(clinic: Site) -> None:
    with pytest.raises(ValueError, match="24"):
        PeopleFlow("x", "L1", (1, 2))
    world = World(clinic)
    with pytest.raises(ValueError, match="waypoints: 'nowhere'"):
        world.add_people([PeopleFlow("x", "L1", hourly(h1=1), waypoints=("nowhere",))])
    with pytest.raises(ValueError, match="ambiguous"):
        world.add_people(
            [PeopleFlow("x", "L1", hourly(h1=1), waypoints=("L1_sub_waiting_area_4",))]
        )

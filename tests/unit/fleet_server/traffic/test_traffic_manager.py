"""The reservation table: lookahead, progress, lanes, mutex groups, one-way lanes, doors, lifts."""

from __future__ import annotations

import json

import pytest

from fleet_server.dispatch.traffic import (
    ReservationConflict,
    TrafficConfig,
    TrafficError,
    TrafficInvariantError,
    TrafficManager,
    TrafficPlanError,
)
from fleet_server.dispatch.traffic_resources import SiteResources, lane_resource
from tests.unit.fleet_server.traffic.traffic_support import (
    corridor_site,
    fixture_site,
    lane,
    lift_site,
    make_site,
    waypoint_path,
    wp,
)

CORRIDOR = corridor_site(8, pockets=False)


def manager(site: object = CORRIDOR, **config: object) -> TrafficManager:
    return TrafficManager(site, TrafficConfig(**config), check_invariants=True)  # type: ignore[arg-type]


def test_release_follows_the_lookahead_in_nodes_and_metres() -> None:
    m = manager(lookahead_nodes=3, lookahead_m=100.0)
    m.plan("a", waypoint_path(CORRIDOR, *(f"c{i}" for i in range(8))))
    assert m.request_release("a", 0) == 3
    assert m.request_release("a", 1) == 4
    short = manager(lookahead_nodes=3, lookahead_m=5.0)  # waypoints are 3 m apart
    short.plan("a", waypoint_path(CORRIDOR, *(f"c{i}" for i in range(8))))
    assert short.request_release("a", 0) == 1  # the first step is always tried
    assert short.request_release("a", 1) == 2


def test_stops_before_a_waypoint_another_robot_holds_and_waits_for_it() -> None:
    m = manager()
    m.plan("a", waypoint_path(CORRIDOR, "c0", "c1", "c2", "c3", "c4"))
    m.plan("b", waypoint_path(CORRIDOR, "c3"))  # stands on c3 with nowhere to go
    assert m.request_release("a", 0) == 2
    assert m.waits_for() == {"a": "b"}
    assert m.blocked_on()["a"] == ("waypoint:c3", "b")
    assert m.detect_deadlock() == []  # b waits for nobody
    assert m.idle_in_the_way() == {"b": ["a"]}
    m.release_all("b")
    assert m.request_release("a", 0) == 3


def test_progress_frees_what_lies_behind_and_the_base_never_shrinks() -> None:
    m = manager()
    m.plan("a", waypoint_path(CORRIDOR, "c0", "c1", "c2", "c3", "c4", "c5"))
    assert m.request_release("a", 0) == 3
    assert m.holds("a") == {
        "waypoint:c0",
        "waypoint:c1",
        "waypoint:c2",
        "waypoint:c3",
        lane_resource("c0", "c1"),
        lane_resource("c1", "c2"),
        lane_resource("c2", "c3"),
    }
    m.on_progress("a", 2)
    assert m.holds("a") == {"waypoint:c2", "waypoint:c3", lane_resource("c3", "c2")}
    m.on_progress("a", 1)  # a stale report changes nothing
    assert m.current_node("a") == 2
    with pytest.raises(TrafficError, match="released only through 3"):
        m.on_progress("a", 4)
    assert m.request_release("a", 2) == 5
    m.release_all("a")
    assert m.holders("waypoint:c5") == ()
    m.release_all("a")  # twice is harmless


def test_a_robot_is_planned_where_it_stands_or_refused() -> None:
    m = manager()
    m.plan("a", waypoint_path(CORRIDOR, "c0", "c1", "c2", "c3"))
    m.request_release("a", 0)
    with pytest.raises(ReservationConflict, match=r"needs waypoint:c2 where it stands, held by a"):
        m.plan("b", waypoint_path(CORRIDOR, "c2", "c1"))
    assert "b" not in m.robots


def test_lanes_are_undirected_and_carry_mutex_groups_and_doors() -> None:
    site = make_site(
        [wp("a", 0, 0), wp("b", 4, 0), wp("x", 2, -2), wp("y", 2, 2)],
        [lane("a", "b", mutex_group="cross"), lane("x", "y", mutex_group="cross", door="d1")],
    )
    resources = SiteResources(site)
    assert lane_resource("b", "a") == lane_resource("a", "b") == "lane:a|b"
    assert resources.lane_resources("b", "a") == {"lane:a|b", "mutex:cross"}
    assert resources.lane_resources("x", "y") == {"lane:x|y", "mutex:cross", "door:d1"}
    m = manager(site)
    m.plan("h", waypoint_path(site, "a", "b"))
    m.plan("v", waypoint_path(site, "x", "y"))
    assert m.request_release("h", 0) == 1
    assert m.request_release("v", 0) == 0  # the lanes cross: one mutex group
    assert m.blocked_on()["v"] == ("mutex:cross", "h")
    m.on_progress("h", 1)
    assert m.request_release("v", 0) == 1


def test_one_way_lanes_and_unknown_waypoints_are_refused_naming_the_node() -> None:
    site = make_site(
        [wp("a", 0, 0), wp("b", 3, 0), wp("c", 6, 0)],
        [lane("a", "b", bidirectional=False), lane("b", "c")],
    )
    m = manager(site)
    m.plan("ok", waypoint_path(site, "a", "b", "c"))
    with pytest.raises(TrafficPlanError, match=r"path edge 1 \(b -> a\): one-way the other way"):
        m.plan("back", waypoint_path(site, "c", "b", "a"))
    with pytest.raises(TrafficPlanError, match=r"no open lane from 'a' to 'c'"):
        m.plan("jump", waypoint_path(site, "a", "c"))
    with pytest.raises(TrafficPlanError, match=r"path node 1: no waypoint 'zz'"):
        waypoint_path(site, "a", "zz")


def test_a_door_lets_one_robot_cross_at_a_time_first_come_first_served() -> None:
    # Three parallel lanes through one wide door.
    points, lanes = [], []
    for row, y in (("d", 0.0), ("e", 2.0), ("f", 4.0)):
        points += [wp(f"{row}0", 0, y), wp(f"{row}1", 3, y), wp(f"{row}2", 6, y)]
        lanes += [lane(f"{row}0", f"{row}1"), lane(f"{row}1", f"{row}2", door="wide")]
    site = make_site(points, lanes)
    m = manager(site)
    for row in "def":
        m.plan(row, waypoint_path(site, f"{row}0", f"{row}1", f"{row}2"))
    assert m.request_release("d", 0) == 2
    assert m.request_release("e", 0) == 1
    assert m.request_release("f", 0) == 1
    assert m.queue("door:wide") == ("e", "f")
    m.on_progress("d", 2)
    m.release_all("d")
    assert m.request_release("f", 1) == 1  # e asked first
    assert m.waits_for()["f"] == "e"
    assert m.request_release("e", 1) == 2
    assert m.queue("door:wide") == ("f",)


LIFT = lift_site()
RIDE_UP = ("s3", "lob1", "a1", "a2", "lob2", "t1", "t2")


def test_lift_waiters_stop_at_the_holding_point_and_the_ride_is_one_step() -> None:
    m = manager(LIFT)
    m.plan("a", waypoint_path(LIFT, "s2", *RIDE_UP))
    m.plan("b", waypoint_path(LIFT, "s0", "s1", "s2", *RIDE_UP))
    # a: s3, then lobby, cabin, ride and the lobby upstairs in one go, through t1.
    assert m.request_release("a", 0) == 6
    assert "lift:lift_a" in m.holds("a")
    # b: stops at the holding point s1, not at s2/s3 on the way to the lobby.
    assert [m.path("b").stoppable[i] for i in range(4)] == [True, True, False, False]
    assert m.request_release("b", 0) == 1
    assert m.blocked_on()["b"] == ("waypoint:s2", "a")
    for node in range(1, 7):
        m.on_progress("a", node)
        assert m.request_release("b", 1) == 1  # the lift, then t1, are a's
    assert m.request_release("a", 6) == 7
    m.on_progress("a", 7)
    assert m.request_release("b", 1) == 8  # s2 .. t1 in one step
    assert m.holders("lift:lift_a") == ("b",)


def test_a_queued_lift_goes_to_the_first_robot_that_asked() -> None:
    m = manager(LIFT)
    m.plan("inside", waypoint_path(LIFT, "lob1", "a1"))  # ends in the cabin, holding it
    assert m.request_release("inside", 0) == 1
    m.on_progress("inside", 1)
    m.plan("b", waypoint_path(LIFT, "s1", "s2", *RIDE_UP))
    assert m.request_release("b", 0) == 0
    assert m.queue("lift:lift_a") == ("b",)
    assert m.blocked_on()["b"] == ("lift:lift_a", "inside")
    m.release_all("inside")
    assert m.request_release("b", 0) == 7


def test_lift_capacity_from_the_config_lets_two_robots_share_the_cabin() -> None:
    for capacity, expected in ((1, 0), (2, 7)):
        m = manager(LIFT, lift_capacity={"lift_a": capacity})
        m.plan("inside", waypoint_path(LIFT, "lob1", "a1"))
        m.request_release("inside", 0)
        m.on_progress("inside", 1)
        m.plan("b", waypoint_path(LIFT, "s1", "s2", *RIDE_UP))
        assert m.request_release("b", 0) == expected
    assert len(m.holders("lift:lift_a")) == 2
    with pytest.raises(ValueError, match="lift_capacity: no lift 'nope'"):
        TrafficManager(LIFT, TrafficConfig(lift_capacity={"nope": 2}))
    with pytest.raises(ValueError, match=r"lift_capacity.lift_a: must be an integer >= 1"):
        TrafficManager(LIFT, TrafficConfig(lift_capacity={"lift_a": 0}))


def test_a_robot_never_holds_two_lift_cabins() -> None:
    both = ("s3", "lob1", "a1", "a2", "lob2", "t1", "lobb2", "b2", "b1", "lobb1", "s3")
    m = manager(LIFT, lookahead_nodes=20, lookahead_m=500.0)
    m.plan("a", waypoint_path(LIFT, *both))
    assert m.request_release("a", 0) == 5  # t1: lift_b waits until lift_a is left behind
    assert m.blocked_on()["a"] == ("lift:lift_b", None)
    m.on_progress("a", 3)
    assert m.request_release("a", 3) == 5  # still in lift_a's cabin (node 3 is a2)
    m.on_progress("a", 4)
    assert m.request_release("a", 4) == 10
    tight = lift_site(second_lift_gap=False)
    with pytest.raises(TrafficPlanError, match="rides lift:lift_a, lift:lift_b with no place"):
        manager(tight).plan(
            "a", waypoint_path(tight, "s3", "lob1", "a1", "a2", "lob2", "lobb2", "b2", "b1")
        )


def test_release_cap_holds_the_robot_until_lifted() -> None:
    m = manager()
    m.plan("a", waypoint_path(CORRIDOR, "c0", "c1", "c2", "c3", "c4"), release_cap=1)
    assert m.request_release("a", 0) == 1
    m.set_release_cap("a", None)
    assert m.request_release("a", 0) == 3
    with pytest.raises(TrafficPlanError, match="release_cap: node 9 is past the path's end"):
        m.set_release_cap("a", 9)


def test_clinic_lobbies_and_cabins_are_no_places_to_wait() -> None:
    resources = SiteResources(fixture_site("clinic"))
    assert resources.cabin_lift == {
        "L1:370": "lift_1",
        "L2:281": "lift_1",
        "L1:363": "lift_25",
        "L2:280": "lift_25",
    }
    assert set(resources.lobby_lifts) == {"L1:404", "L2:291", "L1:386", "L2:307"}
    assert resources.place_resources("L1:370") == {"lift:lift_1"}
    assert all(resources.no_stop(w) for w in ("L1:370", "L1:404"))
    assert resources.is_refuge("L1:398") and not resources.is_refuge("L1:405")


def test_the_invariant_check_catches_a_corrupted_table() -> None:
    m = manager()
    m.plan("a", waypoint_path(CORRIDOR, "c0", "c1", "c2"))
    m.plan("b", waypoint_path(CORRIDOR, "c5", "c4"))
    m.check_invariants()
    m._holders["waypoint:c0"].append("b")  # b claims a's waypoint behind the table's back
    with pytest.raises(TrafficInvariantError, match="disagree"):
        m.check_invariants()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("lookahead_nodes", 0, "lookahead_nodes: must be an integer >= 1"),
        ("lookahead_m", -1.0, "lookahead_m: must be a finite number >= 0"),
        ("lift_holding_max_m", float("nan"), "lift_holding_max_m: must be a finite number"),
    ],
)
def test_bad_config_names_the_field(field: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TrafficConfig(**{field: value})  # type: ignore[arg-type]


def test_snapshot_is_json_and_shows_holds_waits_and_queues() -> None:
    m = manager(LIFT)
    m.plan("inside", waypoint_path(LIFT, "lob1", "a1"), priority=2)
    m.request_release("inside", 0)
    m.on_progress("inside", 1)
    m.plan("b", waypoint_path(LIFT, "s1", "s2", *RIDE_UP))
    m.request_release("b", 0)
    snap = json.loads(json.dumps(m.snapshot()))
    rows = {row["robot"]: row for row in snap["robots"]}
    assert rows["b"]["waiting_for"] == "inside"
    assert rows["b"]["blocked_on"] == "lift:lift_a"
    assert rows["b"]["released_through"] == 0
    assert rows["inside"]["holds"] == ["lift:lift_a"]
    assert rows["inside"]["priority"] == 2
    lift = next(r for r in snap["resources"] if r["resource"] == "lift:lift_a")
    assert lift == {
        "resource": "lift:lift_a",
        "kind": "lift",
        "capacity": 1,
        "holders": ["inside"],
        "queue": ["b"],
    }
    assert snap["deadlocks"] == []

"""Property: on random fleets and missions in the clinic, reservations never conflict.

Random robots stand on random waypoints of the clinic's two floors and get patrols to
random goals (some across floors, by lift); the link releases their paths, sends idle
robots out of the way and breaks deadlocks. After every tick `LinkWorld.check` recomputes,
apart from the table's own bookkeeping, that no resource is held beyond its capacity and
that no two robots came within 0.4 m on one floor; the table's invariants are checked
after every change (``check_invariants``). Every mission must finish.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleet_server.dispatch.traffic_resources import SiteResources
from tests.unit.fleet_server.missions.link_support import LinkWorld
from tests.unit.fleet_server.traffic.traffic_support import fixture_site

CLINIC = fixture_site("clinic")
_RESOURCES = SiteResources(CLINIC)
SPOTS = sorted(
    wp.id
    for wp in CLINIC.all_waypoints()
    if not _RESOURCES.no_stop(wp.id) and any(_RESOURCES.hops(wp.id))
)


@st.composite
def fleets(draw: st.DrawFn) -> tuple[dict[str, str], dict[str, str]]:
    n = draw(st.integers(min_value=2, max_value=5))
    places = draw(st.lists(st.sampled_from(SPOTS), min_size=2 * n, max_size=2 * n, unique=True))
    starts = {f"r{i}": places[i] for i in range(n)}
    goals = {f"r{i}": places[n + i] for i in range(n)}
    return starts, goals


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fleets())
def test_reservations_never_conflict_and_every_mission_finishes(
    fleet: tuple[dict[str, str], dict[str, str]],
) -> None:
    starts, goals = fleet
    world = LinkWorld(CLINIC, starts)
    for serial, goal in goals.items():
        world.start(serial, goal, f"m-{serial}")
    world.run(1500, dt=0.25)
    assert sorted(world.done) == sorted(goals)
    counters = world.link.counters
    assert counters.reservation_conflicts == 0
    assert counters.errors == 0
    assert counters.deadlocks_unresolved == 0

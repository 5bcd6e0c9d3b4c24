"""Roles, grants and what a principal may do, including API tokens cut down to their owner."""

from __future__ import annotations

import pytest

from fleet_server.auth.roles import (
    Grant,
    Principal,
    Role,
    effective_token_grants,
    grants_from_json,
    grants_to_json,
    sorted_grants,
)

A, SM, D, V = Role.ADMIN, Role.SITE_MANAGER, Role.DISPATCHER, Role.VIEWER


def _principal(*grants: Grant) -> Principal:
    return Principal(user_id=1, username="u", grants=frozenset(grants))


def test_roles_are_ordered() -> None:
    order = [V, D, SM, A]
    for i, low in enumerate(order):
        for j, high in enumerate(order):
            assert high.includes(low) == (j >= i)


@pytest.mark.parametrize(
    ("held", "wanted", "covered"),
    [
        (Grant(D, "north"), Grant(V, "north"), True),
        (Grant(D, "north"), Grant(D, "north"), True),
        (Grant(D, "north"), Grant(SM, "north"), False),
        (Grant(D, "north"), Grant(V, "south"), False),
        (Grant(D, "north"), Grant(V, None), False),
        (Grant(V, None), Grant(V, "south"), True),
        (Grant(V, None), Grant(D, "south"), False),
        (Grant(A, None), Grant(A, None), True),
        (Grant(A, "north"), Grant(A, None), False),
    ],
)
def test_grant_coverage(held: Grant, wanted: Grant, covered: bool) -> None:
    assert held.covers(wanted) is covered


def test_principal_checks_site_scope() -> None:
    p = _principal(Grant(D, "north"), Grant(V, "south"))
    assert p.has(D, "north") and p.has(V, "south")
    assert not p.has(D, "south")
    assert not p.has(V)  # not for all sites
    assert p.has_anywhere(D) and not p.has_anywhere(SM)
    assert p.sites_with(V) == {"north", "south"}
    assert p.sites_with(D) == {"north"}
    assert p.sites_with(SM) == frozenset()
    assert _principal(Grant(V, None), Grant(D, "north")).sites_with(V) is None


def test_a_token_without_grants_acts_as_its_owner() -> None:
    owner = {Grant(D, "north")}
    assert effective_token_grants(owner, None) == owner


@pytest.mark.parametrize(
    ("owner", "token", "effective"),
    [
        ({Grant(D, "north")}, {Grant(V, "north")}, {Grant(V, "north")}),
        ({Grant(D, "north")}, {Grant(SM, "north")}, {Grant(D, "north")}),
        ({Grant(D, "north")}, {Grant(D, None)}, {Grant(D, "north")}),
        ({Grant(A, None)}, {Grant(D, "south")}, {Grant(D, "south")}),
        ({Grant(D, "north")}, {Grant(D, "south")}, set()),
        (set(), {Grant(V, "north")}, set()),
    ],
)
def test_a_token_is_cut_down_to_what_its_owner_still_holds(
    owner: set[Grant], token: set[Grant], effective: set[Grant]
) -> None:
    assert effective_token_grants(owner, token) == effective


def test_grants_round_trip_through_json() -> None:
    grants = {Grant(V, "north"), Grant(A, None)}
    assert grants_from_json(grants_to_json(grants)) == grants


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("admin", "grants: expected a list"),
        ([{"site_id": "x"}], "grants[0]: expected an object"),
        ([{"role": "viewer"}, {"role": "owner"}], "grants[1].role"),
        ([{"role": "viewer", "site_id": 3}], "grants[0].site_id"),
    ],
)
def test_malformed_stored_grants_are_named(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        grants_from_json(value)


def test_grants_sort_with_and_without_sites() -> None:
    mixed = [Grant(V, "south"), Grant(V, None), Grant(A, "north"), Grant(V, "north"), Grant(V)]
    assert sorted_grants(mixed) == [
        Grant(A, "north"),
        Grant(V),
        Grant(V, "north"),
        Grant(V, "south"),
    ]

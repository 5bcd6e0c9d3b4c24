"""Roles, per-site grants and what a signed-in principal may do."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """A role, from most to least powerful; a higher role can do all a lower one can."""

    ADMIN = "admin"
    SITE_MANAGER = "site_manager"
    DISPATCHER = "dispatcher"
    VIEWER = "viewer"

    @property
    def rank(self) -> int:
        """Higher is more powerful."""
        return _RANK[self]

    def includes(self, other: Role) -> bool:
        """True when this role can do everything `other` can."""
        return self.rank >= other.rank


_RANK = {Role.VIEWER: 1, Role.DISPATCHER: 2, Role.SITE_MANAGER: 3, Role.ADMIN: 4}


def sorted_grants(grants: Iterable[Grant]) -> list[Grant]:
    """Distinct grants, strongest role first, all-sites before single sites, then by site."""
    return sorted(set(grants), key=lambda g: (-g.role.rank, g.site_id is not None, g.site_id or ""))


@dataclass(frozen=True)
class Grant:
    """A role at one site, or at every site when `site_id` is None."""

    role: Role
    site_id: str | None = None

    def covers(self, other: Grant) -> bool:
        """True when holding this grant implies holding `other`."""
        return self.role.includes(other.role) and (
            self.site_id is None or self.site_id == other.site_id
        )


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user signed in with a password session or an API token."""

    user_id: int
    username: str
    grants: frozenset[Grant]
    via_api_token: str | None = None
    """The prefix of the API token used, None for a password session."""

    def has(self, role: Role, site_id: str | None = None) -> bool:
        """True when the principal holds `role` (or higher) at `site_id` (None: every site)."""
        wanted = Grant(role, site_id)
        return any(grant.covers(wanted) for grant in self.grants)

    def has_anywhere(self, role: Role) -> bool:
        """True when the principal holds `role` (or higher) at some site."""
        return any(grant.role.includes(role) for grant in self.grants)

    def sites_with(self, role: Role) -> frozenset[str] | None:
        """The sites where the principal holds `role`; None means every site."""
        sites: set[str] = set()
        for grant in self.grants:
            if grant.role.includes(role):
                if grant.site_id is None:
                    return None
                sites.add(grant.site_id)
        return frozenset(sites)


def _site_meet(a: str | None, b: str | None) -> tuple[bool, str | None]:
    """Where two site scopes overlap: (overlap exists, the common scope)."""
    if a is None:
        return True, b
    if b is None or a == b:
        return True, a
    return False, None


def effective_token_grants(
    owner_grants: Iterable[Grant], token_grants: Iterable[Grant] | None
) -> frozenset[Grant]:
    """What an API token may do: its own grants, cut down to what its owner holds now.

    A token without grants of its own acts with all of its owner's grants. Otherwise each
    token grant meets each owner grant: the lower of the two roles, where both scopes overlap.
    """
    owner = frozenset(owner_grants)
    if token_grants is None:
        return owner
    granted: set[Grant] = set()
    for wanted in token_grants:
        for held in owner:
            overlap, site_id = _site_meet(wanted.site_id, held.site_id)
            if overlap:
                role = wanted.role if held.role.includes(wanted.role) else held.role
                granted.add(Grant(role, site_id))
    return frozenset(granted)


def grants_to_json(grants: Iterable[Grant]) -> list[dict[str, str | None]]:
    """Grants as stored in JSON columns, in a stable order."""
    return [{"role": g.role.value, "site_id": g.site_id} for g in sorted_grants(grants)]


def grants_from_json(value: object) -> frozenset[Grant]:
    """Grants from their JSON form; `ValueError` naming the element when one is malformed."""
    if not isinstance(value, list):
        raise ValueError("grants: expected a list")
    grants = set()
    for index, item in enumerate(value):
        if not isinstance(item, dict) or "role" not in item:
            raise ValueError(f"grants[{index}]: expected an object with a role")
        site_id = item.get("site_id")
        if site_id is not None and not isinstance(site_id, str):
            raise ValueError(f"grants[{index}].site_id: expected a string or null")
        try:
            grants.add(Grant(Role(item["role"]), site_id))
        except ValueError as exc:
            raise ValueError(f"grants[{index}].role: {exc}") from exc
    return frozenset(grants)

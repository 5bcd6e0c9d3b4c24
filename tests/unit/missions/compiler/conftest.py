"""Fixtures for the mission compiler tests: the fixture sites and a capable robot."""

from __future__ import annotations

import pytest

from missions.compiler import RobotProfile
from missions.sites import Site, import_site
from tests.unit.missions.compiler.compiler_support import RMF, clinic_with_rooms, make_robot


@pytest.fixture(scope="session")
def clinic() -> Site:
    return import_site(RMF / "clinic.building.yaml")


@pytest.fixture(scope="session")
def office() -> Site:
    return import_site(RMF / "office.building.yaml")


@pytest.fixture(scope="session")
def clinic_rooms(clinic: Site) -> Site:
    return clinic_with_rooms(clinic)


@pytest.fixture
def robot() -> RobotProfile:
    return make_robot()

"""The robot registry: who may connect, what each robot can do, and where it works."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet_server.auth.passwords import PasswordHasher, generate_password
from fleet_server.db.models import Robot
from fleet_server.robots.broker_accounts import mosquitto_hash
from missions.types import Capability


class RobotExists(Exception):
    """That manufacturer and serial number are registered already."""

    def __init__(self, manufacturer: str, serial_number: str) -> None:
        super().__init__(f"robot {manufacturer}/{serial_number} is already registered")


@dataclass(frozen=True)
class Registration:
    """A new robot and its MQTT password, which is shown this once."""

    robot: Robot
    mqtt_username: str
    mqtt_password: str


def mqtt_username(manufacturer: str, serial_number: str) -> str:
    """The broker account of a robot."""
    return f"{manufacturer}/{serial_number}"


def register_robot(
    session: Session,
    hasher: PasswordHasher,
    *,
    manufacturer: str,
    serial_number: str,
    kind: str,
    capabilities: list[Capability],
    site_id: str | None,
) -> Registration:
    """Add a robot with fresh MQTT credentials (hashed at rest); the caller commits."""
    if find_robot(session, manufacturer, serial_number) is not None:
        raise RobotExists(manufacturer, serial_number)
    password = generate_password()
    robot = Robot(
        manufacturer=manufacturer,
        serial_number=serial_number,
        kind=kind,
        capabilities=[c.value for c in capabilities],
        site_id=site_id,
        credentials_hash=hasher.hash(password),
        broker_password_hash=mosquitto_hash(password),
    )
    session.add(robot)
    session.flush()
    return Registration(robot, mqtt_username(manufacturer, serial_number), password)


def give_new_password(robot: Robot, hasher: PasswordHasher) -> str:
    """A fresh MQTT password for the robot, stored as both hashes; the caller commits."""
    password = generate_password()
    robot.credentials_hash = hasher.hash(password)
    robot.broker_password_hash = mosquitto_hash(password)
    return password


def find_robot(session: Session, manufacturer: str, serial_number: str) -> Robot | None:
    """The registered robot with that identity, if any."""
    return session.scalar(
        select(Robot).where(
            Robot.manufacturer == manufacturer, Robot.serial_number == serial_number
        )
    )


def active_robots(session: Session, site_id: str) -> list[Robot]:
    """Robots registered at a site and not decommissioned."""
    return list(
        session.scalars(
            select(Robot).where(Robot.site_id == site_id, Robot.decommissioned.is_(False))
        )
    )

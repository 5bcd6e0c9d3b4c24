"""Broker accounts: Mosquitto password and ACL files rendered from the robot registry.

Each robot has its own MQTT account `{manufacturer}/{serial}` and may publish only its own
`state`, `visualization`, `connection` and `factsheet` and subscribe only to its own
`order` and `instantActions` (VDA 5050 §6.1: the vehicle's topics). The server's account
may read those four topics of every robot and write `order` and `instantActions`, nothing
else. The files are what a stock Mosquitto reads with `password_file`, `acl_file` and
`allow_anonymous false`; the embedded broker runs with the same files.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from missions.vda5050 import TopicKind, subscription_for, topic_for

MOSQUITTO_HASH_ID = "7"
"""Mosquitto 2's PBKDF2-SHA512 password hash (`$7$iterations$salt$hash`, base64)."""
MOSQUITTO_SALT_BYTES = 12
MOSQUITTO_HASH_BYTES = 64
MOSQUITTO_ITERATIONS = 1000
"""The passwords are 144-bit random strings, so stretching adds little; Mosquitto checks the
hash on every CONNECT, and a whole fleet reconnects at once after a broker restart."""

ROBOT_PUBLISHES = (
    TopicKind.STATE,
    TopicKind.VISUALIZATION,
    TopicKind.CONNECTION,
    TopicKind.FACTSHEET,
)
ROBOT_SUBSCRIBES = (TopicKind.ORDER, TopicKind.INSTANT_ACTIONS)

PASSWORD_FILE = "passwd"  # noqa: S105 - a file name
ACL_FILE = "acl"
CONFIG_FILE = "mosquitto.conf"


def mosquitto_hash(
    password: str, *, iterations: int = MOSQUITTO_ITERATIONS, salt: bytes | None = None
) -> str:
    """The password in Mosquitto's `$7$` format (what `mosquitto_passwd` writes)."""
    salt = salt if salt is not None else secrets.token_bytes(MOSQUITTO_SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    b64 = base64.b64encode
    return f"${MOSQUITTO_HASH_ID}${iterations}${b64(salt).decode()}${b64(digest).decode()}"


def verify_mosquitto_hash(password: str, password_hash: str) -> bool:
    """Whether `password` matches a `$7$` hash (as Mosquitto checks it)."""
    parts = password_hash.split("$")
    if len(parts) != 5 or parts[0] or parts[1] != MOSQUITTO_HASH_ID or not parts[2].isdigit():
        return False
    try:
        salt, expected = base64.b64decode(parts[3]), base64.b64decode(parts[4])
    except ValueError:
        return False
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, int(parts[2]))
    return hmac.compare_digest(digest, expected)


def account_name_problem(username: str) -> str | None:
    """Why a name cannot be a Mosquitto account, or None when it can."""
    if not username:
        return "empty"
    if ":" in username:
        return "':' separates name and hash in Mosquitto's password file"
    if any(ch in username for ch in "\r\n\x00"):
        return "control characters cannot appear in Mosquitto's files"
    return None


@dataclass(frozen=True, slots=True)
class RobotAccount:
    """A robot that may connect: its identity and the Mosquitto hash of its password."""

    manufacturer: str
    serial_number: str
    password_hash: str = field(repr=False)

    @property
    def username(self) -> str:
        """The robot's MQTT username (see `registry.mqtt_username`)."""
        return f"{self.manufacturer}/{self.serial_number}"


@dataclass(frozen=True, slots=True)
class ServerAccount:
    """The fleet server's own MQTT account."""

    username: str
    password_hash: str = field(repr=False)


@dataclass(frozen=True)
class BrokerFiles:
    """The contents of the password and ACL files, and robots left out (with why)."""

    password_file: str
    acl_file: str
    skipped: tuple[tuple[str, str], ...] = ()


def robot_acl(interface: str, robot: RobotAccount) -> list[str]:
    """The ACL block of one robot: its own outbound topics writable, its inbound readable."""
    lines = [f"user {robot.username}"]
    for kind in ROBOT_PUBLISHES:
        lines.append(
            f"topic write {topic_for(interface, robot.manufacturer, robot.serial_number, kind)}"
        )
    for kind in ROBOT_SUBSCRIBES:
        lines.append(
            f"topic read {topic_for(interface, robot.manufacturer, robot.serial_number, kind)}"
        )
    return lines


def server_acl(interface: str, username: str) -> list[str]:
    """The server reads every robot's outbound topics and writes orders and instant actions."""
    lines = [f"user {username}"]
    lines += [f"topic read {subscription_for(interface, kind)}" for kind in ROBOT_PUBLISHES]
    lines += [f"topic write {subscription_for(interface, kind)}" for kind in ROBOT_SUBSCRIBES]
    return lines


def render_broker_files(
    interface: str, server: ServerAccount, robots: Iterable[RobotAccount]
) -> BrokerFiles:
    """Password and ACL file contents for the server and every robot with a usable name."""
    problem = account_name_problem(server.username) or (
        "a robot's account name" if "/" in server.username else None
    )
    if problem is not None:
        raise ValueError(f"server MQTT username {server.username!r}: {problem}")
    passwd = [f"{server.username}:{server.password_hash}"]
    acl = [
        "# Generated by `fleet broker config` from the robot registry; do not edit.",
        "# Clients without an entry here may do nothing (Mosquitto denies by default).",
        "",
        *server_acl(interface, server.username),
    ]
    skipped = []
    for robot in sorted(robots, key=lambda r: r.username):
        problem = account_name_problem(robot.username)
        if problem is not None:
            skipped.append((robot.username, problem))
            continue
        passwd.append(f"{robot.username}:{robot.password_hash}")
        acl += ["", *robot_acl(interface, robot)]
    return BrokerFiles("\n".join(passwd) + "\n", "\n".join(acl) + "\n", tuple(skipped))


def write_private(path: Path, text: str) -> None:
    """Replace a file atomically, readable by its owner only (it may hold password hashes)."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def write_broker_files(directory: Path, files: BrokerFiles) -> tuple[Path, Path]:
    """Write `passwd` and `acl` into `directory`; returns their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    passwd, acl = directory / PASSWORD_FILE, directory / ACL_FILE
    write_private(passwd, files.password_file)
    write_private(acl, files.acl_file)
    return passwd, acl

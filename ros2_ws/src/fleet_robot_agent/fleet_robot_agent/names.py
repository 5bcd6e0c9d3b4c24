"""ROS 2 graph names: validation, namespace joining, and tokens made from free text.

Rules follow the ROS 2 design article "Topic and Service name mapping to DDS": a name
is tokens of ``[A-Za-z0-9_]`` separated by ``/``; a token does not start with a digit;
no empty tokens, no trailing ``/``, no repeated underscores. ``~`` may only open a
private name (``~`` or ``~/...``). Nothing here needs rclpy.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NOT_TOKEN_CHARS = re.compile(r"[^A-Za-z0-9_]+")
_REPEATED_UNDERSCORES = re.compile(r"_{2,}")


class RosNameError(ValueError):
    """A ROS name that the ROS 2 name rules refuse."""


def name_problem(name: str) -> str | None:
    """Why `name` is not a valid topic/service/action name, or None when it is."""
    if not name:
        return "is empty"
    body = name
    if body.startswith("~"):
        if body == "~":
            return None
        if not body.startswith("~/"):
            return "may use '~' only as '~' or '~/...'"
        body = body[2:]
    elif body.startswith("/"):
        body = body[1:]
    if not body:
        return None if name == "/" else "has no name after its prefix"
    if body.endswith("/"):
        return "must not end with '/'"
    if "__" in body:
        return "must not contain repeated underscores"
    for token in body.split("/"):
        if not token:
            return "must not contain '//'"
        if not _TOKEN.fullmatch(token):
            return (
                f"has an invalid part {token!r} (letters, digits, '_'; not starting with a digit)"
            )
    return None


def is_valid_name(name: str) -> bool:
    """True when `name` is a valid ROS 2 topic, service or action name."""
    return name_problem(name) is None


def normalize_namespace(namespace: str) -> str:
    """'' or '/' → '/'; 'robot1' → '/robot1'; '/a/b/' → '/a/b'. Raises on an invalid one."""
    stripped = namespace.strip("/")
    if not stripped:
        return "/"
    full = "/" + stripped
    problem = name_problem(full)
    if problem is not None or full.startswith("/~"):
        raise RosNameError(f"namespace {namespace!r} {problem or 'must not contain ~'}")
    return full


def join_name(namespace: str, name: str) -> str:
    """Resolve `name` in `namespace` the way ROS does for absolute and relative names.

    An absolute name ('/clock') stays as it is; a relative one ('odom') goes under the
    namespace ('/robot1/odom'). Private names ('~/x') need a node name and are refused.
    """
    problem = name_problem(name)
    if problem is not None:
        raise RosNameError(f"name {name!r} {problem}")
    if name.startswith("~"):
        raise RosNameError(f"name {name!r} is private; it needs a node to resolve against")
    if name.startswith("/"):
        return name
    ns = normalize_namespace(namespace)
    return f"/{name}" if ns == "/" else f"{ns}/{name}"


def name_token(text: str) -> str:
    """A valid single name token made from free text (a door, lift or level id).

    Characters outside ``[A-Za-z0-9_]`` become '_', runs of '_' collapse, a leading
    digit gets an 'n' prefix: 'Lift-A.1' → 'Lift_A_1', '2F' → 'n2F'.
    """
    token = _NOT_TOKEN_CHARS.sub("_", text)
    token = _REPEATED_UNDERSCORES.sub("_", token).strip("_")
    if not token:
        raise RosNameError(f"{text!r} has no letters or digits to make a ROS name from")
    return f"n{token}" if token[0].isdigit() else token


def format_service_name(template: str, **fields: str) -> str:
    """Fill a service-name template such as '/building/lifts/{lift}/to_{level}'.

    Each field is turned into a name token first, so VDA 5050 ids with '-', '.' or ':'
    still give a valid ROS name. Unknown placeholders raise ``RosNameError``.
    """
    try:
        name = template.format(**{key: name_token(value) for key, value in fields.items()})
    except (KeyError, IndexError, ValueError) as exc:
        raise RosNameError(f"template {template!r} cannot be filled: {exc}") from exc
    problem = name_problem(name)
    if problem is not None:
        raise RosNameError(f"service name {name!r} from template {template!r} {problem}")
    return name

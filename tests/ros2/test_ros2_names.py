"""ROS 2 name rules, namespace joining and service-name templates (fleet_robot_agent.names)."""

from __future__ import annotations

import pytest
from fleet_robot_agent.names import (
    RosNameError,
    format_service_name,
    is_valid_name,
    join_name,
    name_problem,
    name_token,
    normalize_namespace,
)


@pytest.mark.parametrize(
    "name",
    ["odom", "/odom", "robot1/odom", "/robot1/sensors/temp_c", "~", "~/private", "_hidden", "/"],
)
def test_valid_names(name: str) -> None:
    assert name_problem(name) is None
    assert is_valid_name(name)


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("", "empty"),
        ("odom/", "end with"),
        ("a//b", "'//'"),
        ("1odom", "invalid part"),
        ("robot-1/odom", "invalid part"),
        ("a b", "invalid part"),
        ("a__b", "repeated underscores"),
        ("~x", "'~'"),
        ("/~/x", "invalid part"),
    ],
)
def test_invalid_names_say_why(name: str, why: str) -> None:
    problem = name_problem(name)
    assert problem is not None and why in problem
    assert not is_valid_name(name)


@pytest.mark.parametrize(
    ("namespace", "expected"),
    [("", "/"), ("/", "/"), ("robot1", "/robot1"), ("/fleet/robot1/", "/fleet/robot1")],
)
def test_normalize_namespace(namespace: str, expected: str) -> None:
    assert normalize_namespace(namespace) == expected


@pytest.mark.parametrize("namespace", ["robot-1", "/a//b", "9lives", "~"])
def test_invalid_namespace_is_refused(namespace: str) -> None:
    with pytest.raises(RosNameError, match="namespace"):
        normalize_namespace(namespace)


@pytest.mark.parametrize(
    ("namespace", "name", "expected"),
    [
        ("robot1", "odom", "/robot1/odom"),
        ("/robot1/", "sensors/temp", "/robot1/sensors/temp"),
        ("", "odom", "/odom"),
        ("/", "odom", "/odom"),
        ("robot1", "/clock", "/clock"),
    ],
)
def test_join_name(namespace: str, name: str, expected: str) -> None:
    assert join_name(namespace, name) == expected


def test_join_name_refuses_private_and_invalid_names() -> None:
    with pytest.raises(RosNameError, match="private"):
        join_name("robot1", "~/x")
    with pytest.raises(RosNameError, match="odom/"):
        join_name("robot1", "odom/")


@pytest.mark.parametrize(
    ("text", "token"),
    [("Lift-A.1", "Lift_A_1"), ("2F", "n2F"), ("ward 3::east", "ward_3_east"), ("L1", "L1")],
)
def test_name_token(text: str, token: str) -> None:
    assert name_token(text) == token
    assert is_valid_name(token)


def test_name_token_needs_letters_or_digits() -> None:
    with pytest.raises(RosNameError, match="no letters"):
        name_token("--")


def test_format_service_name_fills_tokens() -> None:
    name = format_service_name("/building/lifts/{lift}/to_{level}", lift="Lift-A", level="2F")
    assert name == "/building/lifts/Lift_A/to_n2F"


def test_format_service_name_refuses_unknown_placeholders_and_bad_results() -> None:
    with pytest.raises(RosNameError, match="cannot be filled"):
        format_service_name("/doors/{room}/open", door="d1")
    with pytest.raises(RosNameError, match="end with"):
        format_service_name("/doors/{door}/", door="d1")

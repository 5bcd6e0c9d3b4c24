"""The factsheet lists what the robot can do and matches the official schema."""

from __future__ import annotations

import json

from missions.vda5050 import encode
from robot_agent.config import AgentConfig, RobotDescription
from robot_agent.factsheet import build_factsheet
from tests.support.vda_schemas import schema_errors


def _config(*capabilities: str) -> AgentConfig:
    return AgentConfig(
        manufacturer="acme",
        serial_number="uv-1",
        robot=RobotDescription(kind="uvc_robot", capabilities=list(capabilities)),  # type: ignore[arg-type]
    )


def test_factsheet_validates_and_lists_capability_actions() -> None:
    body = json.loads(encode(build_factsheet(_config("uv_disinfection", "patrol"), 3)))
    assert schema_errors("factsheet", body) == []
    kinds = {a["actionType"] for a in body["protocolFeatures"]["agvActions"]}
    assert {"uvDisinfect", "patrolCheck", "cancelOrder", "startPause"} <= kinds
    assert "sprayDisinfect" not in kinds and "guideWaitForPerson" not in kinds
    assert body["typeSpecification"]["seriesName"] == "uvc_robot"


def test_guide_robot_offers_the_wait_action() -> None:
    body = json.loads(encode(build_factsheet(_config("guidance"), 0)))
    kinds = {a["actionType"] for a in body["protocolFeatures"]["agvActions"]}
    assert "guideWaitForPerson" in kinds and "uvDisinfect" not in kinds

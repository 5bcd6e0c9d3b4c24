"""A stand-in robot for the API tests: VDA 5050 messages published with a plain paho client."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from missions.vda5050 import encode
from tests.support.mqtt import Recorder
from tests.unit.missions.vda5050.vda5050_samples import full_factsheet


def error(kind: str, level: str = "WARNING", **references: str) -> dict[str, Any]:
    """One entry of state.errors (VDA 5050 §6.10.6)."""
    return {
        "errorType": kind,
        "errorLevel": level,
        "errorDescription": f"{kind} reported by the test robot",
        "errorReferences": [
            {"referenceKey": k, "referenceValue": v} for k, v in references.items()
        ],
    }


class PahoRobot:
    """Publishes state, connection and factsheet messages as one robot."""

    def __init__(self, port: int, manufacturer: str, serial: str) -> None:
        self.manufacturer = manufacturer
        self.serial = serial
        self._client = Recorder(port, f"test-robot/{manufacturer}/{serial}/#")
        self._headers: dict[str, int] = {}

    def _header(self, kind: str) -> dict[str, Any]:
        self._headers[kind] = self._headers.get(kind, 0) + 1
        return {
            "headerId": self._headers[kind],
            "timestamp": datetime.now(UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "version": "2.1.0",
            "manufacturer": self.manufacturer,
            "serialNumber": self.serial,
        }

    def _publish(self, kind: str, payload: bytes, qos: int = 0) -> None:
        topic = f"uagv/v2/{self.manufacturer}/{self.serial}/{kind}"
        self._client.publish(topic, payload, qos=qos)

    def state(
        self, errors: list[dict[str, Any]] | None = None, x: float = 1.0, battery: float = 80.0
    ) -> None:
        """A full state message at (x, 2) on level L1."""
        body = {
            **self._header("state"),
            "orderId": "",
            "orderUpdateId": 0,
            "lastNodeId": "",
            "lastNodeSequenceId": 0,
            "driving": False,
            "operatingMode": "AUTOMATIC",
            "nodeStates": [],
            "edgeStates": [],
            "actionStates": [],
            "agvPosition": {
                "x": x,
                "y": 2.0,
                "theta": 0.25,
                "mapId": "L1",
                "positionInitialized": True,
            },
            "batteryState": {"batteryCharge": battery, "charging": False},
            "errors": errors or [],
            "safetyState": {"eStop": "NONE", "fieldViolation": False},
        }
        self._publish("state", json.dumps(body).encode())

    def connection(self, state: str) -> None:
        """ONLINE, OFFLINE or CONNECTIONBROKEN (VDA 5050 §6.14)."""
        body = {**self._header("connection"), "connectionState": state}
        self._publish("connection", json.dumps(body).encode(), qos=1)

    def factsheet(self) -> None:
        """The sample factsheet, under this robot's identity."""
        sheet = full_factsheet().model_copy(
            update={"manufacturer": self.manufacturer, "serial_number": self.serial}
        )
        self._publish("factsheet", encode(sheet))

    def close(self) -> None:
        """Disconnect."""
        self._client.close()

"""A stand-in robot for the API tests: VDA 5050 messages published with a plain paho client."""

from __future__ import annotations

from typing import Any

from missions.vda5050 import encode
from tests.support import vda_messages as vda
from tests.support.mqtt import Recorder
from tests.support.vda_messages import error
from tests.unit.missions.vda5050.vda5050_samples import full_factsheet

__all__ = ["PahoRobot", "error"]


class PahoRobot:
    """Publishes state, connection and factsheet messages as one robot."""

    def __init__(self, port: int, manufacturer: str, serial: str) -> None:
        self.manufacturer = manufacturer
        self.serial = serial
        self._client = Recorder(port, f"test-robot/{manufacturer}/{serial}/#")
        self._header_ids = vda.HeaderIds()

    def _publish(self, kind: str, payload: bytes, qos: int = 0) -> None:
        topic = f"uagv/v2/{self.manufacturer}/{self.serial}/{kind}"
        self._client.publish(topic, payload, qos=qos)

    def state(
        self,
        errors: list[dict[str, Any]] | None = None,
        x: float = 1.0,
        battery: float = 80.0,
        y: float = 2.0,
    ) -> None:
        """A full state message at (x, y) on level L1."""
        body = vda.state(
            self.manufacturer,
            self.serial,
            header_id=self._header_ids.next_for("state"),
            position=vda.agv_position(x, y, theta=0.25),
            battery_charge=battery,
            errors=errors or [],
        )
        self._publish("state", vda.payload(body))

    def connection(self, state: str) -> None:
        """ONLINE, OFFLINE or CONNECTIONBROKEN (VDA 5050 §6.14)."""
        header_id = self._header_ids.next_for("connection")
        body = vda.connection(self.manufacturer, self.serial, state, header_id=header_id)
        self._publish("connection", vda.payload(body), qos=1)

    def factsheet(self) -> None:
        """The sample factsheet, under this robot's identity."""
        sheet = full_factsheet().model_copy(
            update={"manufacturer": self.manufacturer, "serial_number": self.serial}
        )
        self._publish("factsheet", encode(sheet))

    def close(self) -> None:
        """Disconnect."""
        self._client.close()

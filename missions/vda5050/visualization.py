"""The ``visualization`` message, vehicle → visualization systems (§6.13)."""

from __future__ import annotations

from missions.vda5050.common import AgvPosition, Timestamp, UInt32, Vda5050Model, Velocity


class Visualization(Vda5050Model):
    """High-rate pose and velocity; every field, header included, is optional (§6.13)."""

    header_id: UInt32 | None = None
    timestamp: Timestamp | None = None
    version: str | None = None
    manufacturer: str | None = None
    serial_number: str | None = None
    agv_position: AgvPosition | None = None
    velocity: Velocity | None = None

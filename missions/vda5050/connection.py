"""The ``connection`` message, vehicle or broker (last will) → master control (§6.14)."""

from __future__ import annotations

from missions.vda5050.common import Header
from missions.vda5050.enums import ConnectionState


class Connection(Header):
    """Connection state; sent retained, with CONNECTIONBROKEN as the last will (§6.14)."""

    connection_state: ConnectionState

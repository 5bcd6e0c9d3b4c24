"""The order a mission's robot holds, kept so that a restarted server can follow it again."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from fleet_server.db.base import Base, utcnow


class MissionOrder(Base):
    """The last order (or order update) sent for a mission, and how to rebuild its plan.

    Written before the order goes out, so a server killed at any moment finds every order
    a robot may hold. `start` and `profile` are the compiler inputs: compiling the mission
    again from them gives the same nodes and actionIds (`plan_digest` checks that), so no
    order is ever sent again under a new orderId. `releases[k]` is the node index update
    `k` released through as far as the runtime sent it; traffic control's own updates are
    read back from the robot's state.
    """

    __tablename__ = "mission_orders"

    mission_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("missions.id", ondelete="CASCADE"), primary_key=True
    )
    manufacturer: Mapped[str] = mapped_column(String(100))
    serial_number: Mapped[str] = mapped_column(String(100), index=True)
    order_id: Mapped[str] = mapped_column(String(200))
    order_update_id: Mapped[int]
    releases: Mapped[list[Any]]
    spec: Mapped[dict[str, Any]]
    """The mission as compiled for this order (what was left of it, for a resumed one)."""
    start: Mapped[dict[str, Any]]
    profile: Mapped[dict[str, Any]]
    plan_digest: Mapped[str] = mapped_column(String(64))
    rounds_done: Mapped[int] = mapped_column(default=0)
    guide_released: Mapped[bool] = mapped_column(default=False)
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)

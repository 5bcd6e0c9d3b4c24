"""What became of each occurrence of a schedule: a mission made for it, or why none was."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fleet_server.db.base import Base, BigId, utcnow

OCCURRENCE_STATUSES = ("materialised", "missed", "refused")
"""`materialised`: a mission was made; `missed`: its time passed while the server was not
running (it is not run late); `refused`: the template no longer fits the site's map."""


class ScheduleOccurrence(Base):
    """One occurrence of a schedule, recorded once: the unique key is what stops a second
    mission for it, across restarts and concurrent materialisers."""

    __tablename__ = "schedule_occurrences"
    __table_args__ = (
        UniqueConstraint("schedule_id", "occurs_at"),
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in OCCURRENCE_STATUSES) + ")", name="status"
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"))
    occurs_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    mission_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("missions.id", ondelete="SET NULL"), index=True
    )
    detail: Mapped[str | None] = mapped_column(Text)
    """Why an occurrence was missed or refused."""
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

"""Sites, the robots registered at them, and the robots' downsampled telemetry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from fleet_server.db.base import Base, BigId, utcnow

DEFAULT_SITE_TIMEZONE = "Asia/Shanghai"


class Site(Base):
    """A hospital, bank or public space; its map is stored as the JSON the site model writes."""

    __tablename__ = "sites"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    """A short slug (e.g. `clinic`) used in URLs and map ids."""
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    site_map: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """The site model (levels, graphs, zones, …) serialised by `missions.sites`."""
    geo_lon: Mapped[float | None]
    geo_lat: Mapped[float | None]
    timezone: Mapped[str] = mapped_column(
        String(64), default=DEFAULT_SITE_TIMEZONE, server_default=DEFAULT_SITE_TIMEZONE
    )
    """IANA time zone of the site's wall clock: schedules and quiet hours read it."""
    quiet_hours: Mapped[list[Any]] = mapped_column(default=list, server_default=text("'[]'"))
    """[{"zones", "start", "end", "days"}]: when zones must hear no speech and get no spray."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Robot(Base):
    """A registered robot, known by its VDA 5050 identity (manufacturer + serial number)."""

    __tablename__ = "robots"
    __table_args__ = (UniqueConstraint("manufacturer", "serial_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    manufacturer: Mapped[str] = mapped_column(String(100))
    serial_number: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(32))
    capabilities: Mapped[list[Any]] = mapped_column(default=list)
    site_id: Mapped[str | None] = mapped_column(
        String(64), ForeignKey("sites.id", ondelete="SET NULL"), index=True
    )
    credentials_hash: Mapped[str | None] = mapped_column(String(255))
    """Hash of the robot's MQTT password; the password itself is shown once at registration."""
    broker_password_hash: Mapped[str | None] = mapped_column(String(255))
    """The same password in Mosquitto's `$7$` format, for the broker's password file."""
    decommissioned: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TelemetrySample(Base):
    """A robot's pose and battery at one moment, kept at a reduced rate for history."""

    __tablename__ = "telemetry_samples"
    __table_args__ = (Index("ix_telemetry_samples_robot_at", "robot_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    robot_id: Mapped[int] = mapped_column(ForeignKey("robots.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    x: Mapped[float]
    y: Mapped[float]
    theta: Mapped[float]
    map_id: Mapped[str] = mapped_column(String(100))
    battery: Mapped[float | None]

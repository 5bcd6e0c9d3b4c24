"""Every table, importable from one place (Alembic's autogenerate sees them all through this)."""

from fleet_server.db.models.accounts import ApiToken, AuditEntry, RoleGrant, User
from fleet_server.db.models.missions import Alarm, Mission, MissionEvent, Schedule
from fleet_server.db.models.sites import Robot, Site, TelemetrySample

__all__ = [
    "Alarm",
    "ApiToken",
    "AuditEntry",
    "Mission",
    "MissionEvent",
    "Robot",
    "RoleGrant",
    "Schedule",
    "Site",
    "TelemetrySample",
    "User",
]

"""Every table, importable from one place (Alembic's autogenerate sees them all through this)."""

from fleet_server.db.models.accounts import ApiToken, AuditEntry, RoleGrant, User
from fleet_server.db.models.appointments import (
    Appointment,
    AppointmentDestination,
    AppointmentRouting,
)
from fleet_server.db.models.feeds import FeedEvent, SiteEmergency, Webhook, WebhookDelivery
from fleet_server.db.models.missions import Alarm, Mission, MissionEvent, Schedule
from fleet_server.db.models.order_recovery import MissionOrder
from fleet_server.db.models.schedules import ScheduleOccurrence
from fleet_server.db.models.sites import Robot, Site, TelemetrySample

__all__ = [
    "Alarm",
    "ApiToken",
    "Appointment",
    "AppointmentDestination",
    "AppointmentRouting",
    "AuditEntry",
    "FeedEvent",
    "Mission",
    "MissionEvent",
    "MissionOrder",
    "Robot",
    "RoleGrant",
    "Schedule",
    "ScheduleOccurrence",
    "Site",
    "SiteEmergency",
    "TelemetrySample",
    "User",
    "Webhook",
    "WebhookDelivery",
]

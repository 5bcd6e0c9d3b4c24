"""How the API shows robots: registry entry and live state in one document."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

from fleet_server.fleet.live_state import RobotLive
from fleet_server.robots.identity import check_kind, check_manufacturer, check_serial_number
from fleet_server.robots.service import RobotView
from fleet_server.telemetry.history import History
from missions.types import Capability
from missions.vda5050 import Factsheet

Manufacturer = Annotated[str, AfterValidator(check_manufacturer)]
SerialNumber = Annotated[str, AfterValidator(check_serial_number)]
Kind = Annotated[str, AfterValidator(check_kind)]
SiteId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")]
Capabilities = Annotated[list[Capability], Field(min_length=1, max_length=len(Capability))]


class RobotCreate(BaseModel):
    """A robot to register."""

    manufacturer: Manufacturer
    serial_number: SerialNumber
    kind: Kind
    capabilities: Capabilities
    site_id: SiteId


class RobotUpdate(BaseModel):
    """Changes to a registered robot; fields left out stay as they are."""

    kind: Kind | None = None
    capabilities: Capabilities | None = None
    site_id: SiteId | None = None


class PosePublic(BaseModel):
    """A robot's position on a site level (metres, radians)."""

    x: float
    y: float
    theta: float
    map_id: str


class RobotErrorPublic(BaseModel):
    """One entry of the robot's state.errors (VDA 5050 §6.10.6)."""

    error_type: str
    error_level: str
    description: str | None


class RobotPublic(BaseModel):
    """A robot: its registration (if any) merged with what it last reported."""

    manufacturer: str
    serial_number: str
    registered: bool
    site_id: str | None
    kind: str | None
    capabilities: list[str]
    decommissioned: bool
    online: bool
    pose: PosePublic | None
    battery_charge: float | None
    """Percent, from the last state message."""
    operating_mode: str | None
    errors: list[RobotErrorPublic]
    last_seen: datetime | None


class FactsheetSummary(BaseModel):
    """The main facts of the robot's last factsheet (VDA 5050 §6.15)."""

    series_name: str
    agv_kinematic: str
    agv_class: str
    max_load_mass_kg: float
    speed_max_m_s: float
    width_m: float
    length_m: float
    received_at: datetime | None


class RobotDetail(RobotPublic):
    """One robot in full."""

    charging: bool
    driving: bool
    factsheet: FactsheetSummary | None
    current_mission_id: uuid.UUID | None
    registered_at: datetime | None


class RobotRegistered(BaseModel):
    """A registered robot with its MQTT account; the password is never shown again."""

    robot: RobotPublic
    mqtt_username: str
    mqtt_password: str


class CredentialsPublic(BaseModel):
    """A robot's new MQTT account password, shown this once."""

    mqtt_username: str
    mqtt_password: str


class TelemetryPoint(BaseModel):
    """A robot's pose and battery at one moment."""

    at: datetime
    x: float
    y: float
    theta: float
    map_id: str
    battery: float | None


class TelemetryPublic(BaseModel):
    """A robot's history over a time range, thinned to at most `max_points`."""

    manufacturer: str
    serial_number: str
    since: datetime
    until: datetime
    stored: int
    """Samples stored in the range (before thinning)."""
    bucket_s: float | None
    """Each point stands for one bucket of this many seconds; null when nothing was thinned."""
    points: list[TelemetryPoint]


def _errors(live: RobotLive | None) -> list[RobotErrorPublic]:
    if live is None or live.state is None:
        return []
    return [
        RobotErrorPublic(
            error_type=e.error_type, error_level=e.error_level, description=e.error_description
        )
        for e in live.state.errors
    ]


def robot_public(view: RobotView) -> RobotPublic:
    """The API view of a registered and/or live robot."""
    row, live = view.row, view.live
    pose = live.pose if live is not None else None
    identity = view.key
    return RobotPublic(
        manufacturer=identity[0],
        serial_number=identity[1],
        registered=row is not None,
        site_id=row.site_id if row is not None else None,
        kind=row.kind if row is not None else None,
        capabilities=list(row.capabilities) if row is not None else [],
        decommissioned=bool(row is not None and row.decommissioned),
        online=bool(live is not None and live.online),
        pose=None
        if pose is None
        else PosePublic(x=pose.x, y=pose.y, theta=pose.theta, map_id=pose.map_id),
        battery_charge=live.battery_charge if live is not None else None,
        operating_mode=live.operating_mode if live is not None else None,
        errors=_errors(live),
        last_seen=live.last_seen if live is not None else None,
    )


def factsheet_summary(factsheet: Factsheet) -> FactsheetSummary:
    """The facts of a factsheet a console shows."""
    spec, body = factsheet.type_specification, factsheet.physical_parameters
    return FactsheetSummary(
        series_name=spec.series_name,
        agv_kinematic=spec.agv_kinematic,
        agv_class=spec.agv_class,
        max_load_mass_kg=spec.max_load_mass,
        speed_max_m_s=body.speed_max,
        width_m=body.width,
        length_m=body.length,
        received_at=factsheet.timestamp,
    )


def robot_detail(view: RobotView, current_mission_id: uuid.UUID | None) -> RobotDetail:
    """One robot in full: the public view plus factsheet and current mission."""
    live = view.live
    factsheet = live.factsheet if live is not None else None
    return RobotDetail(
        **robot_public(view).model_dump(),
        charging=bool(live is not None and live.charging),
        driving=bool(live is not None and live.driving),
        factsheet=factsheet_summary(factsheet) if factsheet is not None else None,
        current_mission_id=current_mission_id,
        registered_at=view.row.created_at if view.row is not None else None,
    )


def telemetry_public(
    manufacturer: str, serial: str, since: datetime, until: datetime, history: History
) -> TelemetryPublic:
    """The API view of a robot's history."""
    return TelemetryPublic(
        manufacturer=manufacturer,
        serial_number=serial,
        since=since,
        until=until,
        stored=history.stored,
        bucket_s=history.bucket_s,
        points=[
            TelemetryPoint(at=p.at, x=p.x, y=p.y, theta=p.theta, map_id=p.map_id, battery=p.battery)
            for p in history.points
        ],
    )

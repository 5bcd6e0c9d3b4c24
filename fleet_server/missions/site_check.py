"""Checking a mission body against its site's map, as creating a mission or a schedule does."""

from __future__ import annotations

from sqlalchemy.orm import Session

from fleet_server.errors import InvalidInput
from fleet_server.missions.runtime import DEFAULT_UV_IRRADIANCE_AT_1M_MW_CM2
from fleet_server.sites.store import SiteMapUnavailable, SiteNotFound, SiteStore
from missions.compiler import MissionCompileError, RobotProfile, StartPose, compile_mission
from missions.types import MissionSpec


def check_mission_against_site(
    sites: SiteStore, session: Session, spec: MissionSpec, *, field_prefix: str = ""
) -> None:
    """Refuse a mission whose places are not on its site's map (InvalidInput naming the
    field, after `field_prefix`)."""
    try:
        site = sites.load(session, spec.site)
    except (SiteNotFound, SiteMapUnavailable) as exc:
        raise InvalidInput(f"{field_prefix}site", str(exc)) from exc
    anchor = next((wp for lvl in site.levels for wp in lvl.waypoints if wp.name), None)
    anchor = anchor or site.levels[0].waypoints[0]
    probe = RobotProfile(
        manufacturer="check",
        serial_number="check",
        capabilities=(spec.capability,),
        uv_irradiance_at_1m_mw_cm2=DEFAULT_UV_IRRADIANCE_AT_1M_MW_CM2,
    )
    try:
        compile_mission(
            spec.model_copy(update={"site": site.name}),
            site,
            probe,
            start=StartPose.at_waypoint(anchor.id),
            order_id="check",
        )
    except MissionCompileError as exc:
        if exc.field != "start":
            raise InvalidInput(f"{field_prefix}{exc.field}", exc.reason) from exc

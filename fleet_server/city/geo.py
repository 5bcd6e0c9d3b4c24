"""The GIS layers: sites, robots and alarms as WGS84 features a city map can style.

Reads the database (sites, robots, open alarms, live missions) and the in-memory live
fleet (poses, battery, online); nothing here writes. Robot poses are level metres in the
site's frame and reach the globe through the site's geo-reference; an alarm is placed
where its robot is now, or at the middle of its site when no robot places it.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, not_, select
from sqlalchemy.orm import Session

from fleet_server.alarms.store import LIVE_MISSION_STATES
from fleet_server.city.features import Feature, Geometry, position
from fleet_server.db.models import Alarm, Mission, Robot
from fleet_server.db.models import Site as SiteRow
from fleet_server.fleet.live_state import LiveFleet, RobotLive
from fleet_server.sites.store import SiteMapUnavailable, SiteStore
from missions.sites import Site, site_bbox_wgs84, site_geojson
from missions.vda5050.enums import ErrorLevel

SEVERITY_RANK = {"info": 0, "warning": 1, "error": 2, "critical": 3}
_OUTLINE_CACHE_SIZE = 256


@dataclass(frozen=True)
class SitePlace:
    """Where a site is: its outline and middle in WGS84 (None without a usable map)."""

    outline: Geometry | None
    middle: list[float] | None
    site: Site | None


class _OutlineCache:
    """Site outlines by (site id, row version): computing one walks the whole map."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._places: dict[tuple[str, datetime], SitePlace] = {}

    def get(self, row: SiteRow, sites: SiteStore, session: Session) -> SitePlace:
        key = (row.id, row.updated_at)
        with self._lock:
            cached = self._places.get(key)
        if cached is not None:
            return cached
        place = _place_of(row, sites, session)
        with self._lock:
            if len(self._places) >= _OUTLINE_CACHE_SIZE:
                self._places.clear()
            self._places[key] = place
        return place


_OUTLINES = _OutlineCache()


def _place_of(row: SiteRow, sites: SiteStore, session: Session) -> SitePlace:
    anchor = (
        None if row.geo_lon is None or row.geo_lat is None else position(row.geo_lon, row.geo_lat)
    )
    try:
        site = sites.load(session, row.id)
    except SiteMapUnavailable:
        return SitePlace(
            outline=None if anchor is None else _point(anchor), middle=anchor, site=None
        )
    outline = next(
        (
            f["geometry"]
            for f in site_geojson(site)["features"]
            if f["properties"]["feature_type"] == "site_outline"
        ),
        None,
    )
    w, s, e, n = site_bbox_wgs84(site)
    return SitePlace(outline=outline, middle=position((w + e) / 2, (s + n) / 2), site=site)


def _point(pos: list[float]) -> Geometry:
    return {"type": "Point", "coordinates": pos}


def _visible_sites(session: Session, visible: frozenset[str] | None) -> list[SiteRow]:
    query = select(SiteRow).order_by(SiteRow.id)
    if visible is not None:
        query = query.where(SiteRow.id.in_(visible))
    return list(session.scalars(query))


def _open_alarms(session: Session, visible: frozenset[str] | None) -> list[Alarm]:
    """Alarms someone still has to deal with: not both acknowledged and cleared."""
    query = select(Alarm).where(
        not_(and_(Alarm.acknowledged_at.is_not(None), Alarm.cleared_at.is_not(None)))
    )
    if visible is not None:
        query = query.where(Alarm.site_id.in_(visible))
    return list(session.scalars(query))


def _live_missions(session: Session) -> dict[int, tuple[uuid.UUID, str]]:
    rows = session.execute(
        select(Mission.robot_id, Mission.id, Mission.kind).where(
            Mission.state.in_(LIVE_MISSION_STATES), Mission.robot_id.is_not(None)
        )
    )
    return {
        robot_id: (mission_id, kind) for robot_id, mission_id, kind in rows if robot_id is not None
    }


def _robots(session: Session, visible: frozenset[str] | None) -> list[Robot]:
    query = select(Robot).where(Robot.decommissioned.is_(False), Robot.site_id.is_not(None))
    if visible is not None:
        query = query.where(Robot.site_id.in_(visible))
    return list(session.scalars(query))


def robot_state(live: RobotLive | None, on_mission: bool) -> str:
    """One word a map can colour by: offline, error, charging, paused, busy or idle."""
    if live is None or not live.online:
        return "offline"
    state = live.state
    if state is not None and any(e.error_level == ErrorLevel.FATAL for e in state.errors):
        return "error"
    if live.charging:
        return "charging"
    if state is not None and state.paused:
        return "paused"
    return "busy" if on_mission or live.driving else "idle"


def _alarm_state(alarm: Alarm) -> str:
    if alarm.cleared_at is None:
        return "active" if alarm.acknowledged_at is None else "acknowledged"
    return "cleared"


def _located(live: RobotLive | None, place: SitePlace | None) -> list[float] | None:
    if live is None or live.pose is None or place is None or place.site is None:
        return None
    lon, lat = place.site.geo_reference.to_wgs84(live.pose.x, live.pose.y)
    return position(lon, lat)


class GeoLayers:
    """Builds each layer's features for a caller who may see `visible` sites (None: all)."""

    def __init__(self, sites: SiteStore, live: LiveFleet) -> None:
        self.sites = sites
        self.live = live

    def _places(self, session: Session, rows: Iterable[SiteRow]) -> dict[str, SitePlace]:
        return {row.id: _OUTLINES.get(row, self.sites, session) for row in rows}

    def site_features(self, session: Session, visible: frozenset[str] | None) -> list[Feature]:
        """One feature per site: its outline (or anchor point), kind, robot and alarm counts."""
        rows = _visible_sites(session, visible)
        places = self._places(session, rows)
        robots = _robots(session, visible)
        missions = _live_missions(session)
        total: Counter[str] = Counter()
        online: Counter[str] = Counter()
        busy: Counter[str] = Counter()
        for robot in robots:
            site_id = str(robot.site_id)
            total[site_id] += 1
            live = self.live.get(robot.manufacturer, robot.serial_number)
            online[site_id] += bool(live is not None and live.online)
            busy[site_id] += robot.id in missions
        alarms: Counter[str] = Counter()
        worst: dict[str, str] = {}
        for alarm in _open_alarms(session, visible):
            if alarm.site_id is None:
                continue
            alarms[alarm.site_id] += 1
            if SEVERITY_RANK.get(alarm.severity, 0) >= SEVERITY_RANK.get(
                worst.get(alarm.site_id, "info"), 0
            ):
                worst[alarm.site_id] = alarm.severity
        return [
            Feature(
                key=row.id,
                geometry=places[row.id].outline,
                properties={
                    "feature_type": "site",
                    "id": row.id,
                    "name": row.name,
                    "kind": row.kind,
                    "robots_total": total[row.id],
                    "robots_online": online[row.id],
                    "robots_on_mission": busy[row.id],
                    "alarms_open": alarms[row.id],
                    "alarm_severity_max": worst.get(row.id),
                },
            )
            for row in rows
        ]

    def robot_features(self, session: Session, visible: frozenset[str] | None) -> list[Feature]:
        """One point per registered robot of a visible site, where it last reported."""
        robots = _robots(session, visible)
        places = self._places(session, _visible_sites(session, visible))
        missions = _live_missions(session)
        features = []
        for robot in robots:
            live = self.live.get(robot.manufacturer, robot.serial_number)
            here = _located(live, places.get(str(robot.site_id)))
            mission = missions.get(robot.id)
            pose = live.pose if live is not None else None
            features.append(
                Feature(
                    key=f"{robot.manufacturer}/{robot.serial_number}",
                    geometry=None if here is None else _point(here),
                    properties={
                        "feature_type": "robot",
                        "manufacturer": robot.manufacturer,
                        "serial_number": robot.serial_number,
                        "kind": robot.kind,
                        "site": robot.site_id,
                        "level": pose.map_id if pose is not None else None,
                        "state": robot_state(live, mission is not None),
                        "online": bool(live is not None and live.online),
                        "battery": live.battery_charge if live is not None else None,
                        "charging": bool(live is not None and live.charging),
                        "mission": str(mission[0]) if mission is not None else None,
                        "mission_kind": mission[1] if mission is not None else None,
                    },
                )
            )
        return features

    def alarm_features(self, session: Session, visible: frozenset[str] | None) -> list[Feature]:
        """One point per open alarm: at its robot if that is placed, else mid-site."""
        places = self._places(session, _visible_sites(session, visible))
        features = []
        for alarm in _open_alarms(session, visible):
            place = places.get(alarm.site_id) if alarm.site_id is not None else None
            live = None
            if alarm.manufacturer is not None and alarm.serial_number is not None:
                live = self.live.get(alarm.manufacturer, alarm.serial_number)
            here = _located(live, place)
            located_by = "robot" if here is not None else None
            if here is None and place is not None and place.middle is not None:
                here, located_by = place.middle, "site"
            robot = None
            if alarm.manufacturer is not None and alarm.serial_number is not None:
                robot = f"{alarm.manufacturer}/{alarm.serial_number}"
            features.append(
                Feature(
                    # Zero-padded so that the text order of keys is the numeric order of ids.
                    key=f"{alarm.id:020d}",
                    geometry=None if here is None else _point(here),
                    properties={
                        "feature_type": "alarm",
                        "id": alarm.id,
                        "severity": alarm.severity,
                        "code": alarm.code,
                        "state": _alarm_state(alarm),
                        "source": alarm.source,
                        "message": alarm.message,
                        "site": alarm.site_id,
                        "robot": robot,
                        "mission": str(alarm.mission_id) if alarm.mission_id else None,
                        "raised_at": _iso(alarm.raised_at),
                        "located_by": located_by,
                    },
                )
            )
        return features


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None

"""Sites: import maps, and serve floor plans, navigation graphs, GeoJSON and routes."""

from __future__ import annotations

import asyncio
import json
import shutil
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile, status
from fastapi.responses import Response
from pydantic import BaseModel

from fleet_server.auth.audit import record_audit
from fleet_server.auth.roles import Principal, Role
from fleet_server.db.models import Site as SiteRow
from fleet_server.deps import (
    ActorDep,
    RequireAdmin,
    RequireViewer,
    ServicesDep,
    SessionDep,
    require_role,
)
from fleet_server.errors import Conflict, InvalidInput, NotFound
from fleet_server.schedules.quiet_hours import (
    QuietPeriod,
    SiteCalendarUpdate,
    calendar_of,
    set_site_calendar,
)
from fleet_server.sites.store import (
    SiteExists,
    SiteMapUnavailable,
    SiteNotFound,
    UploadedFile,
    parse_upload,
)
from missions.sites import (
    RobotClass,
    RouteNotFoundError,
    Site,
    SiteImportError,
    SiteKind,
    floor_plan_png,
    resolve_waypoint,
    route,
    site_geojson,
    site_summary,
)

router = APIRouter(prefix="/api/v1/sites", tags=["sites"])

SiteViewer = Annotated[Principal, Depends(require_role(Role.VIEWER, site_param="site_id"))]
SiteManager = Annotated[Principal, Depends(require_role(Role.SITE_MANAGER, site_param="site_id"))]


class LevelSummary(BaseModel):
    """Counts of one level's navigation graph."""

    name: str
    waypoints: int
    named_waypoints: int
    lanes: int
    doors: int
    chargers: int


class SitePublic(BaseModel):
    """A stored site."""

    id: str
    name: str
    kind: SiteKind
    levels: list[LevelSummary]
    lifts: int
    zones: int
    bbox_wgs84: list[float] | None
    """None when the site has no usable map."""
    geo_anchor: tuple[float, float] | None
    timezone: str
    """IANA time zone of the site's wall clock (schedules default to it)."""
    quiet_hours: list[QuietPeriod]
    created_at: datetime


class RouteStep(BaseModel):
    """A waypoint on a route."""

    id: str
    name: str
    level: str
    x: float
    y: float


class RoutePublic(BaseModel):
    """The fastest path between two waypoints for a robot class."""

    waypoints: list[RouteStep]
    travel_time_s: float
    distance_m: float
    lift_rides: list[dict[str, Any]]


def site_public(row: SiteRow, site: Site | None) -> SitePublic:
    """The API view of a stored site (`site` None: the row has no usable map)."""
    anchor = None if row.geo_lon is None or row.geo_lat is None else (row.geo_lon, row.geo_lat)
    summary = site_summary(site) if site is not None else None
    return SitePublic(
        id=row.id,
        name=row.name,
        kind=SiteKind(row.kind),
        levels=[LevelSummary(**level) for level in summary["levels"]] if summary else [],
        lifts=summary["lifts"] if summary else 0,
        zones=summary["zones"] if summary else 0,
        bbox_wgs84=list(summary["bbox_wgs84"]) if summary else None,
        geo_anchor=anchor,
        timezone=calendar_of(row).timezone,
        quiet_hours=calendar_of(row).quiet_hours,
        created_at=row.created_at,
    )


def _maybe_site(services: ServicesDep, session: SessionDep, site_id: str) -> Site | None:
    try:
        return services.sites.load(session, site_id)
    except SiteMapUnavailable:
        return None


def _load(services: ServicesDep, session: SessionDep, site_id: str) -> tuple[SiteRow, Site]:
    try:
        return services.sites.row(session, site_id), services.sites.load(session, site_id)
    except SiteNotFound as exc:
        raise NotFound(str(exc)) from exc
    except SiteMapUnavailable as exc:
        raise Conflict(str(exc)) from exc


@router.post("", status_code=status.HTTP_201_CREATED, response_model=SitePublic)
async def import_site(
    services: ServicesDep,
    session: SessionDep,
    actor: ActorDep,
    _admin: RequireAdmin,
    map_file: Annotated[UploadFile, File(description="*.building.yaml or map_server YAML")],
    images: Annotated[list[UploadFile] | None, File(description="floor plans / PGM")] = None,
    name: Annotated[str | None, Form(min_length=1, max_length=200)] = None,
    kind: Annotated[SiteKind | None, Form()] = None,
    geo_lon: Annotated[float | None, Form(ge=-180, le=180)] = None,
    geo_lat: Annotated[float | None, Form(ge=-85, le=85)] = None,
) -> SitePublic:
    """Import a map with its images; a map that does not import stores nothing (422)."""
    if (geo_lon is None) != (geo_lat is None):
        raise InvalidInput("geo_lat" if geo_lat is None else "geo_lon", "give both or neither")
    uploads = [UploadedFile(f.filename or "upload", await f.read()) for f in images or []]
    map_upload = UploadedFile(map_file.filename or "map.yaml", await map_file.read())
    anchor = (geo_lon, geo_lat) if geo_lon is not None and geo_lat is not None else None
    try:
        site, staging = await asyncio.to_thread(
            parse_upload,
            map_upload,
            uploads,
            name=name,
            kind=kind.value if kind else None,
            geo_anchor=anchor,
        )
    except SiteImportError as exc:
        raise _import_problem(exc) from exc
    try:
        row = services.sites.create(session, site, staging)
    except SiteExists as exc:
        raise Conflict(str(exc)) from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    record_audit(session, actor, "site.import", target=f"site:{row.id}", detail={"name": row.name})
    session.commit()
    return site_public(row, site)


def _import_problem(exc: SiteImportError) -> InvalidInput:
    where = ".".join(p for p in (exc.file, exc.level, exc.element) if p)
    return InvalidInput(f"map_file:{where}" if where else "map_file", exc.reason)


@router.get("", response_model=list[SitePublic])
def list_sites(
    services: ServicesDep, session: SessionDep, viewer: RequireViewer
) -> list[SitePublic]:
    """Sites the caller may see."""
    visible = viewer.sites_with(Role.VIEWER)
    rows = [r for r in services.sites.list(session) if visible is None or r.id in visible]
    return [site_public(r, _maybe_site(services, session, r.id)) for r in rows]


@router.get("/{site_id}", response_model=SitePublic)
def get_site(
    site_id: str, services: ServicesDep, session: SessionDep, _viewer: SiteViewer
) -> SitePublic:
    """One site."""
    try:
        row = services.sites.row(session, site_id)
    except SiteNotFound as exc:
        raise NotFound(str(exc)) from exc
    return site_public(row, _maybe_site(services, session, site_id))


@router.patch("/{site_id}", response_model=SitePublic)
def update_site(
    site_id: str,
    body: SiteCalendarUpdate,
    services: ServicesDep,
    session: SessionDep,
    actor: ActorDep,
    _manager: SiteManager,
) -> SitePublic:
    """Set the site's time zone or quiet hours (site manager); fields left out stay."""
    try:
        row = services.sites.row(session, site_id)
    except SiteNotFound as exc:
        raise NotFound(str(exc)) from exc
    set_site_calendar(session, services.sites, row, actor, body)
    if services.quiet_hours is not None:
        services.quiet_hours.forget(site_id)
    return site_public(row, _maybe_site(services, session, site_id))


@router.get("/{site_id}/graph")
def get_graph(
    site_id: str, services: ServicesDep, session: SessionDep, _viewer: SiteViewer
) -> dict[str, Any]:
    """Levels with waypoints, lanes, zones, doors, walls and floor-plan transforms; lifts."""
    _row, site = _load(services, session, site_id)
    body: dict[str, Any] = site.model_dump(mode="json", include={"name", "kind", "levels", "lifts"})
    return body


@router.get("/{site_id}/geojson")
def get_geojson(
    site_id: str,
    services: ServicesDep,
    session: SessionDep,
    _viewer: SiteViewer,
    crs: Literal["wgs84", "gcj02"] = "wgs84",
) -> Response:
    """The site as an RFC 7946 FeatureCollection (WGS84, or GCJ-02 for Chinese basemaps)."""
    _row, site = _load(services, session, site_id)
    return Response(json.dumps(site_geojson(site, crs=crs)), media_type="application/geo+json")


@router.get(
    "/{site_id}/levels/{level}/plan.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
def get_plan(
    site_id: str, level: str, services: ServicesDep, session: SessionDep, _viewer: SiteViewer
) -> Response:
    """A level's floor plan as PNG."""
    _load(services, session, site_id)
    try:
        path = services.sites.plan_image(session, site_id, level)
    except LookupError as exc:
        raise NotFound(str(exc)) from exc
    return Response(
        floor_plan_png(path),
        media_type="image/png",
        headers={"Cache-Control": "private, max-age=3600"},
    )


@router.get("/{site_id}/route", response_model=RoutePublic)
def get_route(
    site_id: str,
    services: ServicesDep,
    session: SessionDep,
    _viewer: SiteViewer,
    from_: Annotated[str, Query(alias="from", min_length=1, max_length=200)],
    to: Annotated[str, Query(min_length=1, max_length=200)],
    robot: Annotated[str, Query(min_length=1, max_length=64)] = "default",
    speed: Annotated[float, Query(gt=0, le=5)] = 1.0,
) -> RoutePublic:
    """Fastest path between two waypoints (ids or names) for a robot kind and speed."""
    _row, site = _load(services, session, site_id)
    robot_class = RobotClass(kind=robot, max_speed_m_s=speed)
    for param, ref in (("from", from_), ("to", to)):
        try:
            resolve_waypoint(site, ref)
        except RouteNotFoundError as exc:
            raise InvalidInput(param, str(exc)) from exc
    try:
        found = route(site, from_, to, robot=robot_class)
    except RouteNotFoundError as exc:
        raise NotFound(str(exc)) from exc
    waypoints = {wp.id: wp for wp in site.all_waypoints()}
    return RoutePublic(
        waypoints=[
            RouteStep(
                id=w,
                name=waypoints[w].name,
                level=waypoints[w].level,
                x=waypoints[w].x,
                y=waypoints[w].y,
            )
            for w in found.waypoints
        ],
        travel_time_s=found.travel_time_s,
        distance_m=found.distance_m,
        lift_rides=[ride.model_dump(mode="json") for ride in found.lift_rides],
    )

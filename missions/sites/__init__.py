"""Sites and maps: the site model, importers (Open-RMF, map_server grids), routing, GeoJSON.

Typical use::

    site = import_site("clinic.building.yaml", kind="hospital")
    summary = site_summary(site)
    robot = RobotClass(kind="guide", max_speed_m_s=1.0)
    path = route(site, "L1:363", "L2:297", robot=robot)
    ids, seconds = travel_time_matrix(site, robot)
    feature_collection = site_geojson(site, crs="gcj02")
"""

from missions.sites.errors import SiteImportError
from missions.sites.geodesy import gcj02_to_wgs84, wgs84_to_gcj02
from missions.sites.geojson import site_geojson
from missions.sites.grid_import import import_occupancy_grid
from missions.sites.model import (
    DEFAULT_GEO_ANCHOR,
    Door,
    FloorPlan,
    GeoReference,
    Lane,
    Level,
    Lift,
    LiftDoor,
    Site,
    SiteKind,
    Wall,
    Waypoint,
    Zone,
    ZoneKind,
)
from missions.sites.plan import floor_plan_png
from missions.sites.rmf import import_rmf_building
from missions.sites.routing import (
    LiftRide,
    RobotClass,
    Route,
    RouteNotFoundError,
    clear_routing_cache,
    resolve_waypoint,
    route,
    travel_time_matrix,
)
from missions.sites.summary import import_site, site_bbox_wgs84, site_summary

__all__ = [
    "DEFAULT_GEO_ANCHOR",
    "Door",
    "FloorPlan",
    "GeoReference",
    "Lane",
    "Level",
    "Lift",
    "LiftDoor",
    "LiftRide",
    "RobotClass",
    "Route",
    "RouteNotFoundError",
    "Site",
    "SiteImportError",
    "SiteKind",
    "Wall",
    "Waypoint",
    "Zone",
    "ZoneKind",
    "clear_routing_cache",
    "floor_plan_png",
    "gcj02_to_wgs84",
    "import_occupancy_grid",
    "import_rmf_building",
    "import_site",
    "resolve_waypoint",
    "route",
    "site_bbox_wgs84",
    "site_geojson",
    "site_summary",
    "travel_time_matrix",
    "wgs84_to_gcj02",
]

"""The GIS layer: sites, robots and alarms as GeoJSON FeatureCollections (RFC 7946).

Every layer takes `crs` (wgs84 | gcj02), `bbox` (minLon,minLat,maxLon,maxLat in the
output CRS), `site`, `limit` and `cursor`; answers carry a strong ETag, and a request
whose If-None-Match names it gets 304 without a body.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from fleet_server.auth.roles import Principal, Role
from fleet_server.city.features import (
    BBox,
    Crs,
    Feature,
    encode_body,
    etag_of,
    feature_collection,
    matches_if_none_match,
    select_page,
)
from fleet_server.city.geo import GeoLayers
from fleet_server.deps import ServicesDep, SessionDep, require_role

router = APIRouter(prefix="/api/v1/geo", tags=["geo"])

GEOJSON = "application/geo+json"
GeoViewer = Annotated[Principal, Depends(require_role(Role.VIEWER, site_param="site"))]
CrsParam = Annotated[Crs, Query(description="wgs84 (RFC 7946) or gcj02 (Chinese basemaps)")]
BBoxParam = Annotated[
    str | None,
    Query(max_length=200, description="minLon,minLat,maxLon,maxLat in the output CRS"),
]
SiteParam = Annotated[str | None, Query(max_length=64, description="only this site")]
LimitParam = Annotated[int, Query(ge=1, le=1000)]
CursorParam = Annotated[str | None, Query(max_length=400)]
Builder = Callable[[GeoLayers, Session, frozenset[str] | None], list[Feature]]
LayerAnswer = Callable[[str, Builder], Response]


def _visible(viewer: Principal, site: str | None) -> frozenset[str] | None:
    # require_role has checked the viewer role at `site` already when it is given.
    if site is not None:
        return frozenset({site})
    return viewer.sites_with(Role.VIEWER)


def _geojson_layer(
    request: Request,
    services: ServicesDep,
    session: SessionDep,
    viewer: GeoViewer,
    crs: CrsParam = "wgs84",
    bbox: BBoxParam = None,
    site: SiteParam = None,
    limit: LimitParam = 500,
    cursor: CursorParam = None,
) -> LayerAnswer:
    """The query every layer takes, bound: the route names its layer and how to build it."""

    def answer(name: str, build: Builder) -> Response:
        box = BBox.parse(bbox) if bbox is not None else None
        layers = GeoLayers(services.sites, services.live)
        features = build(layers, session, _visible(viewer, site))
        page = select_page(features, crs=crs, bbox=box, cursor=cursor, limit=limit)
        next_href = (
            None
            if page.next_cursor is None
            else str(request.url.include_query_params(cursor=page.next_cursor))
        )
        body = encode_body(feature_collection(page, layer=name, crs=crs, next_href=next_href))
        etag = etag_of(body)
        # The answer depends on who asks (their sites), so shared caches must not keep it.
        headers = {"ETag": etag, "Cache-Control": "private, no-cache", "Vary": "Authorization"}
        if next_href is not None:
            headers["Link"] = f'<{next_href}>; rel="next"'
        if matches_if_none_match(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers=headers)
        return Response(body, media_type=GEOJSON, headers=headers)

    return answer


GeoLayer = Annotated[LayerAnswer, Depends(_geojson_layer)]
LAYER_RESPONSES: dict[int | str, dict[str, Any]] = {200: {"content": {GEOJSON: {}}}}


@router.get("/sites", response_class=Response, responses=LAYER_RESPONSES)
def sites(layer: GeoLayer) -> Response:
    """Site outlines with kind, name, robot counts and open alarms."""
    return layer("sites", GeoLayers.site_features)


@router.get("/robots", response_class=Response, responses=LAYER_RESPONSES)
def robots(layer: GeoLayer) -> Response:
    """Registered robots where they last reported, with kind, state, battery and mission."""
    return layer("robots", GeoLayers.robot_features)


@router.get("/alarms", response_class=Response, responses=LAYER_RESPONSES)
def alarms(layer: GeoLayer) -> Response:
    """Alarms not yet both acknowledged and cleared, with severity, code and state."""
    return layer("alarms", GeoLayers.alarm_features)

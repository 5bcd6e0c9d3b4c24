"""GeoJSON feature collections for the GIS layer: CRS, bbox filter, pages, ETags.

RFC 7946 rules kept here: positions are [longitude, latitude] with at most 7 decimals
(§3.1.1, §11.2), the collection's `bbox` is [west, south, east, north] and contains every
geometry (§5), a feature without a known place has a null geometry (§3.2), and there is no
`crs` member (§4). GCJ-02 output (for Chinese basemaps) is marked with the foreign member
`coordinate_system`, as the per-site export does.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from fleet_server.errors import InvalidInput
from missions.sites import wgs84_to_gcj02

Crs = Literal["wgs84", "gcj02"]
Geometry = dict[str, Any]
DECIMALS = 7
_CURSOR_TAG = "geo:"


@dataclass(frozen=True)
class Feature:
    """One feature of a layer, with the key that orders the layer's pages."""

    key: str
    geometry: Geometry | None
    """WGS84; None when the thing has no known place."""
    properties: dict[str, Any]


@dataclass(frozen=True)
class BBox:
    """A query box in the output CRS; `west > east` crosses the antimeridian (RFC 7946 §5.2)."""

    west: float
    south: float
    east: float
    north: float

    @classmethod
    def parse(cls, text: str) -> BBox:
        """`minLon,minLat,maxLon,maxLat`; InvalidInput naming `bbox` otherwise."""
        parts = text.split(",")
        if len(parts) != 4:
            raise InvalidInput("bbox", f"expected minLon,minLat,maxLon,maxLat, got {text!r}")
        try:
            west, south, east, north = (float(p) for p in parts)
        except ValueError as exc:
            raise InvalidInput("bbox", f"not four numbers: {text!r}") from exc
        if not all(math.isfinite(v) for v in (west, south, east, north)):
            raise InvalidInput("bbox", "coordinates must be finite")
        if not (-180 <= west <= 180 and -180 <= east <= 180):
            raise InvalidInput("bbox", "longitudes must be within [-180, 180]")
        if not (-90 <= south <= 90 and -90 <= north <= 90):
            raise InvalidInput("bbox", "latitudes must be within [-90, 90]")
        if south > north:
            raise InvalidInput("bbox", f"minLat {south} is above maxLat {north}")
        return cls(west, south, east, north)

    def intersects(self, box: tuple[float, float, float, float]) -> bool:
        """True when the box [w, s, e, n] overlaps this one."""
        w, s, e, n = box
        if n < self.south or s > self.north:
            return False
        if self.west <= self.east:
            return e >= self.west and w <= self.east
        return e >= self.west or w <= self.east


def _positions(geometry: Geometry) -> Iterable[list[float]]:
    kind, coords = geometry["type"], geometry["coordinates"]
    if kind == "Point":
        yield coords
    elif kind == "LineString":
        yield from coords
    elif kind == "Polygon":
        for ring in coords:
            yield from ring
    else:
        raise ValueError(f"unsupported geometry type {kind!r}")


def _map_positions(geometry: Geometry, convert: Any) -> Geometry:
    kind, coords = geometry["type"], geometry["coordinates"]
    if kind == "Point":
        return {"type": kind, "coordinates": convert(coords)}
    if kind == "LineString":
        return {"type": kind, "coordinates": [convert(p) for p in coords]}
    if kind == "Polygon":
        return {"type": kind, "coordinates": [[convert(p) for p in ring] for ring in coords]}
    raise ValueError(f"unsupported geometry type {kind!r}")


def position(lon: float, lat: float) -> list[float]:
    """A WGS84 position rounded to the precision RFC 7946 §11.2 suggests."""
    return [round(lon, DECIMALS), round(lat, DECIMALS)]


def in_crs(geometry: Geometry | None, crs: Crs) -> Geometry | None:
    """The geometry in the output CRS (GCJ-02 shifts every position; WGS84 is as stored)."""
    if geometry is None or crs == "wgs84":
        return geometry

    def shift(p: list[float]) -> list[float]:
        return position(*wgs84_to_gcj02(p[0], p[1]))

    # Rounding after the shift can only move a vertex by 5e-8 degrees; the per-site
    # export does the same, and rings of a site outline are metres wide.
    return _map_positions(geometry, shift)


def geometry_bbox(geometry: Geometry) -> tuple[float, float, float, float]:
    """[west, south, east, north] of a geometry."""
    lons, lats = zip(*((p[0], p[1]) for p in _positions(geometry)), strict=True)
    return min(lons), min(lats), max(lons), max(lats)


def encode_cursor(key: str) -> str:
    """An opaque position after the feature with `key`."""
    return base64.urlsafe_b64encode((_CURSOR_TAG + key).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    """The key a cursor continues after; InvalidInput naming `cursor` otherwise."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("cursor", "not a cursor returned by this endpoint") from exc
    if not raw.startswith(_CURSOR_TAG):
        raise InvalidInput("cursor", "not a cursor returned by this endpoint")
    return raw.removeprefix(_CURSOR_TAG)


@dataclass(frozen=True)
class Page:
    """One page of a layer, in the output CRS."""

    features: list[Feature]
    number_matched: int
    next_cursor: str | None


def select_page(
    features: Sequence[Feature],
    *,
    crs: Crs,
    bbox: BBox | None,
    cursor: str | None,
    limit: int,
) -> Page:
    """Convert to `crs`, keep those whose box meets `bbox`, and cut the page after `cursor`.

    Pages are ordered by key and continue after the last key of the previous page, so
    features that come or go between two requests neither repeat nor shift the rest.
    """
    after = decode_cursor(cursor) if cursor is not None else None
    matched: list[Feature] = []
    for feature in sorted(features, key=lambda f: f.key):
        geometry = in_crs(feature.geometry, crs)
        if bbox is not None and (geometry is None or not bbox.intersects(geometry_bbox(geometry))):
            continue
        matched.append(Feature(feature.key, geometry, feature.properties))
    rest = [f for f in matched if after is None or f.key > after]
    page = rest[:limit]
    next_cursor = encode_cursor(page[-1].key) if len(rest) > limit else None
    return Page(page, len(matched), next_cursor)


def feature_collection(
    page: Page, *, layer: str, crs: Crs, next_href: str | None
) -> dict[str, Any]:
    """The page as an RFC 7946 FeatureCollection, with OGC API-style paging members."""
    features = [
        {"type": "Feature", "id": f.key, "geometry": f.geometry, "properties": f.properties}
        for f in page.features
    ]
    doc: dict[str, Any] = {"type": "FeatureCollection"}
    boxes = [geometry_bbox(f.geometry) for f in page.features if f.geometry is not None]
    if boxes:
        doc["bbox"] = [
            min(b[0] for b in boxes),
            min(b[1] for b in boxes),
            max(b[2] for b in boxes),
            max(b[3] for b in boxes),
        ]
    doc["coordinate_system"] = crs
    doc["layer"] = layer
    doc["numberMatched"] = page.number_matched
    doc["numberReturned"] = len(features)
    doc["links"] = [] if next_href is None else [{"rel": "next", "href": next_href}]
    doc["features"] = features
    return doc


def encode_body(doc: dict[str, Any]) -> bytes:
    """Compact JSON; NaN or infinity would not be JSON, so they fail loudly here."""
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def etag_of(body: bytes) -> str:
    """A strong entity tag: a digest of the exact bytes sent."""
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def matches_if_none_match(header: str | None, etag: str) -> bool:
    """RFC 9110 §13.1.2: weak comparison of each listed tag (or `*`) with ours."""
    if not header:
        return False
    ours = etag.removeprefix("W/")
    for tag in header.split(","):
        tag = tag.strip()
        if tag == "*" or tag.removeprefix("W/") == ours:
            return True
    return False

"""Geo-reference accuracy, GCJ-02, and GeoJSON that follows RFC 7946."""

from __future__ import annotations

import itertools
import json
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from scipy.integrate import quad

from missions.sites import (
    GeoReference,
    Lane,
    Level,
    Site,
    Waypoint,
    Zone,
    ZoneKind,
    gcj02_to_wgs84,
    import_occupancy_grid,
    import_rmf_building,
    site_geojson,
    wgs84_to_gcj02,
)
from missions.sites.geodesy import tm_forward

MAPS = Path(__file__).resolve().parents[3] / "fixtures" / "maps"
A = 6378137.0
F = 1 / 298.257223563
E2 = F * (2 - F)


def _meridional_radius(lat: float) -> float:
    return A * (1 - E2) / (1 - E2 * math.sin(lat) ** 2) ** 1.5


def _normal_radius(lat: float) -> float:
    return A / math.sqrt(1 - E2 * math.sin(lat) ** 2)


# --- projection accuracy -----------------------------------------------------------------------


@pytest.mark.parametrize(("lat0", "lat1"), [(0.0, 1.0), (22.0, 23.0), (45.0, 46.0), (60.0, 60.1)])
def test_meridian_arc_matches_numerical_integral(lat0: float, lat1: float) -> None:
    expected, _ = quad(_meridional_radius, math.radians(lat0), math.radians(lat1), epsabs=1e-9)
    _, n0 = tm_forward(10.0, lat0, 10.0)
    _, n1 = tm_forward(10.0, lat1, 10.0)
    assert float(n1 - n0) == pytest.approx(expected, abs=1e-3)


@pytest.mark.parametrize(
    "geo",
    [
        GeoReference(anchor_lon=114.0579, anchor_lat=22.5431),
        GeoReference(anchor_lon=103.78, anchor_lat=1.3, rotation_rad=0.7),
        GeoReference(anchor_lon=-0.1, anchor_lat=59.9, rotation_rad=-2.0, scale=0.5),
    ],
)
def test_round_trip_below_a_micrometre_over_10_km(geo: GeoReference) -> None:
    xs, ys = np.meshgrid(np.linspace(-10_000, 10_000, 41), np.linspace(-10_000, 10_000, 41))
    lon, lat = geo.to_wgs84_many(xs, ys)
    back_x, back_y = geo.from_wgs84_many(lon, lat)
    assert float(np.max(np.hypot(back_x - xs, back_y - ys))) < 1e-6


@pytest.mark.parametrize("azimuth_deg", [0.0, 30.0, 45.0, 90.0, 135.0, 250.0])
def test_local_distances_are_true_to_a_millimetre_at_3_km(azimuth_deg: float) -> None:
    geo = GeoReference(anchor_lon=114.0579, anchor_lat=22.5431)
    az = math.radians(azimuth_deg)
    d = 3000.0
    lon, lat = geo.to_wgs84(d * math.sin(az), d * math.cos(az))  # x east, y north
    # Mid-latitude formula on the ellipsoid: meridional and prime-vertical radii at the
    # mean latitude; its own error at 3 km is below a millimetre.
    mid = math.radians((22.5431 + lat) / 2)
    north = _meridional_radius(mid) * math.radians(lat - 22.5431)
    east = _normal_radius(mid) * math.cos(mid) * math.radians(lon - 114.0579)
    assert math.hypot(north, east) == pytest.approx(d, abs=0.001)


# --- GCJ-02 ------------------------------------------------------------------------------------


def test_gcj02_offsets_china_only_and_inverts() -> None:
    assert wgs84_to_gcj02(-0.1276, 51.5072) == (-0.1276, 51.5072)
    assert wgs84_to_gcj02(151.2093, -33.8688) == (151.2093, -33.8688)  # Sydney
    lon, lat = 116.397428, 39.90923  # Tiananmen
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    shift_m = math.hypot(
        (g_lon - lon) * 111_320 * math.cos(math.radians(lat)), (g_lat - lat) * 110_574
    )
    assert 100 < shift_m < 1000  # the known few-hundred-metre offset
    back = gcj02_to_wgs84(g_lon, g_lat)
    assert back == pytest.approx((lon, lat), abs=1e-9)


# --- RFC 7946 checker --------------------------------------------------------------------------


def _check_position(pos: Any, where: str) -> None:
    assert isinstance(pos, list) and len(pos) in (2, 3), f"{where}: position {pos!r}"
    for v in pos:
        assert isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v), where
        exponent = Decimal(repr(float(v))).as_tuple().exponent
        assert isinstance(exponent, int) and exponent >= -7, (
            f"{where}: more than 7 decimals in {v!r}"
        )
    assert -180 <= pos[0] <= 180 and -90 <= pos[1] <= 90, f"{where}: not lon/lat {pos!r}"


def _ring_area(ring: list[list[float]]) -> float:
    # Relative to the first position: absolute lon/lat products lose tiny rings to rounding.
    x0, y0 = ring[0][0], ring[0][1]
    pts = [(p[0] - x0, p[1] - y0) for p in ring]
    return sum(a[0] * b[1] - b[0] * a[1] for a, b in itertools.pairwise(pts)) / 2


def _check_geometry(geom: Any, where: str) -> list[list[float]]:
    """Validate a geometry (RFC 7946 §3.1) and return all its positions."""
    assert isinstance(geom, dict) and "crs" not in geom, where
    kind = geom.get("type")
    coords = geom.get("coordinates")
    positions: list[list[float]] = []
    if kind == "Point":
        _check_position(coords, where)
        return [coords]
    if kind == "LineString":
        assert isinstance(coords, list) and len(coords) >= 2, (
            f"{where}: LineString needs 2 positions"
        )
        for p in coords:
            _check_position(p, where)
        return list(coords)
    if kind == "Polygon":
        assert isinstance(coords, list) and coords, f"{where}: empty Polygon"
        for i, ring in enumerate(coords):
            assert len(ring) >= 4, f"{where}: ring {i} has fewer than 4 positions"
            assert ring[0] == ring[-1], f"{where}: ring {i} not closed"
            for p in ring:
                _check_position(p, where)
            area = _ring_area(ring)
            if i == 0:
                assert area > 0, f"{where}: exterior ring not counter-clockwise"
            else:
                assert area < 0, f"{where}: hole {i} not clockwise"
            positions += ring
        return positions
    if kind in ("MultiPoint", "MultiLineString", "MultiPolygon"):
        single = kind.removeprefix("Multi")
        for part in coords:
            positions += _check_geometry({"type": single, "coordinates": part}, where)
        return positions
    if kind == "GeometryCollection":
        for g in geom["geometries"]:
            positions += _check_geometry(g, where)
        return positions
    raise AssertionError(f"{where}: unknown geometry type {kind!r}")


def check_rfc7946(doc: Any) -> None:
    """Assert that ``doc`` is a valid RFC 7946 FeatureCollection with a correct bbox."""
    json.dumps(doc, allow_nan=False)
    assert doc["type"] == "FeatureCollection" and "crs" not in doc
    assert isinstance(doc["features"], list)
    positions: list[list[float]] = []
    for i, feature in enumerate(doc["features"]):
        where = f"features[{i}]"
        assert feature["type"] == "Feature", where
        assert "geometry" in feature and "properties" in feature, where
        assert feature["properties"] is None or isinstance(feature["properties"], dict), where
        if feature["geometry"] is not None:
            positions += _check_geometry(feature["geometry"], where)
    bbox = doc["bbox"]
    assert len(bbox) == 4
    w, s, e, n = bbox
    assert w <= e and s <= n
    for p in positions:
        assert w <= p[0] <= e and s <= p[1] <= n, f"{p} outside bbox {bbox}"


def test_checker_rejects_bad_documents() -> None:
    square = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.0, 0.0]]
    good = {
        "type": "FeatureCollection",
        "bbox": [0.0, 0.0, 1.0, 1.0],
        "features": [
            {
                "type": "Feature",
                "properties": {},
                "geometry": {"type": "Polygon", "coordinates": [square]},
            }
        ],
    }
    check_rfc7946(good)
    clockwise = json.loads(json.dumps(good))
    clockwise["features"][0]["geometry"]["coordinates"] = [square[::-1]]
    with pytest.raises(AssertionError, match="counter-clockwise"):
        check_rfc7946(clockwise)
    precise = json.loads(json.dumps(good))
    precise["features"][0]["geometry"] = {"type": "Point", "coordinates": [0.123456789, 0.5]}
    with pytest.raises(AssertionError, match="7 decimals"):
        check_rfc7946(precise)
    outside = json.loads(json.dumps(good))
    outside["bbox"] = [0.0, 0.0, 0.5, 1.0]
    with pytest.raises(AssertionError, match="outside bbox"):
        check_rfc7946(outside)


# --- GeoJSON export --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clinic() -> Site:
    return import_rmf_building(MAPS / "rmf" / "clinic.building.yaml")


@pytest.fixture(scope="module")
def campus() -> Site:
    return import_rmf_building(MAPS / "rmf" / "campus.building.yaml")


def test_clinic_geojson_is_rfc7946(clinic: Site) -> None:
    doc = site_geojson(clinic)
    check_rfc7946(doc)
    kinds = [f["properties"]["feature_type"] for f in doc["features"]]
    assert kinds.count("site_outline") == 1
    assert kinds.count("waypoint") == len(clinic.all_waypoints())
    assert kinds.count("lane") == sum(len(lvl.lanes) for lvl in clinic.levels)
    assert kinds.count("door") == sum(len(lvl.doors) for lvl in clinic.levels)
    levels = {
        f["properties"]["level"]
        for f in doc["features"]
        if f["properties"]["feature_type"] != "site_outline"
    }
    assert levels == {"L1", "L2"}


def test_gcj02_export_is_shifted_and_well_formed(clinic: Site) -> None:
    wgs = site_geojson(clinic)
    gcj = site_geojson(clinic, crs="gcj02")
    check_rfc7946(gcj)  # same structural rules; only the datum differs
    assert gcj["coordinate_system"] == "gcj02"
    p_w = wgs["features"][1]["geometry"]["coordinates"]
    p_g = gcj["features"][1]["geometry"]["coordinates"]
    assert gcj02_to_wgs84(*p_g) == pytest.approx(tuple(p_w), abs=2e-7)
    assert math.hypot(p_g[0] - p_w[0], p_g[1] - p_w[1]) > 1e-3  # Shenzhen: ~500 m shift


def test_zone_with_hole_has_correct_winding() -> None:
    outer = ((0.0, 0.0), (0.0, 20.0), (20.0, 20.0), (20.0, 0.0))  # given clockwise on purpose
    hole = ((5.0, 5.0), (15.0, 5.0), (15.0, 15.0), (5.0, 15.0))  # given counter-clockwise
    wps = (Waypoint(id="a", level="G", x=-5, y=-5), Waypoint(id="b", level="G", x=25, y=25))
    site = Site(
        name="plaza",
        kind="public_space",
        levels=(
            Level(
                name="G",
                waypoints=wps,
                lanes=(Lane(start="a", end="b"),),
                zones=(
                    Zone(name="fountain", kind=ZoneKind.KEEP_OUT, polygon=outer, holes=(hole,)),
                ),
            ),
        ),
        geo_reference=GeoReference(anchor_lon=114.0579, anchor_lat=22.5431, rotation_rad=0.3),
    )
    doc = site_geojson(site)
    check_rfc7946(doc)
    zone = next(f for f in doc["features"] if f["properties"]["feature_type"] == "zone")
    assert len(zone["geometry"]["coordinates"]) == 2


def test_depot_geojson_with_keepout_zones() -> None:
    depot = import_occupancy_grid(
        MAPS / "occupancy" / "depot.yaml", keepout_yaml=MAPS / "occupancy" / "depot_keepout.yaml"
    )
    doc = site_geojson(depot)
    check_rfc7946(doc)
    zones = [f for f in doc["features"] if f["properties"]["feature_type"] == "zone"]
    assert len(zones) == len(depot.levels[0].zones)


def test_campus_waypoint_lon_lat_round_trips_within_1_cm(campus: Site) -> None:
    doc = yaml.safe_load((MAPS / "rmf" / "campus.building.yaml").read_text())
    vertex = next(v for v in doc["levels"]["L1"]["vertices"] if v[3] == "room_2")
    lon, lat = float(vertex[0]), float(vertex[1])
    room = next(wp for wp in campus.all_waypoints() if wp.name == "room_2")
    geo = campus.geo_reference
    # File lon/lat -> local metres (import) -> lon/lat again.
    back_lon, back_lat = geo.to_wgs84(room.x, room.y)
    x, y = geo.from_wgs84(back_lon, back_lat)
    x_file, y_file = geo.from_wgs84(lon, lat)
    assert math.hypot(x - x_file, y - y_file) < 0.01
    assert math.hypot(room.x - x_file, room.y - y_file) < 0.01
    # And through the 7-decimal GeoJSON.
    feature = next(
        f for f in site_geojson(campus)["features"] if f["properties"].get("name") == "room_2"
    )
    g_lon, g_lat = feature["geometry"]["coordinates"]
    x_geojson, y_geojson = geo.from_wgs84(g_lon, g_lat)
    assert math.hypot(x_geojson - x_file, y_geojson - y_file) < 0.01

"""The GIS layer's building blocks: bbox parsing and overlap, CRS, pages, ETag matching."""

from __future__ import annotations

import pytest

from fleet_server.city.features import (
    BBox,
    Feature,
    feature_collection,
    matches_if_none_match,
    select_page,
)
from fleet_server.errors import InvalidInput
from missions.sites import wgs84_to_gcj02
from tests.unit.missions.sites.test_sites_geo import check_rfc7946


def _point(key: str, lon: float, lat: float) -> Feature:
    return Feature(key, {"type": "Point", "coordinates": [lon, lat]}, {"name": key})


FEATURES = [
    _point("b", 114.05, 22.54),
    _point("a", -0.12, 51.5),
    Feature("c", None, {"name": "nowhere"}),
    _point("d", 179.5, 0.0),
    _point("e", -179.5, 0.0),
]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1,2,3", "expected"),
        ("1,2,3,4,5", "expected"),
        ("a,2,3,4", "not four numbers"),
        ("inf,2,3,4", "finite"),
        ("0,0,181,1", "longitudes"),
        ("0,-91,1,1", "latitudes"),
        ("0,5,1,4", "above maxLat"),
    ],
)
def test_bad_boxes_name_bbox(text: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        BBox.parse(text)
    assert caught.value.extra["errors"][0]["field"] == "bbox"
    assert message in caught.value.detail


@pytest.mark.parametrize(
    ("text", "keys"),
    [
        ("100,10,120,30", ["b"]),
        ("170,-10,-170,10", ["d", "e"]),  # across the antimeridian
        ("-180,-90,180,90", ["a", "b", "d", "e"]),  # no place, no match
        ("0,60,10,70", []),
    ],
)
def test_bbox_keeps_features_it_meets(text: str, keys: list[str]) -> None:
    page = select_page(FEATURES, crs="wgs84", bbox=BBox.parse(text), cursor=None, limit=10)
    assert [f.key for f in page.features] == keys


def test_a_polygon_meets_a_box_that_only_overlaps_it() -> None:
    square = Feature(
        "sq",
        {"type": "Polygon", "coordinates": [[[0, 0], [2, 0], [2, 2], [0, 2], [0, 0]]]},
        {},
    )
    inside = BBox.parse("1.5,1.5,5,5")
    assert [
        f.key
        for f in select_page([square], crs="wgs84", bbox=inside, cursor=None, limit=5).features
    ] == ["sq"]


def test_pages_continue_after_the_last_key_even_when_features_come_and_go() -> None:
    first = select_page(FEATURES, crs="wgs84", bbox=None, cursor=None, limit=2)
    assert [f.key for f in first.features] == ["a", "b"] and first.number_matched == 5
    assert first.next_cursor is not None
    changed = [f for f in FEATURES if f.key != "a"] + [_point("aa", 1.0, 1.0)]
    second = select_page(changed, crs="wgs84", bbox=None, cursor=first.next_cursor, limit=2)
    assert [f.key for f in second.features] == ["c", "d"]
    last = select_page(changed, crs="wgs84", bbox=None, cursor=second.next_cursor, limit=2)
    assert [f.key for f in last.features] == ["e"] and last.next_cursor is None
    with pytest.raises(InvalidInput):
        select_page(FEATURES, crs="wgs84", bbox=None, cursor="bm9wZQ", limit=2)


def test_gcj02_moves_points_in_china_only_and_the_collection_stays_rfc7946() -> None:
    page = select_page(FEATURES, crs="gcj02", bbox=None, cursor=None, limit=10)
    by_key = {f.key: f.geometry for f in page.features}
    lon, lat = wgs84_to_gcj02(114.05, 22.54)
    assert by_key["b"] == {"type": "Point", "coordinates": [round(lon, 7), round(lat, 7)]}
    assert by_key["a"] == {"type": "Point", "coordinates": [-0.12, 51.5]}
    doc = feature_collection(page, layer="test", crs="gcj02", next_href=None)
    check_rfc7946(doc)
    assert doc["coordinate_system"] == "gcj02" and doc["links"] == []
    assert doc["bbox"] == [-179.5, 0.0, 179.5, 51.5]


@pytest.mark.parametrize(
    ("header", "hit"),
    [
        (None, False),
        ('"abc"', True),
        ('W/"abc"', True),
        ('"x", "abc"', True),
        ("*", True),
        ('"abcd"', False),
    ],
)
def test_if_none_match_compares_weakly(header: str | None, hit: bool) -> None:
    assert matches_if_none_match(header, '"abc"') is hit

"""The site maps that ship with the simulator (`sim/maps/`), imported once per process."""

from __future__ import annotations

import functools
from pathlib import Path

from missions.sites import Site, SiteKind, import_site

MAPS_DIR = Path(__file__).with_name("maps")
BUNDLED_MAPS = ("clinic", "office", "campus")


def map_path(name: str) -> Path:
    """Path of a bundled map by short name (`clinic`) or file name (`clinic.building.yaml`)."""
    file = name if name.endswith(".building.yaml") else f"{name}.building.yaml"
    path = MAPS_DIR / file
    if not path.is_file():
        raise FileNotFoundError(
            f"map {name!r}: not among the bundled maps ({', '.join(BUNDLED_MAPS)})"
        )
    return path


@functools.lru_cache(maxsize=16)
def load_site(
    path: Path,
    name: str | None = None,
    kind: SiteKind | None = None,
    geo_anchor: tuple[float, float] | None = None,
) -> Site:
    """Import a map file as a Site (cached: a Site is immutable).

    ``geo_anchor`` (lon, lat) places a map drawn in pixels or metres on the earth; maps
    that carry WGS84 coordinates themselves ignore it.
    """
    if geo_anchor is None:
        return import_site(path, name=name, kind=kind)
    return import_site(path, name=name, kind=kind, geo_anchor=geo_anchor)

"""Storing imported sites: the site model as JSON in the database, floor plans on disk.

An import is all or nothing: the map is parsed and validated first, images are written to
a staging folder, and only a committed database row makes the folder the site's.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import threading
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fleet_server.db.models import Site as SiteRow
from missions.sites import Site, SiteImportError, import_site

_SLUG_INVALID = re.compile(r"[^a-z0-9]+")
MAX_IMAGE_BYTES = 32 * 1024 * 1024


class SiteExists(Exception):
    """A site with that name or id is already stored."""

    def __init__(self, site_id: str) -> None:
        super().__init__(f"a site with id {site_id!r} already exists")
        self.site_id = site_id


class SiteMapUnavailable(ValueError):
    """A stored site row whose map does not load (stored without one, or damaged)."""

    def __init__(self, site_id: str, why: str) -> None:
        super().__init__(f"site {site_id!r} has no usable map: {why}")
        self.site_id = site_id


class SiteNotFound(LookupError):
    """No site with that id."""

    def __init__(self, site_id: str) -> None:
        super().__init__(f"no site with id {site_id!r}")
        self.site_id = site_id


def slugify(name: str) -> str:
    """A URL-safe id from a display name (ASCII, lower case, dashes)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = _SLUG_INVALID.sub("-", ascii_name.lower()).strip("-")[:60]
    return slug or "site"


@dataclass(frozen=True)
class UploadedFile:
    """A file given with an import (the map or one of its images)."""

    name: str
    content: bytes


def _safe_name(name: str) -> str:
    base = Path(name).name
    if not base or base in (".", "..") or base != name.replace("\\", "/").split("/")[-1]:
        raise SiteImportError("file names must not contain folders", file=name, element="upload")
    return base


def parse_upload(
    map_file: UploadedFile,
    images: list[UploadedFile],
    *,
    name: str | None,
    kind: str | None,
    geo_anchor: tuple[float, float] | None = None,
) -> tuple[Site, Path]:
    """Parse an uploaded map with its images in a staging folder; returns the site and folder.

    The caller owns the folder (remove it when the import is abandoned).
    """
    staging = Path(tempfile.mkdtemp(prefix="fleet-site-"))
    try:
        for upload in [map_file, *images]:
            if len(upload.content) > MAX_IMAGE_BYTES:
                raise SiteImportError(
                    f"larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MiB",
                    file=upload.name,
                    element="upload",
                )
            (staging / _safe_name(upload.name)).write_bytes(upload.content)
        kwargs: dict[str, Any] = {"name": name, "kind": kind}
        if geo_anchor is not None:
            kwargs["geo_anchor"] = geo_anchor
        site = import_site(staging / _safe_name(map_file.name), **kwargs)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return site, staging


def referenced_images(site: Site) -> list[str]:
    """Image file names the site's levels refer to."""
    return sorted({lvl.floor_plan.image for lvl in site.levels if lvl.floor_plan is not None})


class SiteStore:
    """Sites in the database and their floor plans under `<data_dir>/sites/<id>/`."""

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / "sites"
        self._cache: dict[str, tuple[datetime, Site]] = {}
        self._lock = threading.Lock()

    def folder(self, site_id: str) -> Path:
        """Where a site's images live."""
        return self.root / slugify(site_id)

    def create(
        self,
        session: Session,
        site: Site,
        staging: Path,
        *,
        site_id: str | None = None,
    ) -> SiteRow:
        """Store a parsed site and move its images in place; nothing is left on failure."""
        ident = site_id or slugify(site.name)
        if session.get(SiteRow, ident) is not None or session.scalar(
            select(SiteRow.id).where(SiteRow.name == site.name)
        ):
            raise SiteExists(ident)
        lon, lat = site.geo_reference.anchor_lon, site.geo_reference.anchor_lat
        row = SiteRow(
            id=ident,
            name=site.name,
            kind=site.kind.value,
            site_map=site.model_dump(mode="json"),
            geo_lon=lon,
            geo_lat=lat,
        )
        target = self.folder(ident)
        if target.exists():
            shutil.rmtree(target)  # leftovers of an import whose row never committed
        target.mkdir(parents=True)
        try:
            for image in referenced_images(site):
                source = staging / image
                if source.exists():
                    shutil.copy2(source, target / image)
            session.add(row)
            session.commit()
        except IntegrityError as exc:
            session.rollback()
            shutil.rmtree(target, ignore_errors=True)
            raise SiteExists(ident) from exc
        except BaseException:
            session.rollback()
            shutil.rmtree(target, ignore_errors=True)
            raise
        return row

    def row(self, session: Session, site_id: str) -> SiteRow:
        """The stored row; SiteNotFound if absent."""
        row = session.get(SiteRow, site_id)
        if row is None:
            raise SiteNotFound(site_id)
        return row

    def load(self, session: Session, site_id: str) -> Site:
        """The parsed site, cached until the row changes."""
        row = self.row(session, site_id)
        with self._lock:
            cached = self._cache.get(site_id)
            if cached is not None and cached[0] == row.updated_at:
                return cached[1]
        try:
            site = Site.model_validate(row.site_map)
        except ValidationError as exc:
            raise SiteMapUnavailable(site_id, f"{exc.error_count()} validation errors") from exc
        with self._lock:
            self._cache[site_id] = (row.updated_at, site)
        return site

    def list(self, session: Session) -> list[SiteRow]:
        """Every stored site, by name."""
        return list(session.scalars(select(SiteRow).order_by(SiteRow.name)))

    def plan_image(self, session: Session, site_id: str, level: str) -> Path:
        """The floor-plan image file of a level; LookupError naming what is missing."""
        site = self.load(session, site_id)
        try:
            plan = site.level(level).floor_plan
        except KeyError as exc:
            raise LookupError(f"site {site_id!r} has no level {level!r}") from exc
        if plan is None:
            raise LookupError(f"level {level!r} of site {site_id!r} has no floor plan")
        path = self.folder(site_id) / Path(plan.image).name
        if not path.is_file():
            raise LookupError(f"floor plan {plan.image!r} of level {level!r} is not stored")
        return path

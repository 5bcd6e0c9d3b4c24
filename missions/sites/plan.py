"""Floor-plan images for the console: any supported plan file as PNG bytes."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from missions.sites.errors import SiteImportError
from missions.sites.occupancy import read_pgm


def floor_plan_png(image_path: str | Path) -> bytes:
    """The floor-plan image at ``image_path`` encoded as PNG (PGM P2/P5 included).

    16-bit PGMs are scaled to 8 bits. Pixel geometry is unchanged, so the level's
    :class:`FloorPlan` transform applies to the PNG as is.
    """
    path = Path(image_path)
    if not path.is_file():
        raise SiteImportError(f"floor-plan image {path.name!r} not found", file=path.name)
    with path.open("rb") as fh:
        magic = fh.read(2)
    if magic in (b"P2", b"P5"):
        pixels, maxval = read_pgm(path)
        grey = np.round(pixels.astype(np.float64) * (255.0 / maxval)).astype(np.uint8)
        image = Image.fromarray(grey)
    else:
        try:
            with Image.open(path) as opened:
                opened.load()
                image = opened.copy()
        except (OSError, UnidentifiedImageError) as exc:
            raise SiteImportError(f"unreadable image: {exc}", file=path.name) from exc
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()

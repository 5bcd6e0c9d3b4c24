"""ROS ``map_server`` occupancy grids: YAML metadata + image, with nav2_map_server semantics.

Semantics implemented (nav2_map_server ``map_io``, documented in its README):

- YAML keys ``image`` (relative to the YAML file), ``resolution`` (m/cell), ``origin``
  ``[x, y, yaw]`` (pose of the lower-left pixel, yaw counter-clockwise), ``negate``,
  ``occupied_thresh`` and ``free_thresh`` are required; ``mode`` defaults to ``trinary``.
- Each pixel's shade is the mean of its colour channels scaled to [0, 1] (in trinary mode an
  alpha channel, read as opacity, is averaged in too). ``occ = 1 - shade`` (``shade`` when
  ``negate``).
- trinary: ``occ > occupied_thresh`` -> 100, ``occ < free_thresh`` -> 0, else -1 (unknown).
- scale: any transparency -> -1; same thresholds; in between -> rint(100 * (occ - free) /
  (occupied - free)).
- raw: ``round(255 * shade)`` if it lies in 0..100, else -1.
- Image row 0 is the top of the map: it becomes the last row of the grid (grid row 0 is the
  bottom, as in ``nav_msgs/OccupancyGrid``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import yaml
from PIL import Image, UnidentifiedImageError

from missions.sites.errors import SiteImportError

OCCUPIED = 100
FREE = 0
UNKNOWN = -1

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MODES = ("trinary", "scale", "raw")


@dataclass(frozen=True)
class MapMetadata:
    """The parsed map YAML."""

    yaml_file: Path
    image_file: Path
    resolution: float
    origin: tuple[float, float, float]
    negate: bool
    occupied_thresh: float
    free_thresh: float
    mode: str


@dataclass(frozen=True)
class OccupancyGrid:
    """Cell values (-1, 0..100) indexed ``[row, col]``, row 0 at the bottom of the map."""

    meta: MapMetadata
    values: npt.NDArray[np.int8]

    @property
    def height(self) -> int:
        return int(self.values.shape[0])

    @property
    def width(self) -> int:
        return int(self.values.shape[1])

    def corner_to_map(
        self, col: npt.ArrayLike, row: npt.ArrayLike
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Map-frame metres of grid corner coordinates (col, row); +0.5 gives cell centres."""
        ox, oy, yaw = self.meta.origin
        res = self.meta.resolution
        u = np.asarray(col, dtype=np.float64) * res
        v = np.asarray(row, dtype=np.float64) * res
        c, s = math.cos(yaw), math.sin(yaw)
        return ox + c * u - s * v, oy + s * u + c * v


def load_map_yaml(path: Path) -> MapMetadata:
    """Parse and validate a map_server YAML file."""
    fname = path.name
    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)  # noqa: S506
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "document"
        raise SiteImportError(f"malformed YAML: {exc}", file=fname, element=where) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise SiteImportError(f"cannot read file: {exc}", file=fname) from exc
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise SiteImportError(f"malformed YAML: {exc}", file=fname, element="document") from exc
    if not isinstance(doc, dict):
        raise SiteImportError("top level is not a mapping", file=fname, element="document")
    for key in ("image", "resolution", "origin", "negate", "occupied_thresh", "free_thresh"):
        if key not in doc:
            raise SiteImportError(f"required key {key!r} is missing", file=fname, element=key)
    image = doc["image"]
    if not isinstance(image, str) or not image:
        raise SiteImportError("image must be a non-empty file name", file=fname, element="image")
    resolution = _real(doc, "resolution", fname)
    if resolution <= 0:
        raise SiteImportError("resolution must be positive", file=fname, element="resolution")
    origin = doc["origin"]
    if not isinstance(origin, list) or len(origin) != 3:
        raise SiteImportError(
            f"origin must have 3 elements [x, y, yaw], got {origin!r}", file=fname, element="origin"
        )
    origin_xyz = tuple(_real({"origin": v}, "origin", fname) for v in origin)
    occupied = _real(doc, "occupied_thresh", fname)
    free = _real(doc, "free_thresh", fname)
    if not 0.0 <= free < occupied <= 1.0:
        raise SiteImportError(
            f"need 0 <= free_thresh < occupied_thresh <= 1, got {free} and {occupied}",
            file=fname,
            element="free_thresh",
        )
    negate = doc["negate"]
    # nav2 reads negate as an int (any non-zero negates), falling back to a boolean.
    if isinstance(negate, bool | int):
        negate_flag = bool(negate)
    else:
        raise SiteImportError(
            f"negate must be 0/1 or a boolean, got {negate!r}", file=fname, element="negate"
        )
    mode = str(doc.get("mode", "trinary"))
    if mode not in _MODES:
        raise SiteImportError(
            f"mode must be one of {', '.join(_MODES)}, got {mode!r}", file=fname, element="mode"
        )
    image_path = Path(image) if Path(image).is_absolute() else path.parent / image
    return MapMetadata(
        yaml_file=path,
        image_file=image_path,
        resolution=resolution,
        origin=(origin_xyz[0], origin_xyz[1], origin_xyz[2]),
        negate=negate_flag,
        occupied_thresh=occupied,
        free_thresh=free,
        mode=mode,
    )


def _real(doc: dict[str, Any], key: str, fname: str) -> float:
    value = doc[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SiteImportError(
            f"{key} must be a finite number, got {value!r}", file=fname, element=key
        )
    return float(value)


def load_occupancy_grid(yaml_path: str | Path) -> OccupancyGrid:
    """Load a map_server map (YAML + image) into cell values."""
    meta = load_map_yaml(Path(yaml_path))
    shade, opaque = _read_shade(meta)
    occ = shade if meta.negate else 1.0 - shade
    values = np.full(shade.shape, UNKNOWN, dtype=np.int8)
    if meta.mode == "trinary":
        values[occ < meta.free_thresh] = FREE
        values[meta.occupied_thresh < occ] = OCCUPIED
    elif meta.mode == "scale":
        between = np.rint(
            (occ - meta.free_thresh) / (meta.occupied_thresh - meta.free_thresh) * 100.0
        )
        values = np.clip(between, 0, 100).astype(np.int8)
        values[occ < meta.free_thresh] = FREE
        values[meta.occupied_thresh < occ] = OCCUPIED
        values[~opaque] = UNKNOWN
    else:
        raw = np.floor(shade * 255.0 + 0.5)  # std::round: halves away from zero
        inside = (raw >= FREE) & (raw <= OCCUPIED)
        values[inside] = raw[inside].astype(np.int8)
    # Image row 0 is the top of the map; grid row 0 is the bottom.
    return OccupancyGrid(meta=meta, values=np.ascontiguousarray(values[::-1]))


def _read_shade(meta: MapMetadata) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """Per-pixel shade in [0, 1] (image row order) and whether the pixel is fully opaque."""
    path = meta.image_file
    fname = meta.yaml_file.name
    if not path.is_file():
        raise SiteImportError(f"map image {path.name!r} not found", file=fname, element="image")
    with path.open("rb") as fh:
        magic = fh.read(2)
    if magic in (b"P2", b"P5"):
        grey, maxval = read_pgm(path)
        shade = grey.astype(np.float64) / maxval
        return shade, np.ones(grey.shape, dtype=np.bool_)
    if path.suffix.lower() == ".pgm":
        raise SiteImportError(
            f"{path.name} is not a PGM (magic {magic!r}, expected b'P2' or b'P5')",
            file=path.name,
            element="header",
        )
    return _read_raster(path, meta.mode)


def _read_raster(path: Path, mode: str) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    try:
        with Image.open(path) as opened:
            opened.load()
            img = _normalise_mode(opened)
            if img.mode.startswith("I"):
                grey16 = np.asarray(img, dtype=np.float64) / 65535.0
                return grey16, np.ones(grey16.shape, dtype=np.bool_)
            bands = img.getbands()
            arr = np.asarray(img, dtype=np.float64) / 255.0
    except (OSError, UnidentifiedImageError) as exc:
        raise SiteImportError(
            f"unreadable map image: {exc}", file=path.name, element="image"
        ) from exc
    if arr.ndim == 2:
        return arr, np.ones(arr.shape, dtype=np.bool_)
    colour = [i for i, b in enumerate(bands) if b in ("R", "G", "B", "L")]
    grey = arr[..., colour].mean(axis=-1)
    if "A" not in bands:
        return grey, np.ones(grey.shape, dtype=np.bool_)
    alpha = arr[..., bands.index("A")]
    if mode == "trinary":
        # nav2 averages the opacity in with R, G, B in trinary mode (grey counts 3 times).
        grey = (grey * 3.0 + alpha) / 4.0
    return grey, alpha >= 1.0


def _normalise_mode(img: Image.Image) -> Image.Image:
    """Grey (8/16 bit), grey+alpha, RGB or RGBA; palettes and bilevel images expanded."""
    if img.mode in ("L", "LA", "RGB", "RGBA", "I;16", "I;16B", "I"):
        return img
    has_alpha = "A" in img.getbands() or "transparency" in img.info
    return img.convert("RGBA" if has_alpha else "RGB")


def read_pgm(path: Path) -> tuple[npt.NDArray[np.uint16], int]:
    """Read a binary (P5) or plain (P2) PGM; returns (pixels [rows, cols], maxval).

    Netpbm PGM spec: header tokens separated by whitespace, ``#`` comments to end of line,
    one whitespace byte after maxval in P5; 2 bytes per sample big-endian if maxval > 255.
    """
    fname = path.name
    data = path.read_bytes()
    magic = data[:2]
    pos = 2
    tokens: list[int] = []
    while len(tokens) < 3:
        pos, token = _pgm_token(data, pos)
        if token is None:
            raise SiteImportError("PGM header ends early", file=fname, element="header")
        try:
            tokens.append(int(token))
        except ValueError as exc:
            raise SiteImportError(
                f"PGM header token {token!r} is not a number", file=fname, element="header"
            ) from exc
    width, height, maxval = tokens
    if width <= 0 or height <= 0 or not 0 < maxval < 65536:
        raise SiteImportError(
            f"PGM header has width={width}, height={height}, maxval={maxval}",
            file=fname,
            element="header",
        )
    count = width * height
    if magic == b"P5":
        pixels = _pgm_binary(data, pos + 1, count, maxval, fname)
    else:
        pixels = _pgm_plain(data, pos, count, fname)
    if int(pixels.max(initial=0)) > maxval:
        raise SiteImportError(f"PGM sample exceeds maxval {maxval}", file=fname, element="raster")
    return pixels.reshape(height, width), maxval


def _pgm_token(data: bytes, pos: int) -> tuple[int, str | None]:
    n = len(data)
    while pos < n:
        ch = data[pos : pos + 1]
        if ch == b"#":
            while pos < n and data[pos : pos + 1] not in (b"\n", b"\r"):
                pos += 1
        elif ch.isspace():
            pos += 1
        else:
            break
    start = pos
    while pos < n and not data[pos : pos + 1].isspace() and data[pos : pos + 1] != b"#":
        pos += 1
    if start == pos:
        return pos, None
    return pos, data[start:pos].decode("ascii", errors="replace")


def _pgm_binary(
    data: bytes, start: int, count: int, maxval: int, fname: str
) -> npt.NDArray[np.uint16]:
    width = 2 if maxval > 255 else 1
    raster = data[start:]
    expected = count * width
    if len(raster) < expected:
        raise SiteImportError(
            f"PGM raster has {len(raster)} bytes, header promises {expected}",
            file=fname,
            element="raster",
        )
    dtype = ">u2" if width == 2 else "u1"
    return np.frombuffer(raster[:expected], dtype=dtype).astype(np.uint16)


def _pgm_plain(data: bytes, start: int, count: int, fname: str) -> npt.NDArray[np.uint16]:
    body = data[start:].decode("ascii", errors="replace")
    words = [line.split("#", 1)[0] for line in body.splitlines()]
    tokens = " ".join(words).split()
    if len(tokens) != count:
        raise SiteImportError(
            f"plain PGM has {len(tokens)} samples, header promises {count}",
            file=fname,
            element="raster",
        )
    try:
        samples = np.array([int(t) for t in tokens], dtype=np.int64)
    except ValueError as exc:
        raise SiteImportError(
            f"plain PGM sample is not a number: {exc}", file=fname, element="raster"
        ) from exc
    if samples.size and (samples.min() < 0 or samples.max() > 65535):
        raise SiteImportError(
            "plain PGM sample out of range 0..65535", file=fname, element="raster"
        )
    return samples.astype(np.uint16)

"""A Nav2 map of a Gazebo world: its colliding boxes rasterised into a map_server map.

Nav2 needs an occupancy grid whose frame is the site's level frame, so that the node
positions in VDA 5050 orders are Nav2 goals as they are. The exported world places
every wall at level coordinates, so rasterising its collision boxes gives exactly
that map; SLAM would instead start its map where the first robot stood.

Only box collisions count (the exporter's walls; doors are visual-only there, because
they open through the building), and only boxes that reach into the height band a
robot's lidar and body occupy. Poses compose model → link → collision, yaw only.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from fleet_gazebo.plan import FleetFileError

FREE_PIXEL = 254
OCCUPIED_PIXEL = 0


@dataclass(frozen=True, slots=True)
class Box:
    """A colliding box in the world: centre, yaw and size (x, y, z) in metres."""

    x: float
    y: float
    z: float
    yaw: float
    size: tuple[float, float, float]

    def corners(self) -> npt.NDArray[np.float64]:
        """Its footprint's four corners (x, y)."""
        hx, hy = self.size[0] / 2, self.size[1] / 2
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        local = np.array([[-hx, -hy], [hx, -hy], [hx, hy], [-hx, hy]])
        rotation = np.array([[c, -s], [s, c]])
        return np.asarray(local @ rotation.T + [self.x, self.y], dtype=np.float64)


@dataclass(frozen=True, slots=True)
class WorldMap:
    """Occupied cells, row 0 at the bottom (min y), and where cell (0, 0) starts."""

    occupied: npt.NDArray[np.bool_]
    origin_x: float
    origin_y: float
    resolution: float


def _pose(element: ET.Element, where: str) -> tuple[float, float, float, float]:
    text = element.findtext("pose")
    if text is None:
        return (0.0, 0.0, 0.0, 0.0)
    try:
        x, y, z, roll, pitch, yaw = (float(v) for v in text.split())
    except ValueError:
        raise FleetFileError(f"{where}: <pose> must be six numbers, got {text!r}") from None
    if abs(roll) > 1e-6 or abs(pitch) > 1e-6:
        raise FleetFileError(f"{where}: only yaw is supported in a pose, got {text!r}")
    return (x, y, z, yaw)


def _compose(
    parent: tuple[float, float, float, float], child: tuple[float, float, float, float]
) -> tuple[float, float, float, float]:
    px, py, pz, pyaw = parent
    cx, cy, cz, cyaw = child
    c, s = math.cos(pyaw), math.sin(pyaw)
    return (px + c * cx - s * cy, py + s * cx + c * cy, pz + cz, pyaw + cyaw)


def world_boxes(world: Path) -> list[Box]:
    """Every box collision of every model in the world, in world coordinates."""
    try:
        root = ET.parse(world).getroot()  # noqa: S314 - the user's own world file
    except (OSError, ET.ParseError) as exc:
        raise FleetFileError(f"{world}: cannot read the world: {exc}") from exc
    boxes: list[Box] = []
    for model in root.iterfind("world/model"):
        model_where = f"{world}: model {model.get('name')!r}"
        model_pose = _pose(model, model_where)
        for link in model.iterfind("link"):
            link_where = f"{model_where} link {link.get('name')!r}"
            link_pose = _compose(model_pose, _pose(link, link_where))
            for collision in link.iterfind("collision"):
                size_text = collision.findtext("geometry/box/size")
                if size_text is None:
                    continue
                try:
                    sx, sy, sz = (float(v) for v in size_text.split())
                except ValueError:
                    raise FleetFileError(
                        f"{link_where}: box size must be three numbers, got {size_text!r}"
                    ) from None
                x, y, z, yaw = _compose(link_pose, _pose(collision, link_where))
                boxes.append(Box(x, y, z, yaw, (sx, sy, sz)))
    return boxes


def rasterise(
    boxes: list[Box],
    resolution: float = 0.05,
    band: tuple[float, float] = (0.05, 1.8),
    margin: float = 1.0,
) -> WorldMap:
    """Mark every cell a box in the height band touches (boxes grow by half a cell).

    The map spans every box (the floor too, so all of the level is on the map); only
    boxes reaching into the band are obstacles.
    """
    if resolution <= 0:
        raise ValueError(f"resolution must be positive, got {resolution}")
    if not boxes:
        raise FleetFileError("the world has no colliding boxes to make a map of")
    solid = [b for b in boxes if b.z + b.size[2] / 2 > band[0] and b.z - b.size[2] / 2 < band[1]]
    corners = np.concatenate([b.corners() for b in boxes])
    x0, y0 = corners.min(axis=0) - margin
    x1, y1 = corners.max(axis=0) + margin
    cols, rows = math.ceil((x1 - x0) / resolution), math.ceil((y1 - y0) / resolution)
    occupied = np.zeros((rows, cols), dtype=bool)
    half_cell = resolution / 2
    for box in solid:
        lo = np.floor((box.corners().min(axis=0) - [x0, y0]) / resolution).astype(int) - 1
        hi = np.ceil((box.corners().max(axis=0) - [x0, y0]) / resolution).astype(int) + 1
        c_lo, r_lo = np.maximum(lo, 0)
        c_hi, r_hi = min(hi[0], cols), min(hi[1], rows)
        cx = x0 + (np.arange(c_lo, c_hi) + 0.5) * resolution
        cy = y0 + (np.arange(r_lo, r_hi) + 0.5) * resolution
        gx, gy = np.meshgrid(cx - box.x, cy - box.y)
        c, s = math.cos(box.yaw), math.sin(box.yaw)
        # Cell centres in the box's own frame; inside when within half-size + half a cell.
        u, v = c * gx + s * gy, -s * gx + c * gy
        inside = (np.abs(u) <= box.size[0] / 2 + half_cell) & (
            np.abs(v) <= box.size[1] / 2 + half_cell
        )
        occupied[r_lo:r_hi, c_lo:c_hi] |= inside
    return WorldMap(occupied, float(x0), float(y0), resolution)


def write_map(world_map: WorldMap, directory: Path, name: str = "level_map") -> Path:
    """Write ``<name>.pgm`` and ``<name>.yaml`` (map_server format); returns the YAML path."""
    pixels = np.where(world_map.occupied, OCCUPIED_PIXEL, FREE_PIXEL).astype(np.uint8)
    rows, cols = pixels.shape
    # PGM rows run top to bottom; map row 0 is the bottom.
    image = directory / f"{name}.pgm"
    image.write_bytes(f"P5\n{cols} {rows}\n255\n".encode("ascii") + pixels[::-1].tobytes())
    yaml_path = directory / f"{name}.yaml"
    yaml_path.write_text(
        f"image: {image.name}\n"
        "mode: trinary\n"
        f"resolution: {world_map.resolution}\n"
        f"origin: [{world_map.origin_x:.4f}, {world_map.origin_y:.4f}, 0.0]\n"
        "negate: 0\n"
        "occupied_thresh: 0.65\n"
        "free_thresh: 0.25\n"
    )
    return yaml_path


def world_map_file(world: Path, directory: Path, resolution: float = 0.05) -> Path:
    """The Nav2 map YAML of a world, written into `directory`."""
    return write_map(rasterise(world_boxes(world), resolution), directory)

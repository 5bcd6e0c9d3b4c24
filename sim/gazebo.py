"""Export one level of a site as a Gazebo (gz sim) world with robot spawn poses.

`world.sdf` (SDF 1.9) holds a ground plane, the level's floor as a box over the level's
extent, one static `walls` model with a box link per wall segment (the map's wall height;
`WALL_THICKNESS_M` thick, the Open-RMF editor's default), and each door as a model of its
own so a door plugin can be attached later. `robots.yaml` lists spawn poses for the ROS 2
launch in `ros2_ws/`, in exactly this shape::

    world: world.sdf
    level: L1
    robots:
      - {name: robot_1, namespace: robot_1, x: 12.8, y: -38.5, z: 0.0, yaw: 1.57}

Robots are placed on chargers first, then parking spots, then holding points, then any
other waypoint with a lane, each facing along its first lane.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import yaml

from missions.sites import Level, Site, Waypoint

SDF_VERSION = "1.9"
WALL_THICKNESS_M = 0.1
FLOOR_THICKNESS_M = 0.1
DOOR_THICKNESS_M = 0.05
DOOR_HEIGHT_M = 2.2
GROUND_MARGIN_M = 10.0
WORLD_FILE = "world.sdf"
ROBOTS_FILE = "robots.yaml"


@dataclass(frozen=True)
class Extent:
    """Axis-aligned bounding box of a level in level metres."""

    min_x: float
    min_y: float
    max_x: float
    max_y: float

    @property
    def size(self) -> tuple[float, float]:
        """(width, depth) in metres."""
        return self.max_x - self.min_x, self.max_y - self.min_y

    @property
    def centre(self) -> tuple[float, float]:
        """Middle of the box."""
        return (self.min_x + self.max_x) / 2, (self.min_y + self.max_y) / 2


@dataclass(frozen=True)
class SpawnPose:
    """Where one robot starts in the Gazebo world."""

    name: str
    namespace: str
    x: float
    y: float
    z: float
    yaw: float


class GazeboExportError(ValueError):
    """The export cannot be made; the message names the option or map element."""


def level_extent(level: Level) -> Extent:
    """Bounding box of everything drawn on the level: walls, floors, doors, waypoints."""
    xs: list[float] = []
    ys: list[float] = []
    for wall in level.walls:
        xs += [wall.start[0], wall.end[0]]
        ys += [wall.start[1], wall.end[1]]
    for outline in level.floors:
        xs += [p[0] for p in outline]
        ys += [p[1] for p in outline]
    for door in level.doors:
        xs += [door.start[0], door.end[0]]
        ys += [door.start[1], door.end[1]]
    xs += [wp.x for wp in level.waypoints]
    ys += [wp.y for wp in level.waypoints]
    if not xs:
        raise GazeboExportError(
            f"level {level.name!r}: nothing drawn on it (no walls or waypoints)"
        )
    return Extent(min(xs), min(ys), max(xs), max(ys))


def _pose(x: float, y: float, z: float, yaw: float = 0.0) -> str:
    return f"{x:.4f} {y:.4f} {z:.4f} 0 0 {yaw:.6f}"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = text
    return element


def _box_link(
    model: ET.Element, name: str, pose: str, size: tuple[float, float, float], *, collide: bool
) -> ET.Element:
    link = _sub(model, "link", name=name)
    _sub(link, "pose", pose)
    dims = " ".join(f"{v:.4f}" for v in size)
    if collide:
        geometry = _sub(_sub(link, "collision", name="collision"), "geometry")
        _sub(_sub(geometry, "box"), "size", dims)
    visual = _sub(link, "visual", name="visual")
    _sub(_sub(_sub(visual, "geometry"), "box"), "size", dims)
    return link


def _plugins(world: ET.Element) -> None:
    for filename, name in (
        ("gz-sim-physics-system", "gz::sim::systems::Physics"),
        ("gz-sim-user-commands-system", "gz::sim::systems::UserCommands"),
        ("gz-sim-scene-broadcaster-system", "gz::sim::systems::SceneBroadcaster"),
        ("gz-sim-sensors-system", "gz::sim::systems::Sensors"),
    ):
        _sub(world, "plugin", filename=filename, name=name)


def _ground(world: ET.Element, extent: Extent) -> None:
    width, depth = extent.size
    cx, cy = extent.centre
    plane = f"{width + 2 * GROUND_MARGIN_M:.4f} {depth + 2 * GROUND_MARGIN_M:.4f}"
    model = _sub(world, "model", name="ground_plane")
    _sub(model, "static", "true")
    _sub(model, "pose", _pose(cx, cy, -FLOOR_THICKNESS_M))
    link = _sub(model, "link", name="link")
    for tag in ("collision", "visual"):
        geometry = _sub(_sub(link, tag, name=tag), "geometry")
        shape = _sub(geometry, "plane")
        _sub(shape, "normal", "0 0 1")
        _sub(shape, "size", plane)


def _floor(world: ET.Element, extent: Extent) -> None:
    width, depth = extent.size
    cx, cy = extent.centre
    model = _sub(world, "model", name="floor")
    _sub(model, "static", "true")
    _box_link(
        model,
        "floor",
        _pose(cx, cy, -FLOOR_THICKNESS_M / 2),
        (width, depth, FLOOR_THICKNESS_M),
        collide=True,
    )


def _walls(world: ET.Element, level: Level, thickness: float) -> None:
    model = _sub(world, "model", name="walls")
    _sub(model, "static", "true")
    for k, wall in enumerate(level.walls):
        (x0, y0), (x1, y1) = wall.start, wall.end
        length = math.hypot(x1 - x0, y1 - y0)
        pose = _pose((x0 + x1) / 2, (y0 + y1) / 2, wall.height_m / 2, math.atan2(y1 - y0, x1 - x0))
        # A zero-length wall would be a degenerate box; Gazebo wants every size > 0.
        _box_link(
            model, f"wall_{k}", pose, (max(length, 1e-3), thickness, wall.height_m), collide=True
        )


def _doors(world: ET.Element, level: Level) -> None:
    for k, door in enumerate(level.doors):
        (x0, y0), (x1, y1) = door.start, door.end
        model = _sub(world, "model", name=f"door_{k}_{_safe(door.name)}")
        _sub(model, "static", "true")
        pose = _pose((x0 + x1) / 2, (y0 + y1) / 2, DOOR_HEIGHT_M / 2, math.atan2(y1 - y0, x1 - x0))
        width = max(math.hypot(x1 - x0, y1 - y0), 1e-3)
        # Visual only: our doors open on request through the building, which Gazebo does
        # not simulate; a colliding closed door would block every robot for good.
        _box_link(model, "panel", pose, (width, DOOR_THICKNESS_M, DOOR_HEIGHT_M), collide=False)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "_-" else "_" for c in name) or "door"


def world_sdf(site: Site, level_name: str, *, wall_thickness_m: float = WALL_THICKNESS_M) -> str:
    """The SDF 1.9 world of one level, as text."""
    level = _level(site, level_name)
    extent = level_extent(level)
    sdf = ET.Element("sdf", version=SDF_VERSION)
    world = _sub(sdf, "world", name=_safe(f"{site.name}_{level.name}"))
    _plugins(world)
    geo = site.geo_reference
    spherical = _sub(world, "spherical_coordinates")
    _sub(spherical, "surface_model", "EARTH_WGS84")
    _sub(spherical, "world_frame_orientation", "ENU")
    _sub(spherical, "latitude_deg", f"{geo.anchor_lat:.8f}")
    _sub(spherical, "longitude_deg", f"{geo.anchor_lon:.8f}")
    _sub(spherical, "elevation", f"{level.elevation_m:.3f}")
    _sub(spherical, "heading_deg", f"{math.degrees(geo.rotation_rad):.6f}")
    light = _sub(world, "light", type="directional", name="sun")
    _sub(light, "cast_shadows", "true")
    _sub(light, "pose", "0 0 30 0 0 0")
    _sub(light, "direction", "-0.5 0.1 -0.9")
    _ground(world, extent)
    _floor(world, extent)
    _walls(world, level, wall_thickness_m)
    _doors(world, level)
    ET.indent(sdf)
    return '<?xml version="1.0" ?>\n' + ET.tostring(sdf, encoding="unicode") + "\n"


def _level(site: Site, level_name: str) -> Level:
    try:
        return site.level(level_name)
    except KeyError:
        known = ", ".join(lvl.name for lvl in site.levels)
        raise GazeboExportError(f"--level: no level {level_name!r} (levels: {known})") from None


def spawn_poses(site: Site, level_name: str, count: int, prefix: str = "robot") -> list[SpawnPose]:
    """`count` spawn poses on the level: chargers, parking spots, holding points, others."""
    level = _level(site, level_name)
    heading = _lane_headings(level)

    def rank(wp: Waypoint) -> int:
        if wp.is_charger:
            return 0
        if wp.is_parking_spot:
            return 1
        return 2 if wp.is_holding_point else 3

    spots = sorted(
        (wp for wp in level.waypoints if wp.id in heading or rank(wp) < 3),
        key=lambda wp: (rank(wp), wp.id),
    )
    seen: set[tuple[float, float]] = set()
    unique = []
    for wp in spots:
        key = (round(wp.x, 2), round(wp.y, 2))
        if key not in seen:
            seen.add(key)
            unique.append(wp)
    if count > len(unique):
        raise GazeboExportError(
            f"--robots: level {level.name!r} has {len(unique)} distinct spawn spots, asked {count}"
        )
    return [
        SpawnPose(
            name=f"{prefix}_{k + 1}",
            namespace=f"{prefix}_{k + 1}",
            x=round(wp.x, 4),
            y=round(wp.y, 4),
            z=0.0,
            yaw=round(heading.get(wp.id, 0.0), 6),
        )
        for k, wp in enumerate(unique[:count])
    ]


def _lane_headings(level: Level) -> dict[str, float]:
    by_id = {wp.id: wp for wp in level.waypoints}
    headings: dict[str, float] = {}
    for lane in level.lanes:
        ends = [(lane.start, lane.end)] + ([(lane.end, lane.start)] if lane.bidirectional else [])
        for a, b in ends:
            if a not in headings:
                wa, wb = by_id[a], by_id[b]
                headings[a] = math.atan2(wb.y - wa.y, wb.x - wa.x)
    return headings


def robots_yaml(level_name: str, poses: list[SpawnPose]) -> str:
    """The spawn file the ROS 2 launch reads."""
    doc = {
        "world": WORLD_FILE,
        "level": level_name,
        "robots": [
            {"name": p.name, "namespace": p.namespace, "x": p.x, "y": p.y, "z": p.z, "yaw": p.yaw}
            for p in poses
        ],
    }
    return yaml.safe_dump(doc, sort_keys=False)


def export_gazebo(
    site: Site, level_name: str, out_dir: Path, robots: int, prefix: str = "robot"
) -> tuple[Path, Path]:
    """Write `world.sdf` and `robots.yaml` into `out_dir`; returns both paths."""
    if robots < 0:
        raise GazeboExportError(f"--robots: must be 0 or more, got {robots}")
    sdf = world_sdf(site, level_name)
    poses = spawn_poses(site, level_name, robots, prefix)
    out_dir.mkdir(parents=True, exist_ok=True)
    world_path, robots_path = out_dir / WORLD_FILE, out_dir / ROBOTS_FILE
    world_path.write_text(sdf, encoding="utf-8")
    robots_path.write_text(robots_yaml(level_name, poses), encoding="utf-8")
    return world_path, robots_path

"""fleet_gazebo.occupancy: the Nav2 map rasterised from a world, read back as map_server does."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from fleet_gazebo.occupancy import Box, rasterise, world_boxes, world_map_file, write_map
from fleet_gazebo.plan import FleetFileError, load_fleet

from missions.sites.occupancy import OCCUPIED, load_occupancy_grid

MAPS = Path(__file__).resolve().parents[1] / "fixtures" / "maps" / "rmf"

WORLD = """<?xml version="1.0"?>
<sdf version="1.9"><world name="w">
  <model name="floor"><static>true</static>
    <link name="floor"><pose>5 0 -0.05 0 0 0</pose>
      <collision name="c"><geometry><box><size>10 10 0.1</size></box></geometry></collision>
    </link>
  </model>
  <model name="walls"><static>true</static><pose>1 0 0 0 0 0</pose>
    <link name="east"><pose>3 0 1.25 0 0 {yaw}</pose>
      <collision name="c"><geometry><box><size>4 0.1 2.5</size></box></geometry></collision>
    </link>
    <link name="ghost"><pose>0 3 1 0 0 0</pose>
      <visual name="v"><geometry><box><size>2 0.1 2</size></box></geometry></visual>
    </link>
    <link name="lamp"><pose>0 -3 2.5 0 0 0</pose>
      <collision name="c"><geometry><box><size>1 1 0.2</size></box></geometry></collision>
    </link>
  </model>
</world></sdf>
"""


def occupied_at(world_map: object, x: float, y: float) -> bool:
    from fleet_gazebo.occupancy import WorldMap

    assert isinstance(world_map, WorldMap)
    col = int((x - world_map.origin_x) / world_map.resolution)
    row = int((y - world_map.origin_y) / world_map.resolution)
    return bool(world_map.occupied[row, col])


def test_boxes_compose_model_link_and_collision_poses(tmp_path: Path) -> None:
    world = tmp_path / "world.sdf"
    world.write_text(WORLD.format(yaw=math.pi / 2))
    boxes = world_boxes(world)
    assert len(boxes) == 3  # floor, east wall, lamp; the visual-only panel is not solid
    east = boxes[1]
    assert (east.x, east.y, east.z) == (4.0, 0.0, 1.25)
    assert math.isclose(east.yaw, math.pi / 2)


def test_walls_in_the_height_band_are_occupied_the_rest_free(tmp_path: Path) -> None:
    world = tmp_path / "world.sdf"
    world.write_text(WORLD.format(yaw=math.pi / 2))  # east wall runs along y at x = 4
    world_map = rasterise(world_boxes(world), resolution=0.05)
    for y in (-1.9, -1.0, 0.0, 1.0, 1.9):
        assert occupied_at(world_map, 4.0, y)
    assert not occupied_at(world_map, 4.0, 2.3)  # past the wall's end
    assert not occupied_at(world_map, 3.8, 0.0)  # beside it
    assert not occupied_at(world_map, 1.0, 3.0)  # the visual-only panel
    assert not occupied_at(world_map, 1.0, -3.0)  # the lamp hangs above the band
    assert not occupied_at(world_map, 2.0, 1.0)  # the floor is below it


def test_a_thin_diagonal_wall_leaves_no_gap(tmp_path: Path) -> None:
    box = Box(0.0, 0.0, 1.0, math.radians(37), (6.0, 0.1, 2.0))
    world_map = rasterise([box], resolution=0.05)
    for t in np.linspace(-2.9, 2.9, 200):
        x, y = t * math.cos(box.yaw), t * math.sin(box.yaw)
        assert occupied_at(world_map, x, y)


def test_map_files_read_back_as_map_server_would(tmp_path: Path) -> None:
    world = tmp_path / "world.sdf"
    world.write_text(WORLD.format(yaw=0.0))  # east wall along x from 2 to 6 at y = 0
    yaml_path = world_map_file(world, tmp_path)
    grid = load_occupancy_grid(yaml_path)
    assert grid.meta.mode == "trinary" and grid.meta.resolution == 0.05
    xs, ys = grid.corner_to_map(np.arange(grid.width) + 0.5, np.full(grid.width, 0.5))
    del ys
    row = int((0.0 - grid.meta.origin[1]) / grid.meta.resolution)
    occupied_x = xs[grid.values[row] == OCCUPIED]
    assert occupied_x.min() == pytest.approx(2.0, abs=0.1)
    assert occupied_x.max() == pytest.approx(6.0, abs=0.1)
    assert (grid.values == OCCUPIED).sum() == rasterise(world_boxes(world)).occupied.sum()


def test_exported_world_map_has_walls_and_free_spawn_poses(tmp_path: Path) -> None:
    from sim.gazebo import export_gazebo
    from sim.sitemaps import load_site

    site = load_site(MAPS / "clinic.building.yaml")
    world, robots = export_gazebo(site, "L1", tmp_path, 4)
    world_map = rasterise(world_boxes(world))
    assert 0.005 < world_map.occupied.mean() < 0.5
    for robot in load_fleet(robots).robots:
        assert not occupied_at(world_map, robot.x, robot.y), robot.name
    for wall in site.level("L1").walls:
        (x0, y0), (x1, y1) = wall.start, wall.end
        assert occupied_at(world_map, (x0 + x1) / 2, (y0 + y1) / 2)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("<sdf><world name='w'></world></sdf>", "no colliding boxes"),
        ("<sdf><world", "cannot read"),
        (WORLD.replace("3 0 1.25 0 0 {yaw}", "3 0 1.25 0.3 0 0"), "only yaw"),
        (WORLD.replace("3 0 1.25 0 0 {yaw}", "3 0 1.25"), "six numbers"),
        (WORLD.replace("<size>4 0.1 2.5</size>", "<size>4 0.1</size>"), "three numbers"),
    ],
)
def test_unusable_worlds_are_reported(tmp_path: Path, text: str, error: str) -> None:
    world = tmp_path / "world.sdf"
    world.write_text(text.replace("{yaw}", "0"))
    with pytest.raises(FleetFileError, match=error):
        rasterise(world_boxes(world))


def test_resolution_must_be_positive() -> None:
    with pytest.raises(ValueError, match="resolution"):
        rasterise([Box(0, 0, 1, 0, (1, 1, 1))], resolution=0)


def test_write_map_orients_rows_for_pgm(tmp_path: Path) -> None:
    from fleet_gazebo.occupancy import WorldMap

    occupied = np.zeros((3, 2), dtype=bool)
    occupied[0, 0] = True  # bottom-left cell
    yaml_path = write_map(WorldMap(occupied, -1.0, -2.0, 0.5), tmp_path, "tiny")
    data = (tmp_path / "tiny.pgm").read_bytes()
    assert data.startswith(b"P5\n2 3\n255\n")
    pixels = np.frombuffer(data[len(b"P5\n2 3\n255\n") :], dtype=np.uint8).reshape(3, 2)
    assert pixels[2, 0] == 0 and (pixels != 0).sum() == 5  # last PGM row is the map's bottom
    assert "origin: [-1.0000, -2.0000, 0.0]" in yaml_path.read_text()

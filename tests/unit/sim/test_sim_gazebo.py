"""Gazebo export: well-formed SDF, every wall segment, the map's extent, spawn poses."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from fleet_cli.main import app
from missions.sites import Level, Site
from sim.gazebo import GazeboExportError, export_gazebo, spawn_poses
from sim.sitemaps import load_site

MAPS = Path(__file__).resolve().parents[2] / "fixtures" / "maps" / "rmf"


def floats(text: str | None) -> list[float]:
    return [float(v) for v in (text or "").split()]


def drawn_bbox(level: Level) -> tuple[float, float, float, float]:
    points = [p for w in level.walls for p in (w.start, w.end)]
    points += [p for outline in level.floors for p in outline]
    points += [p for d in level.doors for p in (d.start, d.end)]
    points += [(wp.x, wp.y) for wp in level.waypoints]
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return min(xs), min(ys), max(xs), max(ys)


def export(tmp_path: Path, name: str, level: str, robots: int) -> tuple[Site, ET.Element, dict]:
    site = load_site(MAPS / f"{name}.building.yaml")
    world_path, robots_path = export_gazebo(site, level, tmp_path, robots)
    root = ET.fromstring(world_path.read_text())  # noqa: S314 - our own output
    return site, root, yaml.safe_load(robots_path.read_text())


@pytest.mark.parametrize(("name", "level"), [("clinic", "L1"), ("clinic", "L2"), ("office", "L1")])
def test_every_wall_segment_is_a_box_link_of_its_length_and_height(
    tmp_path: Path, name: str, level: str
) -> None:
    site, root, _ = export(tmp_path, name, level, 1)
    assert root.tag == "sdf" and root.get("version") == "1.9"
    walls = root.find("./world/model[@name='walls']")
    assert walls is not None
    links = walls.findall("link")
    expected = site.level(level).walls
    assert len(links) == len(expected) > 0
    for wall, link in zip(expected, links, strict=True):
        x, y, z, _, _, yaw = floats(link.findtext("pose"))
        length, thickness, height = floats(link.findtext("collision/geometry/box/size"))
        (x0, y0), (x1, y1) = wall.start, wall.end
        assert (x, y) == pytest.approx(((x0 + x1) / 2, (y0 + y1) / 2), abs=1e-3)
        assert length == pytest.approx(max(math.hypot(x1 - x0, y1 - y0), 1e-3), abs=1e-3)
        assert (z, height) == pytest.approx((wall.height_m / 2, wall.height_m), abs=1e-3)
        if length > 0.01:
            direction = (math.cos(yaw), math.sin(yaw))
            along = ((x1 - x0) / length, (y1 - y0) / length)
            assert abs(direction[0] * along[1] - direction[1] * along[0]) < 1e-3
        assert thickness == pytest.approx(0.1)


@pytest.mark.parametrize(("name", "level"), [("clinic", "L1"), ("office", "L1"), ("campus", "L1")])
def test_the_floor_covers_exactly_the_maps_extent(tmp_path: Path, name: str, level: str) -> None:
    site, root, _ = export(tmp_path, name, level, 1)
    floor = root.find("./world/model[@name='floor']/link")
    assert floor is not None
    cx, cy, *_ = floats(floor.findtext("pose"))
    width, depth, _ = floats(floor.findtext("collision/geometry/box/size"))
    min_x, min_y, max_x, max_y = drawn_bbox(site.level(level))
    assert (cx - width / 2, cy - depth / 2) == pytest.approx((min_x, min_y), abs=1e-3)
    assert (cx + width / 2, cy + depth / 2) == pytest.approx((max_x, max_y), abs=1e-3)
    ground = root.find("./world/model[@name='ground_plane']/link/collision/geometry/plane/size")
    assert ground is not None and floats(ground.text)[0] > width


def test_doors_are_models_of_their_own(tmp_path: Path) -> None:
    site, root, _ = export(tmp_path, "office", "L1", 1)
    doors = [m for m in root.iter("model") if (m.get("name") or "").startswith("door_")]
    assert len(doors) == len(site.level("L1").doors) == 3
    assert {d.get("name") for d in doors} == {
        "door_0_main_door",
        "door_1_coe_door",
        "door_2_hardware_door",
    }


def test_robots_yaml_has_the_launch_shape_and_chargers_come_first(tmp_path: Path) -> None:
    site, _, spawn = export(tmp_path, "clinic", "L2", 3)
    assert list(spawn) == ["world", "level", "robots"]
    assert (spawn["world"], spawn["level"]) == ("world.sdf", "L2")
    assert [list(r) for r in spawn["robots"]] == [["name", "namespace", "x", "y", "z", "yaw"]] * 3
    chargers = {(round(w.x, 4), round(w.y, 4)) for w in site.level("L2").waypoints if w.is_charger}
    first_two = {(r["x"], r["y"]) for r in spawn["robots"][:2]}
    assert first_two == chargers
    assert len({(r["x"], r["y"]) for r in spawn["robots"]}) == 3
    assert [r["name"] for r in spawn["robots"]] == ["robot_1", "robot_2", "robot_3"]


def test_bad_requests_name_the_option(tmp_path: Path) -> None:
    site = load_site(MAPS / "office.building.yaml")
    with pytest.raises(GazeboExportError, match=r"--level.*L7"):
        export_gazebo(site, "L7", tmp_path, 1)
    with pytest.raises(GazeboExportError, match="--robots"):
        spawn_poses(site, "L1", 10_000)


def test_cli_writes_both_files_and_fails_cleanly(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(
        app,
        [
            "sim",
            "export-gazebo",
            str(MAPS / "office.building.yaml"),
            "--level",
            "L1",
            "--out",
            str(tmp_path / "gz"),
            "--robots",
            "2",
        ],
    )
    assert ok.exit_code == 0, ok.output
    assert (tmp_path / "gz" / "world.sdf").is_file()
    assert len(yaml.safe_load((tmp_path / "gz" / "robots.yaml").read_text())["robots"]) == 2
    bad = runner.invoke(
        app,
        [
            "sim",
            "export-gazebo",
            str(MAPS / "office.building.yaml"),
            "--level",
            "L9",
            "--out",
            str(tmp_path / "gz2"),
        ],
    )
    assert bad.exit_code == 2 and "--level" in bad.output
    missing = runner.invoke(
        app, ["sim", "export-gazebo", str(tmp_path / "none.building.yaml"), "--out", str(tmp_path)]
    )
    assert missing.exit_code == 2 and "none.building.yaml" in missing.output

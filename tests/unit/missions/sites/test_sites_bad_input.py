"""Every bad-input case gets a SiteImportError naming file, level and element."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from missions.sites import SiteImportError, import_occupancy_grid, import_rmf_building, import_site

OCCUPANCY = Path(__file__).resolve().parents[3] / "fixtures" / "maps" / "occupancy"
Writer = Callable[..., None]
RmfCopy = Callable[..., Path]


def _raises(call: Callable[[], object]) -> SiteImportError:
    with pytest.raises(SiteImportError) as info:
        call()
    err = info.value
    assert isinstance(err, ValueError)
    text = str(err)
    assert err.file in text
    if err.level is not None:
        assert err.level in text
    if err.element is not None:
        assert err.element in text
    return err


def _office_lane_section(text: str) -> tuple[int, int]:
    start = text.index("    lanes:\n") + len("    lanes:\n")
    end = text.index("    layers:\n")
    return start, end


# --- Open-RMF ------------------------------------------------------------------------------------


def test_malformed_yaml(rmf_copy: RmfCopy) -> None:
    path = rmf_copy("office", lambda t: t.replace("    elevation: 0\n", "    elevation: [0\n", 1))
    err = _raises(lambda: import_rmf_building(path))
    assert err.file == "office.building.yaml"
    assert err.element is not None and re.match(r"line \d+, column \d+", err.element)
    assert "malformed YAML" in str(err)


def test_an_integer_too_long_to_convert_is_malformed_yaml(rmf_copy: RmfCopy) -> None:
    # Python refuses to turn more than 4300 digits into an int (a ValueError, not a
    # YAMLError); the API fuzz once got a 500 from it.
    huge = "9" * 5000
    path = rmf_copy(
        "office", lambda t: t.replace("    elevation: 0\n", f"    elevation: {huge}\n", 1)
    )
    for load in (import_rmf_building, import_site):
        err = _raises(lambda load=load: load(path))  # type: ignore[misc]
        assert (err.file, err.element) == ("office.building.yaml", "document")
        assert "malformed YAML" in str(err) and "4300" in str(err)


def test_lane_pointing_at_missing_vertex(rmf_copy: RmfCopy) -> None:
    path = rmf_copy("office", lambda t: t.replace("      - [43, 44, {", "      - [43, 999, {", 1))
    err = _raises(lambda: import_rmf_building(path))
    assert (err.file, err.level, err.element) == ("office.building.yaml", "L1", "lanes[2]")
    assert "vertex 999" in str(err)


def test_missing_floor_plan_image(rmf_copy: RmfCopy) -> None:
    path = rmf_copy("clinic", images=False)
    err = _raises(lambda: import_rmf_building(path))
    assert (err.level, err.element) == ("L1", "drawing.filename")
    assert "clinic.png" in str(err)


def test_level_without_measurements(rmf_copy: RmfCopy) -> None:
    def drop_measurements(text: str) -> str:
        return re.sub(r"    measurements:\n(      - .*\n)+", "", text)

    path = rmf_copy("office", drop_measurements)
    err = _raises(lambda: import_rmf_building(path))
    assert (err.level, err.element) == ("L1", "measurements")


def test_upper_level_without_measurements_or_shared_fiducials(rmf_copy: RmfCopy) -> None:
    def strip_l2(text: str) -> str:
        head, l2 = text.split("\n  L2:\n", 1)
        l2 = re.sub(r"    measurements:\n(      - .*\n)+", "", l2)
        l2 = re.sub(r"    fiducials:\n(      - .*\n)+", "", l2)
        return head + "\n  L2:\n" + l2

    path = rmf_copy("clinic", strip_l2)
    err = _raises(lambda: import_rmf_building(path))
    assert (err.level, err.element) == ("L2", "measurements")


def test_upper_level_aligned_by_fiducials_needs_no_measurements(rmf_copy: RmfCopy) -> None:
    def strip_l2_measurements(text: str) -> str:
        head, l2 = text.split("\n  L2:\n", 1)
        return head + "\n  L2:\n" + re.sub(r"    measurements:\n(      - .*\n)+", "", l2)

    site = import_rmf_building(rmf_copy("clinic", strip_l2_measurements))
    assert [lvl.name for lvl in site.levels] == ["L1", "L2"]


def test_empty_graph(rmf_copy: RmfCopy) -> None:
    def drop_lanes(text: str) -> str:
        start, end = _office_lane_section(text)
        return text[:start] + "      []\n" + text[end:]

    err = _raises(lambda: import_rmf_building(rmf_copy("office", drop_lanes)))
    assert err.element == "lanes"
    assert "empty" in str(err)


def test_disconnected_graph(rmf_copy: RmfCopy) -> None:
    def add_island(text: str) -> str:
        start, _ = _office_lane_section(text)
        # Vertices 0 and 1 are wall corners that no other lane touches.
        island = "      - [0, 1, {bidirectional: [4, true], graph_idx: [2, 0]}]\n"
        return text[:start] + island + text[start:]

    err = _raises(lambda: import_rmf_building(rmf_copy("office", add_island)))
    assert err.level == "L1"
    assert err.element in ("waypoint L1:0", "waypoint L1:1")
    assert "disconnected" in str(err)


def test_lift_serving_unknown_level(rmf_copy: RmfCopy) -> None:
    path = rmf_copy(
        "clinic", lambda t: t.replace("      L2: [lift_1_door]", "      L9: [lift_1_door]", 1)
    )
    err = _raises(lambda: import_rmf_building(path))
    assert err.element == "lifts.lift_1.level_doors"


def test_lift_with_zero_cabin_width(rmf_copy: RmfCopy) -> None:
    path = rmf_copy(
        "clinic", lambda t: t.replace("    width: 2.5\n    x: 1600", "    width: 0\n    x: 1600", 1)
    )
    err = _raises(lambda: import_rmf_building(path))
    assert err.element == "Lift.cabin_width_m"


def test_lane_with_bad_graph_index(rmf_copy: RmfCopy) -> None:
    def negative_graph(text: str) -> str:
        # Third lane of the office map, 43-44.
        return re.sub(r"(      - \[43, 44, \{.*?graph_idx: \[2, )0\]", r"\g<1>-3]", text, count=1)

    err = _raises(lambda: import_rmf_building(rmf_copy("office", negative_graph)))
    assert (err.level, err.element) == ("L1", "lanes[2]")
    assert "graph_idx" in str(err)


def test_unsupported_file_type(tmp_path: Path) -> None:
    path = tmp_path / "site.geojson"
    path.write_text("{}")
    err = _raises(lambda: import_site(path))
    assert err.element == "file type"


# --- occupancy grids -----------------------------------------------------------------------------


def _depot_copy(tmp_path: Path) -> Path:
    for name in ("depot.yaml", "depot.pgm", "depot_keepout.yaml", "depot_keepout.pgm"):
        shutil.copy(OCCUPANCY / name, tmp_path / name)
    return tmp_path / "depot.yaml"


def test_pgm_raster_shorter_than_header(tmp_path: Path) -> None:
    yaml_path = _depot_copy(tmp_path)
    pgm = tmp_path / "depot.pgm"
    pgm.write_bytes(pgm.read_bytes()[:-1000])
    err = _raises(lambda: import_occupancy_grid(yaml_path))
    assert (err.file, err.element) == ("depot.pgm", "raster")
    assert "promises 185428" in str(err)  # 604 x 307


def test_pgm_that_is_not_a_pgm(tmp_path: Path) -> None:
    yaml_path = _depot_copy(tmp_path)
    Image.new("L", (10, 10), 254).save(tmp_path / "fake.png")
    (tmp_path / "depot.pgm").write_bytes((tmp_path / "fake.png").read_bytes())
    err = _raises(lambda: import_occupancy_grid(yaml_path))
    assert (err.file, err.element) == ("depot.pgm", "header")


def test_plain_pgm_sample_count_mismatch(tmp_path: Path, write_map: Writer) -> None:
    (tmp_path / "m.pgm").write_text("P2\n3 2\n255\n0 0 0 0 0\n")
    write_map(tmp_path / "m.yaml", "m.pgm")
    err = _raises(lambda: import_occupancy_grid(tmp_path / "m.yaml"))
    assert (err.file, err.element) == ("m.pgm", "raster")


def test_keepout_mask_of_another_size(tmp_path: Path, write_pgm: Writer, write_map: Writer) -> None:
    yaml_path = _depot_copy(tmp_path)
    write_pgm(tmp_path / "small.pgm", [[254] * 20] * 10, 20, 10)
    write_map(tmp_path / "small.yaml", "small.pgm")
    err = _raises(lambda: import_occupancy_grid(yaml_path, keepout_yaml=tmp_path / "small.yaml"))
    assert (err.file, err.element) == ("small.yaml", "image size")
    assert "20x10" in str(err) and "604x307" in str(err)


def test_keepout_mask_with_other_origin(tmp_path: Path) -> None:
    yaml_path = _depot_copy(tmp_path)
    keepout = tmp_path / "depot_keepout.yaml"
    keepout.write_text(
        keepout.read_text().replace("origin: [0.0, 0.0, 0]", "origin: [1.0, 0.0, 0]")
    )
    err = _raises(lambda: import_occupancy_grid(yaml_path, keepout_yaml=keepout))
    assert (err.file, err.element) == ("depot_keepout.yaml", "origin")


def test_missing_map_image(tmp_path: Path) -> None:
    yaml_path = _depot_copy(tmp_path)
    (tmp_path / "depot.pgm").unlink()
    err = _raises(lambda: import_occupancy_grid(yaml_path))
    assert (err.file, err.element) == ("depot.yaml", "image")


@pytest.mark.parametrize(
    ("old", "new", "element"),
    [
        ("origin: [0.0, 0.0, 0]", "origin: [0.0, 0.0]", "origin"),
        ("resolution: 0.05", "resolution: -1", "resolution"),
        ("mode: trinary", "mode: fancy", "mode"),
        ("free_thresh: 0.25", "free_thresh: 0.9", "free_thresh"),
        ("negate: 0\n", "", "negate"),
        ("resolution: 0.05", "resolution: [0.05", r"line \d+, column \d+"),
    ],
)
def test_bad_map_yaml(tmp_path: Path, old: str, new: str, element: str) -> None:
    yaml_path = _depot_copy(tmp_path)
    text = yaml_path.read_text()
    assert old in text
    yaml_path.write_text(text.replace(old, new))
    err = _raises(lambda: import_occupancy_grid(yaml_path))
    assert err.file == "depot.yaml"
    assert err.element is not None and re.fullmatch(element, err.element)


def test_grid_with_no_free_space(tmp_path: Path, write_pgm: Writer, write_map: Writer) -> None:
    write_pgm(tmp_path / "m.pgm", [[0] * 30] * 30, 30, 30)
    write_map(tmp_path / "m.yaml", "m.pgm")
    err = _raises(lambda: import_occupancy_grid(tmp_path / "m.yaml"))
    assert (err.level, err.element) == ("L1", "free space")
    assert "no free space" in str(err)


def test_grid_whose_free_space_is_split(tmp_path: Path) -> None:
    yaml_path = _depot_copy(tmp_path)
    pixels = np.asarray(Image.open(OCCUPANCY / "depot.pgm")).copy()
    pixels[:, 150:156] = 0  # a wall across the whole depot at x = 7.5 m
    header = b"P5\n604 307\n255\n"
    (tmp_path / "depot.pgm").write_bytes(header + pixels.tobytes())
    err = _raises(lambda: import_occupancy_grid(yaml_path))
    assert err.level == "L1"
    assert err.element is not None and err.element.startswith("free space near (")
    assert "splits" in str(err)

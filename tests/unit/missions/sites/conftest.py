"""Shared paths and helpers for the sites tests."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "maps"
RMF = FIXTURES / "rmf"
OCCUPANCY = FIXTURES / "occupancy"


@pytest.fixture
def rmf_copy(tmp_path: Path) -> Callable[..., Path]:
    """Copy an Open-RMF fixture (and its images) into tmp_path, optionally editing its text."""

    def make(name: str, edit: Callable[[str], str] | None = None, *, images: bool = True) -> Path:
        source = RMF / f"{name}.building.yaml"
        target = tmp_path / source.name
        text = source.read_text(encoding="utf-8")
        if edit is not None:
            edited = edit(text)
            assert edited != text, "the edit did not change the file"
            text = edited
        target.write_text(text, encoding="utf-8")
        if images:
            for png in RMF.glob("*.png"):
                shutil.copy(png, tmp_path / png.name)
        return target

    return make


def _write_pgm_p5(path: Path, pixels: list[list[int]] | bytes, width: int, height: int) -> None:
    """Write a binary PGM (maxval 255) from rows of pixels or raw bytes."""
    raster = pixels if isinstance(pixels, bytes) else bytes(v for row in pixels for v in row)
    path.write_bytes(f"P5\n{width} {height}\n255\n".encode() + raster)


def _write_map_yaml(path: Path, image: str, **overrides: object) -> None:
    """Write a map_server YAML with nav2's usual defaults, overridable per key."""
    values: dict[str, object] = {
        "image": image,
        "mode": "trinary",
        "resolution": 0.05,
        "origin": "[0.0, 0.0, 0.0]",
        "negate": 0,
        "occupied_thresh": 0.65,
        "free_thresh": 0.25,
    }
    values.update(overrides)
    lines = [f"{k}: {v}" for k, v in values.items() if v is not None]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def write_pgm() -> Callable[..., None]:
    """``write_pgm(path, rows_or_bytes, width, height)`` writes a P5 PGM."""
    return _write_pgm_p5


@pytest.fixture
def write_map() -> Callable[..., None]:
    """``write_map(path, image, **overrides)`` writes a map_server YAML."""
    return _write_map_yaml

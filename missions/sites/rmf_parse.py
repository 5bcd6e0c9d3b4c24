"""Parsing helpers for Open-RMF building files: YAML, vertices, ``[type, value]`` params, edges.

Every helper raises :class:`SiteImportError` naming the file, level and element at fault.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from missions.sites.errors import SiteImportError

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_PARAM_TYPES: dict[int, type] = {1: str, 2: int, 3: float, 4: bool}


@dataclass
class RawLevel:
    """A level as written in the file: its YAML node and decoded vertices (raw coordinates)."""

    name: str
    yaml: Mapping[str, Any]
    vertices: list[tuple[float, float, str, dict[str, Any]]] = field(default_factory=list)


def load_building_yaml(path: Path) -> Mapping[str, Any]:
    """Read and parse the YAML document; malformed YAML names line and column."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SiteImportError(f"cannot read file: {exc}", file=path.name) from exc
    try:
        doc = yaml.load(text, Loader=_LOADER)  # noqa: S506 - safe loader (C or Python)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "document"
        problem = getattr(exc, "problem", None) or str(exc)
        raise SiteImportError(f"malformed YAML: {problem}", file=path.name, element=where) from exc
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise SiteImportError(f"malformed YAML: {exc}", file=path.name, element="document") from exc
    if not isinstance(doc, dict):
        raise SiteImportError("top level is not a mapping", file=path.name, element="document")
    return doc


def raw_levels(doc: Mapping[str, Any], fname: str) -> list[RawLevel]:
    """The ``levels`` mapping as RawLevels with decoded vertices, in file order."""
    levels_yaml = doc.get("levels")
    if not isinstance(levels_yaml, dict) or not levels_yaml:
        raise SiteImportError("no levels defined", file=fname, element="levels")
    result = []
    for level_name, level_yaml in levels_yaml.items():
        if not isinstance(level_yaml, dict):
            raise SiteImportError("level is not a mapping", file=fname, level=str(level_name))
        raw = RawLevel(str(level_name), level_yaml)
        for i, vertex in enumerate(level_yaml.get("vertices") or []):
            raw.vertices.append(_parse_vertex(vertex, fname, raw.name, i))
        result.append(raw)
    return result


def _parse_vertex(
    vertex: Any, fname: str, level: str, index: int
) -> tuple[float, float, str, dict[str, Any]]:
    element = f"vertices[{index}]"
    if not isinstance(vertex, list) or len(vertex) < 2:
        raise SiteImportError(
            "expected [x, y, z, name, {params}]", file=fname, level=level, element=element
        )
    x, y = number(vertex[0], fname, level, element), number(vertex[1], fname, level, element)
    name = str(vertex[3]) if len(vertex) > 3 and vertex[3] is not None else ""
    params = _params(vertex[4] if len(vertex) > 4 else None, fname, level, element)
    return x, y, name, params


def number(value: Any, fname: str, level: str | None, element: str) -> float:
    """A finite int/float from the file, else SiteImportError naming ``element``."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SiteImportError(
            f"expected a finite number, got {value!r}", file=fname, level=level, element=element
        )
    return float(value)


def _params(raw: Any, fname: str, level: str | None, element: str) -> dict[str, Any]:
    """Decode ``{name: [type, value]}``; tolerates bare values written by older tools."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise SiteImportError(
            "parameters must be a mapping", file=fname, level=level, element=element
        )
    out: dict[str, Any] = {}
    for key, val in raw.items():
        if isinstance(val, list) and len(val) == 2 and isinstance(val[0], int):
            kind = _PARAM_TYPES.get(val[0])
            value = val[1]
            if kind is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if kind is not None and not isinstance(value, kind):
                raise SiteImportError(
                    f"parameter {key!r} should be {kind.__name__}, got {value!r}",
                    file=fname,
                    level=level,
                    element=element,
                )
            out[str(key)] = value
        else:
            out[str(key)] = val
    return out


def by_elevation(levels: list[RawLevel], fname: str) -> list[RawLevel]:
    """Levels sorted by their ``elevation`` (stable for equal elevations)."""

    def elevation(raw: RawLevel) -> float:
        return number(raw.yaml.get("elevation", 0.0), fname, raw.name, "elevation")

    return sorted(levels, key=elevation)


def edge(raw: Any, level: RawLevel, fname: str, element: str) -> tuple[int, int, dict[str, Any]]:
    """Decode ``[start, end, {params}]`` checking both vertex indices exist on the level."""
    if not isinstance(raw, list) or len(raw) < 2:
        raise SiteImportError(
            "expected [start, end, {params}]", file=fname, level=level.name, element=element
        )
    count = len(level.vertices)
    ends = []
    for value in raw[:2]:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SiteImportError(
                f"vertex index must be an integer, got {value!r}",
                file=fname,
                level=level.name,
                element=element,
            )
        if not 0 <= value < count:
            raise SiteImportError(
                f"refers to vertex {value}, but the level has {count} vertices (0..{count - 1})",
                file=fname,
                level=level.name,
                element=element,
            )
        ends.append(value)
    params = _params(raw[2] if len(raw) > 2 else None, fname, level.name, element)
    return ends[0], ends[1], params

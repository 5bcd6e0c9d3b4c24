"""UV-C dose model: lamp irradiance, dwell times and room dose planning.

Units: irradiance in mW/cm², which is mJ·cm⁻²·s⁻¹, so dose (mJ/cm²) = irradiance × seconds.

The lamp is modelled as a point source: irradiance falls with the inverse square of the
distance and with the cosine of the angle of incidence on a surface whose normal is known.
Closer than ``near_field_distance_m`` the value is held constant, because a real lamp of
finite size does not diverge at its axis and the robot's body keeps surfaces away anyway.

A room becomes a set of dwell points. The dose at each sample point of the room (a grid
over the floor area plus samples along the walls) is the sum over dwell points of
irradiance × dwell time; walls are lit only from dwell points they can see (non-convex
rooms shadow), with the cosine of incidence on the wall. Dwell times are chosen by a small
linear programme: minimise the total dwell time such that every sample reaches the target.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import AllowInfNan, BaseModel, ConfigDict, Field, Strict
from scipy.optimize import linprog

_Number = Annotated[float, Strict(), AllowInfNan(False)]

FloatArray = NDArray[np.float64]

DEFAULT_DWELL_POINTS_PER_ROOM = 4
"""Dwell points per room when a mission does not say."""

DEFAULT_UV_DISTANCE_M = 1.0
"""Reference distance from the lamp for waypoint and point targets when a mission does not say."""

DWELL_STEP_S = 0.1
"""Planned dwell times are whole multiples of this."""

DWELL_TOLERANCE_S = 0.05
"""How much lamp-on time a robot may fall short of a planned dwell and still count as done:
robots time and report to a tenth of a second. Room plans carry this much margin."""

_LOS_NUDGE_M = 0.01
"""Wall samples are pulled this far into the room so a sight line ending on the wall
does not count the wall itself as an obstruction."""


class LampModel(BaseModel):
    """A UV-C lamp described by its measured irradiance at 1 m (normal incidence)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    irradiance_at_1m_mw_cm2: _Number = Field(
        gt=0, le=1000, description="irradiance at 1 m from the lamp axis, mW/cm² = mJ·cm⁻²·s⁻¹"
    )
    lamp_height_m: _Number | None = Field(
        None,
        ge=0,
        le=10,
        description="height of the lamp's centre above the floor; None: level with the surfaces",
    )
    near_field_distance_m: _Number = Field(
        0.3, gt=0, le=2, description="closer than this the irradiance is held constant"
    )
    name: str | None = Field(None, min_length=1, max_length=200)


def irradiance_at(lamp: LampModel, distance_m: float, incidence_deg: float = 0.0) -> float:
    """Irradiance (mW/cm²) at ``distance_m`` from the lamp on a surface tilted ``incidence_deg``.

    ``incidence_deg`` is the angle between the surface normal and the direction to the
    lamp; 0 means the surface faces the lamp, 90 or more means it receives nothing.
    """
    if not math.isfinite(distance_m) or distance_m <= 0:
        raise ValueError(f"distance_m must be a finite number > 0, got {distance_m!r}")
    if not math.isfinite(incidence_deg) or not 0 <= incidence_deg <= 180:
        raise ValueError(f"incidence_deg must be between 0 and 180, got {incidence_deg!r}")
    if incidence_deg >= 90:
        return 0.0  # cos(90°) is not exactly 0 in floating point
    cosine = math.cos(math.radians(incidence_deg))
    effective_m = max(distance_m, lamp.near_field_distance_m)
    return lamp.irradiance_at_1m_mw_cm2 / effective_m**2 * cosine


def uv_dwell_seconds(
    target_dose_mj_cm2: float,
    lamp: LampModel,
    distance_m: float,
    incidence_deg: float = 0.0,
) -> float:
    """Seconds the lamp must stay on to deliver ``target_dose_mj_cm2`` at ``distance_m``."""
    if not math.isfinite(target_dose_mj_cm2) or target_dose_mj_cm2 <= 0:
        raise ValueError(f"target_dose_mj_cm2 must be > 0, got {target_dose_mj_cm2!r}")
    irradiance = irradiance_at(lamp, distance_m, incidence_deg)
    if irradiance == 0:
        raise ValueError(
            f"incidence_deg {incidence_deg!r}: the surface faces away from the lamp, "
            "no dwell time can deliver a dose"
        )
    return target_dose_mj_cm2 / irradiance


def delivered_dose_mj_cm2(
    lamp: LampModel, distance_m: float, dwell_s: float, incidence_deg: float = 0.0
) -> float:
    """Dose (mJ/cm²) delivered at ``distance_m`` by ``dwell_s`` seconds of lamp-on time."""
    if not math.isfinite(dwell_s) or dwell_s < 0:
        raise ValueError(f"dwell_s must be >= 0, got {dwell_s!r}")
    return irradiance_at(lamp, distance_m, incidence_deg) * dwell_s


@dataclass(frozen=True)
class DwellPoint:
    """A place the robot stops with its lamp on, and for how long."""

    x: float
    y: float
    dwell_s: float


@dataclass(frozen=True)
class DoseSample:
    """Predicted dose at one sample point of a room."""

    x: float
    y: float
    kind: Literal["wall", "area"]
    dose_mj_cm2: float


@dataclass(frozen=True, eq=False)
class RoomDosePlan:
    """Dwell points for one room and the dose they are predicted to give everywhere in it.

    ``dose_rate[m, n]`` is the dose (mJ/cm²) sample ``m`` receives per second of dwell at
    dwell point ``n``; it lets a report recompute the room's dose from the dwell times a
    robot actually achieved (:meth:`dose_for_dwell`).
    """

    polygon: tuple[tuple[float, float], ...]
    lamp: LampModel
    target_dose_mj_cm2: float
    dwell_points: tuple[DwellPoint, ...]
    sample_xy: FloatArray = field(repr=False)
    sample_is_wall: NDArray[np.bool_] = field(repr=False)
    dose_rate: FloatArray = field(repr=False)

    @property
    def dwell_seconds(self) -> FloatArray:
        """Planned dwell time of each dwell point, in order."""
        return np.array([p.dwell_s for p in self.dwell_points], dtype=np.float64)

    @property
    def total_dwell_s(self) -> float:
        """Sum of all dwell times."""
        return float(self.dwell_seconds.sum())

    @property
    def predicted_dose(self) -> FloatArray:
        """Predicted dose at every sample point for the planned dwell times."""
        return self.dose_for_dwell(self.dwell_seconds)

    @property
    def min_dose_mj_cm2(self) -> float:
        """The room's minimum predicted dose: the figure that must reach the target."""
        return float(self.predicted_dose.min())

    @property
    def min_dose_at(self) -> tuple[float, float]:
        """Where in the room the minimum dose falls."""
        x, y = self.sample_xy[int(np.argmin(self.predicted_dose))]
        return float(x), float(y)

    @property
    def unreachable_sample_count(self) -> int:
        """Sample points that no dwell point can see; they stay at zero dose."""
        return int(np.count_nonzero(self.dose_rate.max(axis=1) <= 0))

    @property
    def meets_target(self) -> bool:
        """Whether every sample point reaches the target dose."""
        return self.min_dose_mj_cm2 >= self.target_dose_mj_cm2 * (1 - 1e-9)

    @property
    def samples(self) -> list[DoseSample]:
        """Per-sample predictions, for reports and plots."""
        doses = self.predicted_dose
        return [
            DoseSample(float(x), float(y), "wall" if wall else "area", float(dose))
            for (x, y), wall, dose in zip(self.sample_xy, self.sample_is_wall, doses, strict=True)
        ]

    def dose_for_dwell(self, dwell_s: Sequence[float] | FloatArray) -> FloatArray:
        """Predicted dose at every sample point for other dwell times (e.g. those achieved)."""
        dwell = np.asarray(dwell_s, dtype=np.float64)
        if dwell.shape != (len(self.dwell_points),):
            raise ValueError(
                f"dwell_s: expected {len(self.dwell_points)} values, got shape {dwell.shape}"
            )
        if not np.all(np.isfinite(dwell)) or np.any(dwell < 0):
            raise ValueError("dwell_s: every value must be finite and >= 0")
        result: FloatArray = self.dose_rate @ dwell
        return result

    def with_total_dwell(self, total_dwell_s: float) -> RoomDosePlan:
        """The same plan with every dwell time scaled to a fixed total.

        The allocation minimises total time for a minimum dose, and that linear programme
        is homogeneous, so the scaled allocation also maximises the minimum dose for the
        given total; this is what makes plans with different dwell point counts comparable.
        """
        if not math.isfinite(total_dwell_s) or total_dwell_s < 0:
            raise ValueError(f"total_dwell_s must be >= 0, got {total_dwell_s!r}")
        current = self.total_dwell_s
        factor = total_dwell_s / current if current > 0 else 0.0
        points = tuple(DwellPoint(p.x, p.y, p.dwell_s * factor) for p in self.dwell_points)
        return RoomDosePlan(
            polygon=self.polygon,
            lamp=self.lamp,
            target_dose_mj_cm2=self.target_dose_mj_cm2,
            dwell_points=points,
            sample_xy=self.sample_xy,
            sample_is_wall=self.sample_is_wall,
            dose_rate=self.dose_rate,
        )


def plan_room(
    polygon: Sequence[tuple[float, float]],
    lamp: LampModel,
    target_dose_mj_cm2: float,
    *,
    dwell_point_count: int = DEFAULT_DWELL_POINTS_PER_ROOM,
    sample_spacing_m: float = 0.25,
    wall_clearance_m: float = 0.4,
    surface_height_m: float = 1.0,
    max_samples: int = 4000,
) -> RoomDosePlan:
    """Place dwell points in a room and choose dwell times so its minimum dose hits the target.

    ``polygon`` is the room outline in metres (any orientation, not closed). Dwell points
    are the centroids of a k-means clustering of the room's sample points (a centroidal
    Voronoi layout), snapped to floor positions at least ``wall_clearance_m`` from every
    wall. Dwell times are rounded up to :data:`DWELL_STEP_S` after adding
    :data:`DWELL_TOLERANCE_S`, so a robot that falls short of every dwell by the tolerance
    still delivers the target; a dwell point the allocation does not need gets 0 s. If some
    sample cannot be seen from any dwell point the plan still covers the rest, and
    :attr:`RoomDosePlan.meets_target` is false.
    """
    if not math.isfinite(target_dose_mj_cm2) or target_dose_mj_cm2 <= 0:
        raise ValueError(f"target_dose_mj_cm2 must be > 0, got {target_dose_mj_cm2!r}")
    if isinstance(dwell_point_count, bool) or not 1 <= dwell_point_count <= 200:
        raise ValueError(f"dwell_point_count must be 1..200, got {dwell_point_count!r}")
    for name, value in (
        ("sample_spacing_m", sample_spacing_m),
        ("wall_clearance_m", wall_clearance_m),
    ):
        if not math.isfinite(value) or value <= 0:
            raise ValueError(f"{name} must be > 0, got {value!r}")
    vertices = _validated_polygon(polygon)
    spacing = max(sample_spacing_m, math.sqrt(_polygon_area(vertices) / max_samples))
    area_xy = _area_samples(vertices, spacing)
    wall_xy, wall_normals = _wall_samples(vertices, spacing)
    sample_xy = np.vstack([area_xy, wall_xy])
    is_wall = np.concatenate([np.zeros(len(area_xy), bool), np.ones(len(wall_xy), bool)])

    candidates = area_xy[_distance_to_boundary(area_xy, vertices) >= wall_clearance_m]
    if len(candidates) < dwell_point_count:
        raise ValueError(
            f"dwell_point_count {dwell_point_count}: the room has only {len(candidates)} "
            f"floor positions {wall_clearance_m} m clear of its walls "
            f"(wall_clearance_m, sample_spacing_m {spacing:.2f})"
        )
    sources = _centroidal_positions(sample_xy, candidates, dwell_point_count)
    vertical_m = 0.0 if lamp.lamp_height_m is None else lamp.lamp_height_m - surface_height_m
    sight_targets = sample_xy.copy()
    sight_targets[is_wall] += wall_normals * _LOS_NUDGE_M
    rate = _dose_rate_matrix(lamp, sources, sample_xy, is_wall, wall_normals, vertical_m)
    if not _is_convex(vertices):
        rate *= _line_of_sight(sources, sight_targets, vertices)
    dwell = _with_timing_margin(_minimum_dwell_times(rate, target_dose_mj_cm2))
    return RoomDosePlan(
        polygon=tuple((float(x), float(y)) for x, y in vertices),
        lamp=lamp,
        target_dose_mj_cm2=target_dose_mj_cm2,
        dwell_points=tuple(
            DwellPoint(float(x), float(y), float(t))
            for (x, y), t in zip(sources, dwell, strict=True)
        ),
        sample_xy=sample_xy,
        sample_is_wall=is_wall,
        dose_rate=rate,
    )


def _validated_polygon(polygon: Sequence[tuple[float, float]]) -> FloatArray:
    """The polygon as a counter-clockwise (V, 2) array, or a ValueError naming the problem."""
    try:
        vertices = np.asarray(polygon, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"polygon: expected a list of (x, y) pairs in metres ({exc})") from exc
    if vertices.ndim != 2 or vertices.shape[1] != 2:
        raise ValueError(f"polygon: expected a list of (x, y) pairs, got shape {vertices.shape}")
    if len(vertices) > 1 and np.array_equal(vertices[0], vertices[-1]):
        vertices = vertices[:-1]
    if len(vertices) < 3:
        raise ValueError(f"polygon: needs at least 3 vertices, got {len(vertices)}")
    if not np.all(np.isfinite(vertices)):
        raise ValueError("polygon: every coordinate must be a finite number")
    if abs(_signed_area(vertices)) < 1e-6:
        raise ValueError("polygon: encloses no area")
    _check_simple(vertices)
    return vertices if _signed_area(vertices) > 0 else vertices[::-1].copy()


def _signed_area(vertices: FloatArray) -> float:
    x, y = vertices[:, 0], vertices[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def _polygon_area(vertices: FloatArray) -> float:
    return abs(_signed_area(vertices))


def _edges(vertices: FloatArray) -> tuple[FloatArray, FloatArray]:
    return vertices, np.roll(vertices, -1, axis=0)


def _cross(a: FloatArray, b: FloatArray) -> FloatArray:
    result: FloatArray = a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]
    return result


def _check_simple(vertices: FloatArray) -> None:
    """Reject self-intersecting outlines: the inside of such a 'room' is not defined."""
    starts, ends = _edges(vertices)
    count = len(vertices)
    for i in range(count):
        for j in range(i + 2, count):
            if i == 0 and j == count - 1:
                continue  # these two edges share vertex 0
            if _segments_cross(starts[i], ends[i], starts[j], ends[j]):
                raise ValueError(f"polygon: edges {i} and {j} cross; the outline must be simple")


def _segments_cross(a: FloatArray, b: FloatArray, c: FloatArray, d: FloatArray) -> bool:
    d1 = float(_cross(b - a, c - a))
    d2 = float(_cross(b - a, d - a))
    d3 = float(_cross(d - c, a - c))
    d4 = float(_cross(d - c, b - c))
    return d1 * d2 <= 0 and d3 * d4 <= 0 and not (d1 == d2 == 0)


def _is_convex(vertices: FloatArray) -> bool:
    starts, ends = _edges(vertices)
    turns = _cross(ends - starts, np.roll(ends - starts, -1, axis=0))
    return bool(np.all(turns >= -1e-12))


def _inside(points: FloatArray, vertices: FloatArray) -> NDArray[np.bool_]:
    """Even-odd ray casting, vectorised over points."""
    inside = np.zeros(len(points), dtype=bool)
    px, py = points[:, 0], points[:, 1]
    for (x1, y1), (x2, y2) in zip(vertices, np.roll(vertices, -1, axis=0), strict=True):
        straddles = (y1 > py) != (y2 > py)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_cross = x1 + (py - y1) * (x2 - x1) / (y2 - y1)
        inside ^= straddles & (px < x_cross)
    return inside


def _distance_to_boundary(points: FloatArray, vertices: FloatArray) -> FloatArray:
    best = np.full(len(points), np.inf)
    for a, b in zip(vertices, np.roll(vertices, -1, axis=0), strict=True):
        ab = b - a
        t = np.clip(((points - a) @ ab) / float(ab @ ab), 0.0, 1.0)
        nearest = a + t[:, None] * ab
        best = np.minimum(best, np.linalg.norm(points - nearest, axis=1))
    return best


def _area_samples(vertices: FloatArray, spacing: float) -> FloatArray:
    """Grid points (cell centres) inside the room."""
    low, high = vertices.min(axis=0), vertices.max(axis=0)
    xs = np.arange(low[0] + spacing / 2, high[0], spacing)
    ys = np.arange(low[1] + spacing / 2, high[1], spacing)
    grid = np.array(np.meshgrid(xs, ys)).reshape(2, -1).T
    inside: FloatArray = grid[_inside(grid, vertices)] if len(grid) else grid.reshape(0, 2)
    if len(inside) == 0:
        # A room narrower than one grid cell still gets floor samples: refine the grid.
        if spacing < 1e-3:
            raise ValueError("polygon: too narrow to place any sample point")
        return _area_samples(vertices, spacing / 2)
    return inside


def _wall_samples(vertices: FloatArray, spacing: float) -> tuple[FloatArray, FloatArray]:
    """Points along every wall at ``spacing`` and the wall's inward unit normal at each."""
    points: list[FloatArray] = []
    normals: list[FloatArray] = []
    for a, b in zip(vertices, np.roll(vertices, -1, axis=0), strict=True):
        length = float(np.linalg.norm(b - a))
        count = max(1, math.ceil(length / spacing))
        t = (np.arange(count) + 0.5) / count
        points.append(a + t[:, None] * (b - a))
        # Counter-clockwise outline: the interior lies to the left of each edge.
        inward = np.array([-(b - a)[1], (b - a)[0]]) / length
        normals.append(np.repeat(inward[None, :], count, axis=0))
    return np.vstack(points), np.vstack(normals)


def _centroidal_positions(samples: FloatArray, candidates: FloatArray, count: int) -> FloatArray:
    """k-means centres of the room's samples, snapped to distinct reachable floor positions."""
    centres = _farthest_point_seeds(samples, count)
    for _ in range(50):
        owner = np.argmin(_squared_distances(samples, centres), axis=1)
        moved = np.array(
            [
                samples[owner == k].mean(axis=0) if np.any(owner == k) else centres[k]
                for k in range(count)
            ]
        )
        if np.allclose(moved, centres, atol=1e-6):
            break
        centres = moved
    snapped: list[int] = []
    distances = _squared_distances(centres, candidates)
    for k in range(count):
        for index in np.argsort(distances[k]):
            if int(index) not in snapped:
                snapped.append(int(index))
                break
    return candidates[snapped]


def _farthest_point_seeds(samples: FloatArray, count: int) -> FloatArray:
    """Deterministic k-means seeds: start at the sample nearest the mean, then spread out."""
    chosen = [int(np.argmin(np.linalg.norm(samples - samples.mean(axis=0), axis=1)))]
    nearest = np.linalg.norm(samples - samples[chosen[0]], axis=1)
    while len(chosen) < count:
        chosen.append(int(np.argmax(nearest)))
        nearest = np.minimum(nearest, np.linalg.norm(samples - samples[chosen[-1]], axis=1))
    return samples[chosen].copy()


def _squared_distances(a: FloatArray, b: FloatArray) -> FloatArray:
    diff = a[:, None, :] - b[None, :, :]
    result: FloatArray = np.einsum("ijk,ijk->ij", diff, diff)
    return result


def _dose_rate_matrix(
    lamp: LampModel,
    sources: FloatArray,
    samples: FloatArray,
    is_wall: NDArray[np.bool_],
    wall_normals: FloatArray,
    vertical_m: float,
) -> FloatArray:
    """mJ/cm² per second of dwell, sample × source, before shadowing."""
    towards_lamp = sources[None, :, :] - samples[:, None, :]
    distance = np.sqrt(np.einsum("ijk,ijk->ij", towards_lamp, towards_lamp) + vertical_m**2)
    effective = np.maximum(distance, lamp.near_field_distance_m)
    rate: FloatArray = lamp.irradiance_at_1m_mw_cm2 / effective**2
    # Walls are vertical: only the horizontal part of the direction to the lamp counts.
    cosine = np.einsum("ijk,ik->ij", towards_lamp[is_wall], wall_normals) / np.maximum(
        distance[is_wall], 1e-9
    )
    rate[is_wall] *= np.clip(cosine, 0.0, 1.0)
    return rate


def _line_of_sight(sources: FloatArray, targets: FloatArray, vertices: FloatArray) -> FloatArray:
    """1 where the segment source→target crosses no wall, else 0 (sample × source)."""
    visible = np.ones((len(targets), len(sources)), dtype=bool)
    src = sources[None, :, :]
    tgt = targets[:, None, :]
    for a, b in zip(vertices, np.roll(vertices, -1, axis=0), strict=True):
        side_src = _cross(b - a, src - a)
        side_tgt = _cross(b - a, tgt - a)
        side_a = _cross(tgt - src, a - src)
        side_b = _cross(tgt - src, b - src)
        visible &= ~((side_src * side_tgt < 0) & (side_a * side_b < 0))
    return visible.astype(np.float64)


def _minimum_dwell_times(rate: FloatArray, target: float) -> FloatArray:
    """Least total dwell such that every reachable sample gets at least ``target``.

    Samples no dwell point reaches are left out (they cannot be helped by any dwell time);
    the plan reports them through its minimum dose.
    """
    reachable = rate.max(axis=1) > 0
    count = rate.shape[1]
    if not np.any(reachable):
        return np.zeros(count)
    result = linprog(
        c=np.ones(count),
        A_ub=-rate[reachable],
        b_ub=-np.full(int(reachable.sum()), target),
        bounds=[(0, None)] * count,
        method="highs",
    )
    if result.status != 0:
        raise RuntimeError(f"dwell time allocation failed: {result.message}")
    dwell = np.maximum(np.asarray(result.x, dtype=np.float64), 0.0)
    # The solver meets constraints to within its tolerance; scale so the minimum is exact.
    shortfall = float((rate[reachable] @ dwell).min())
    return dwell * (target / shortfall) if 0 < shortfall < target else dwell


def _with_timing_margin(dwell: FloatArray) -> FloatArray:
    """Round needed dwell times up, with room for a robot's timing tolerance."""
    needed = dwell > 1e-6
    steps = np.ceil((dwell + DWELL_TOLERANCE_S) / DWELL_STEP_S - 1e-9)
    result: FloatArray = np.where(needed, np.round(steps * DWELL_STEP_S, 6), 0.0)
    return result

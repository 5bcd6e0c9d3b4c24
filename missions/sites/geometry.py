"""Small planar geometry helpers used by the importers, routing and export."""

from __future__ import annotations

import math
from collections.abc import Sequence

Point = tuple[float, float]


def _orient(a: Point, b: Point, c: Point) -> float:
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])


def _on_segment(a: Point, b: Point, p: Point, eps: float) -> bool:
    return (
        min(a[0], b[0]) - eps <= p[0] <= max(a[0], b[0]) + eps
        and min(a[1], b[1]) - eps <= p[1] <= max(a[1], b[1]) + eps
    )


def segments_intersect(p1: Point, p2: Point, q1: Point, q2: Point, eps: float = 1e-12) -> bool:
    """True if closed segments p1-p2 and q1-q2 share at least one point."""
    d1 = _orient(q1, q2, p1)
    d2 = _orient(q1, q2, p2)
    d3 = _orient(p1, p2, q1)
    d4 = _orient(p1, p2, q2)
    if ((d1 > eps and d2 < -eps) or (d1 < -eps and d2 > eps)) and (
        (d3 > eps and d4 < -eps) or (d3 < -eps and d4 > eps)
    ):
        return True
    return (
        (abs(d1) <= eps and _on_segment(q1, q2, p1, eps))
        or (abs(d2) <= eps and _on_segment(q1, q2, p2, eps))
        or (abs(d3) <= eps and _on_segment(p1, p2, q1, eps))
        or (abs(d4) <= eps and _on_segment(p1, p2, q2, eps))
    )


def point_in_ring(p: Point, ring: Sequence[Point]) -> bool:
    """Even-odd rule; ``ring`` may or may not repeat its first vertex."""
    inside = False
    n = len(ring)
    x, y = p
    for i in range(n):
        x1, y1 = ring[i]
        x2, y2 = ring[(i + 1) % n]
        if (y1 > y) != (y2 > y):
            x_cross = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
            if x < x_cross:
                inside = not inside
    return inside


def point_in_polygon(
    p: Point, outer: Sequence[Point], holes: Sequence[Sequence[Point]] = ()
) -> bool:
    """Inside the outer ring and outside every hole."""
    return point_in_ring(p, outer) and not any(point_in_ring(p, h) for h in holes)


def segment_enters_polygon(
    a: Point, b: Point, outer: Sequence[Point], holes: Sequence[Sequence[Point]] = ()
) -> bool:
    """True if any part of segment a-b lies in the polygon (boundary contact counts)."""
    if point_in_polygon(a, outer, holes) or point_in_polygon(b, outer, holes):
        return True
    for ring in (outer, *holes):
        n = len(ring)
        for i in range(n):
            if segments_intersect(a, b, ring[i], ring[(i + 1) % n]):
                return True
    return False


def signed_area(ring: Sequence[Point]) -> float:
    """Shoelace area; positive for counter-clockwise rings.

    Coordinates are taken relative to the first vertex: with lon/lat near 114, 22 the raw
    products cancel catastrophically for centimetre-sized rings.
    """
    if not ring:
        return 0.0
    x0, y0 = ring[0]
    total = 0.0
    n = len(ring)
    for i in range(n):
        x1, y1 = ring[i][0] - x0, ring[i][1] - y0
        x2, y2 = ring[(i + 1) % n][0] - x0, ring[(i + 1) % n][1] - y0
        total += x1 * y2 - x2 * y1
    return total / 2.0


def convex_hull(points: Sequence[Point]) -> list[Point]:
    """Counter-clockwise convex hull (Andrew's monotone chain), without repeated first point."""
    pts = sorted(set(points))
    if len(pts) <= 2:
        return pts
    lower: list[Point] = []
    for p in pts:
        while len(lower) >= 2 and _orient(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    upper: list[Point] = []
    for p in reversed(pts):
        while len(upper) >= 2 and _orient(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return lower[:-1] + upper[:-1]


def fit_similarity(src: Sequence[Point], dst: Sequence[Point]) -> tuple[float, float, Point]:
    """Least-squares similarity transform dst ~ t + s R(theta) src.

    Returns (scale, theta, translation). Needs at least two distinct source points.
    """
    n = len(src)
    if n < 2 or n != len(dst):
        raise ValueError("need at least two point pairs")
    sx = sum(p[0] for p in src) / n
    sy = sum(p[1] for p in src) / n
    dx = sum(p[0] for p in dst) / n
    dy = sum(p[1] for p in dst) / n
    a = b = norm = 0.0
    for (ux, uy), (vx, vy) in zip(src, dst, strict=True):
        ux, uy, vx, vy = ux - sx, uy - sy, vx - dx, vy - dy
        a += ux * vx + uy * vy
        b += ux * vy - uy * vx
        norm += ux * ux + uy * uy
    if norm == 0.0:
        raise ValueError("source points coincide")
    theta = math.atan2(b, a)
    scale = math.hypot(a, b) / norm
    c, s = math.cos(theta), math.sin(theta)
    tx = dx - scale * (c * sx - s * sy)
    ty = dy - scale * (s * sx + c * sy)
    return scale, theta, (tx, ty)

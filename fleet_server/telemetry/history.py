"""Reading telemetry history back, thinned to a number of points a chart can draw."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet_server.db.models import TelemetrySample


@dataclass(frozen=True, slots=True)
class HistoryPoint:
    """A robot's pose and battery at one moment."""

    at: datetime
    x: float
    y: float
    theta: float
    map_id: str
    battery: float | None


@dataclass(frozen=True)
class History:
    """The points of a time range, and how they were thinned."""

    points: list[HistoryPoint]
    stored: int
    """Samples stored in the range."""
    bucket_s: float | None
    """Width of the time buckets that each kept one point; None when nothing was thinned."""


def telemetry_history(
    session: Session, robot_id: int, since: datetime, until: datetime, max_points: int
) -> History:
    """Samples with since ≤ at < until, oldest first; past `max_points`, the first sample of
    each of `max_points` equal time buckets."""
    if max_points < 1:
        raise ValueError(f"max_points must be at least 1, got {max_points}")
    rows = session.execute(
        select(
            TelemetrySample.at,
            TelemetrySample.x,
            TelemetrySample.y,
            TelemetrySample.theta,
            TelemetrySample.map_id,
            TelemetrySample.battery,
        )
        .where(
            TelemetrySample.robot_id == robot_id,
            TelemetrySample.at >= since,
            TelemetrySample.at < until,
        )
        .order_by(TelemetrySample.at, TelemetrySample.id)
    ).all()
    points = [HistoryPoint(*row) for row in rows]
    if len(points) <= max_points:
        return History(points, len(points), None)
    bucket_s = (until - since).total_seconds() / max_points
    kept: list[HistoryPoint] = []
    last_bucket = -1
    for point in points:
        bucket = int((point.at - since).total_seconds() // bucket_s)
        if bucket != last_bucket:
            kept.append(point)
            last_bucket = bucket
    return History(kept, len(points), bucket_s)

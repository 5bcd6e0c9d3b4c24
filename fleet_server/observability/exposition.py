"""Prometheus text exposition format 0.0.4, written by hand: families, samples, histograms.

Metrics here are collected when scraped, from counters the components keep anyway, so
the hot paths pay nothing for them. Only the dispatch-latency histogram is observed as
events happen; it takes a lock because observations come from worker threads.
"""

from __future__ import annotations

import bisect
import math
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MetricKind = Literal["counter", "gauge", "histogram"]

_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def format_value(value: float) -> str:
    """A sample value as the format spells it (`+Inf`, `-Inf`, `NaN`, integers bare)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _escape_label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


@dataclass(frozen=True, slots=True)
class Sample:
    """One line of a family: the full sample name, its labels and value."""

    name: str
    labels: tuple[tuple[str, str], ...]
    value: float


@dataclass
class MetricFamily:
    """A metric with its HELP and TYPE and the samples collected for it."""

    name: str
    kind: MetricKind
    help: str
    samples: list[Sample] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not _METRIC_NAME.match(self.name):
            raise ValueError(f"metric name {self.name!r} is not a valid Prometheus name")
        if self.kind == "counter" and not self.name.endswith("_total"):
            raise ValueError(f"counter {self.name!r} must end in _total")

    def add(self, value: float, suffix: str = "", **labels: str) -> MetricFamily:
        """Add a sample (name + `suffix`, e.g. `_bucket`); returns the family for chaining."""
        for label in labels:
            if not _LABEL_NAME.match(label) or label.startswith("__"):
                raise ValueError(f"{self.name}: label name {label!r} is not valid")
        self.samples.append(Sample(self.name + suffix, tuple(labels.items()), float(value)))
        return self


def render(families: Iterable[MetricFamily]) -> str:
    """The families in the text exposition format, each with its HELP and TYPE lines."""
    lines: list[str] = []
    for family in families:
        lines.append(f"# HELP {family.name} {_escape_help(family.help)}")
        lines.append(f"# TYPE {family.name} {family.kind}")
        for sample in family.samples:
            if sample.labels:
                labels = ",".join(f'{k}="{_escape_label_value(v)}"' for k, v in sample.labels)
                lines.append(f"{sample.name}{{{labels}}} {format_value(sample.value)}")
            else:
                lines.append(f"{sample.name} {format_value(sample.value)}")
    return "\n".join(lines) + "\n"


class Histogram:
    """Observations counted into fixed buckets (upper bounds, seconds or any unit)."""

    def __init__(self, name: str, help_text: str, buckets: Sequence[float]) -> None:
        bounds = sorted(float(b) for b in buckets)
        if not bounds or any(math.isnan(b) for b in bounds) or len(set(bounds)) != len(bounds):
            raise ValueError(f"{name}: buckets must be distinct numbers, got {list(buckets)}")
        if not math.isinf(bounds[-1]):
            bounds.append(math.inf)
        self.name = name
        self.help = help_text
        self.bounds = tuple(bounds)
        self._counts = [0] * len(bounds)
        self._sum = 0.0
        self._lock = threading.Lock()

    def observe(self, value: float) -> None:
        """Count one observation (thread-safe)."""
        index = bisect.bisect_left(self.bounds, value)
        with self._lock:
            self._counts[index] += 1
            self._sum += value

    @property
    def count(self) -> int:
        """Observations so far."""
        with self._lock:
            return sum(self._counts)

    def family(self) -> MetricFamily:
        """The histogram's samples: cumulative `_bucket`s, `_sum` and `_count`."""
        with self._lock:
            counts = list(self._counts)
            total = self._sum
        family = MetricFamily(self.name, "histogram", self.help)
        cumulative = 0
        for bound, count in zip(self.bounds, counts, strict=True):
            cumulative += count
            family.add(cumulative, "_bucket", le=format_value(bound))
        family.add(total, "_sum")
        family.add(cumulative, "_count")
        return family

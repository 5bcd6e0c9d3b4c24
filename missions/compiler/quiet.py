"""Quiet hours: no speech and no spraying in a zone while its quiet hours last.

The server knows each zone's quiet hours in the site's local time and hands the compiler
the windows that matter to one order, as seconds after the order starts
(:class:`QuietHours`). The compiler estimates when the robot reaches each node (edge
times plus the actions before it, the same estimate as the mission's duration) and drops
``speak`` and ``sprayDisinfect`` actions that would run inside a zone during one of its
windows. The robot may run late (lifts, doors, people in the way), so an action is
treated as happening anywhere from its estimate to ``1 + delay_allowance`` times it.

A dropped spray keeps its planned point in the plan under an action id no action has, so
the disinfection report shows that point as not sprayed rather than leaving it out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from missions.compiler.actions import ActionSpec
from missions.compiler.compiled import CompiledMission
from missions.compiler.path import PathEdge, PathNode
from missions.compiler.site_view import SiteView, ZoneRef

QUIET_ACTIONS = frozenset({"speak", "sprayDisinfect"})
"""What quiet hours silence: speech, and spraying (noise, and people nearby)."""
DEFAULT_DELAY_ALLOWANCE = 0.25


@dataclass(frozen=True)
class QuietHours:
    """Per zone name, the quiet windows as (start, end) seconds after the order starts."""

    windows: Mapping[str, tuple[tuple[float, float], ...]] = field(default_factory=dict)
    delay_allowance: float = DEFAULT_DELAY_ALLOWANCE
    """How much later than estimated an action may run, as a share of its estimate."""

    def __post_init__(self) -> None:
        if self.delay_allowance < 0:
            raise ValueError("delay_allowance: must not be negative")
        for zone, spans in self.windows.items():
            for start, end in spans:
                if not end > start:
                    raise ValueError(f"windows[{zone!r}]: end {end} must follow start {start}")


@dataclass(frozen=True)
class Suppressed:
    """An action left out for quiet hours, and the node it would have run on."""

    node_index: int
    action: ActionSpec


def _quiet_zones(
    view: SiteView, quiet: QuietHours
) -> list[tuple[ZoneRef, tuple[tuple[float, float], ...]]]:
    return [
        (ZoneRef(level, zone), quiet.windows[zone.name])
        for level in view.site.levels
        for zone in level.zones
        if quiet.windows.get(zone.name)
    ]


def _overlaps(spans: list[tuple[float, float]], start: float, end: float) -> bool:
    return any(s <= end and start < e for s, e in spans)


def suppress_quiet_actions(
    view: SiteView, nodes: list[PathNode], edges: list[PathEdge], quiet: QuietHours
) -> list[Suppressed]:
    """Remove from ``nodes`` the speech and spraying that would fall in a zone's quiet
    hours; returns what was removed, in path order."""
    zones = _quiet_zones(view, quiet)
    if not zones:
        return []
    removed: list[Suppressed] = []
    elapsed = 0.0
    for index, node in enumerate(nodes):
        if index > 0:
            elapsed += edges[index - 1].time_s
        spans = [
            span
            for ref, windows in zones
            if ref.level.name == node.level and ref.contains(node.x, node.y)
            for span in windows
        ]
        kept: list[ActionSpec] = []
        for action in node.actions:
            latest = elapsed * (1.0 + quiet.delay_allowance) + action.duration_s
            if action.action_type in QUIET_ACTIONS and spans and _overlaps(spans, elapsed, latest):
                removed.append(Suppressed(index, action))
                continue  # a dropped action takes no time: later ones are estimated earlier
            kept.append(action)
            elapsed += action.duration_s
        node.actions[:] = kept
    return removed


def spraying_silenced(compiled: CompiledMission) -> bool:
    """True when quiet hours left out every spray of an order: it should wait for their end."""
    if "sprayDisinfect" not in compiled.quiet_suppressed:
        return False
    return not any(a.action_type == "sprayDisinfect" for n in compiled.nodes for a in n.actions)

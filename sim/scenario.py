"""Scenario files (`sim/scenarios/*.yaml`): a site, robots, missions over a day, people, faults.

A scenario names its map, the robots (kind, count, where they start), the missions to
submit (bodies in the format of `missions.types`, each at a time of day or on an RFC 5545
RRULE), the people flows (head count per area and hour), the guided visitors' odds, the
faults (scheduled and random) and the KPIs a run must meet. `load_scenario` validates all
of it against the map, and every error names the file and the field, e.g.
``hospital_day.yaml: missions[2].body.checkpoints.1.waypoint: no waypoint 'X' on map clinic``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from dateutil.rrule import rrulestr
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from missions.sites import Site, SiteImportError, SiteKind, Waypoint
from missions.types import (
    DisinfectionMission,
    GuidanceMission,
    MissionSpec,
    MissionValidationError,
    PatrolMission,
    parse_mission,
)
from sim.faults import FaultFields, FaultSpec, RandomFaults, fault_plan
from sim.models import RobotModel, load_models, merge_models
from sim.people import HOURS, PeopleFlow, VisitorOdds
from sim.sitemaps import MAPS_DIR, load_site

SCENARIOS_DIR = Path(__file__).with_name("scenarios")
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")
_RANGE = re.compile(r"^(\d{1,2})-(\d{1,2})$")

_STRICT = ConfigDict(extra="forbid", frozen=True)


class ScenarioError(ValueError):
    """A scenario that cannot be used; the message names the file and the field."""


def _clock_time(value: str) -> time:
    match = _CLOCK.match(value)
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError(f"must be a time of day HH:MM, got {value!r}")
    return time(int(match[1]), int(match[2]))


class SiteRef(BaseModel):
    """Which map the scenario runs on and how the server knows the site."""

    model_config = _STRICT

    map: str = Field(min_length=1)
    """A bundled map (`clinic`) or a path relative to the scenario file."""
    name: str = Field(min_length=1, max_length=200)
    kind: SiteKind


class RobotGroup(BaseModel):
    """`count` robots of one kind, serials `{name}-01`, `{name}-02`, ..."""

    model_config = _STRICT

    kind: str = Field(min_length=1)
    name: str = Field(pattern=r"^[A-Za-z0-9_.:-]+$", max_length=60)
    count: int = Field(ge=1, le=1000)
    start: Literal["chargers"] | list[str] = "chargers"
    """Waypoints to start on, in order; `chargers`: chargers, then parking spots, then others."""
    battery_pct: float = Field(default=100.0, ge=0, le=100)

    def serials(self, count: int | None = None) -> list[str]:
        """Serial numbers of this group's robots."""
        return [f"{self.name}-{k + 1:02d}" for k in range(self.count if count is None else count)]


class FlowEntry(BaseModel):
    """People walking an area of one level, with a head count per hour."""

    model_config = _STRICT

    name: str = Field(min_length=1)
    level: str
    waypoints: list[str] = Field(default_factory=list)
    hourly: dict[str, int] | list[int]
    """24 counts, or ranges of hours such as {"7-12": 20, "22-6": 2} (others 0)."""
    speed_m_s: float = Field(default=1.2, gt=0, le=3)

    @field_validator("hourly")
    @classmethod
    def _24_hours(cls, value: dict[str, int] | list[int]) -> dict[str, int] | list[int]:
        _hour_table(value)
        return value

    def flow(self) -> PeopleFlow:
        """As the people module wants it."""
        return PeopleFlow(
            name=self.name,
            level=self.level,
            hourly=_hour_table(self.hourly),
            waypoints=tuple(self.waypoints),
            speed_m_s=self.speed_m_s,
        )


def _hour_table(value: Mapping[str, int] | Sequence[int]) -> tuple[int, ...]:
    if isinstance(value, Sequence):
        if len(value) != HOURS or any(not isinstance(v, int) or v < 0 for v in value):
            raise ValueError("a list of hourly counts needs 24 whole numbers >= 0")
        return tuple(value)
    table: list[int | None] = [None] * HOURS
    for key, count in value.items():
        match = _RANGE.match(key)
        if not match or int(match[1]) > 23 or not 0 < int(match[2]) <= 24 or count < 0:
            raise ValueError(
                f"{key!r}: use 'H-H' hour ranges (e.g. '7-12', '22-6') and counts >= 0"
            )
        start, end = int(match[1]), int(match[2]) % 24
        hours = range(start, end if end > start else end + 24)
        for h in hours:
            if table[h % 24] is not None:
                raise ValueError(f"{key!r}: hour {h % 24} is in two ranges")
            table[h % 24] = count
    return tuple(c or 0 for c in table)


class PeopleSection(BaseModel):
    """People flows and guided visitors' odds."""

    model_config = _STRICT

    flows: list[FlowEntry] = Field(default_factory=list)
    visitors: dict[str, float] = Field(default_factory=dict)

    @field_validator("visitors")
    @classmethod
    def _odds(cls, value: dict[str, float]) -> dict[str, float]:
        if value:
            VisitorOdds(**value)
        return value

    def odds(self) -> VisitorOdds:
        """The visitors' odds (defaults where not given)."""
        return VisitorOdds(**self.visitors) if self.visitors else VisitorOdds()


class MissionEntry(BaseModel):
    """A mission body submitted at a time of day, or on every occurrence of an RRULE."""

    model_config = _STRICT

    id: str = Field(min_length=1, max_length=100)
    at: str | None = None
    rrule: str | None = None
    body: dict[str, Any]

    @field_validator("at")
    @classmethod
    def _at_is_a_time(cls, value: str | None) -> str | None:
        if value is not None:
            _clock_time(value)
        return value

    @model_validator(mode="after")
    def _exactly_one_time(self) -> MissionEntry:
        if (self.at is None) == (self.rrule is None):
            raise ValueError("give exactly one of at (HH:MM) or rrule (RFC 5545)")
        return self


class FaultEntry(FaultFields):
    """A scheduled fault: at a time of day (`at`) or seconds into the run (`at_s`)."""

    at: str | None = None
    at_s: float | None = Field(default=None, ge=0)
    duration_s: float | None = Field(default=None, gt=0)
    robot: str | None = None

    @field_validator("at")
    @classmethod
    def _at_is_a_time(cls, value: str | None) -> str | None:
        if value is not None:
            _clock_time(value)
        return value


class Expectations(BaseModel):
    """KPIs a run of the scenario must meet (checked by the scenario runner)."""

    model_config = _STRICT

    completion_ratio_min: float | None = Field(default=None, ge=0, le=1)
    failed_max: int | None = Field(default=None, ge=0)
    reservation_conflicts_max: int | None = Field(default=None, ge=0)
    deadlocks_max: int | None = Field(default=None, ge=0)
    disinfection_coverage_min: float | None = Field(default=None, ge=0, le=1)
    alarms_min: int | None = Field(default=None, ge=0)
    utilisation_min: float | None = Field(default=None, ge=0, le=1)


class ScenarioFile(BaseModel):
    """The file as written."""

    model_config = _STRICT

    name: str = Field(pattern=r"^[a-z0-9_]+$")
    description: str = ""
    site: SiteRef
    start: AwareDatetime
    duration_s: float = Field(gt=0, le=7 * 86400)
    seed: int = 0
    models: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Overrides of `sim/models.yaml` fields per kind."""
    robots: list[RobotGroup] = Field(min_length=1)
    missions: list[MissionEntry] = Field(default_factory=list)
    people: PeopleSection = Field(default_factory=PeopleSection)
    faults: list[FaultEntry] = Field(default_factory=list)
    random_faults: list[RandomFaults] = Field(default_factory=list)
    expect: Expectations = Field(default_factory=Expectations)


@dataclass(frozen=True)
class ScheduledMission:
    """One submission of a mission body."""

    entry: str
    at_s: float
    at: datetime
    body: dict[str, Any]
    spec: MissionSpec


@dataclass(frozen=True)
class Scenario:
    """A validated scenario, resolved against its map."""

    file: ScenarioFile
    source: Path
    site: Site
    models: dict[str, RobotModel]
    missions: tuple[ScheduledMission, ...]
    scheduled_faults: tuple[FaultSpec, ...]
    faults: tuple[FaultSpec, ...]
    """Scheduled faults plus the random ones drawn with the scenario's seed."""

    def plan_faults(self, serials: Sequence[str], seed: int) -> list[FaultSpec]:
        """The fault plan for a run with these robots and seed (robots left out drop out)."""
        present = set(serials)
        scheduled = [f for f in self.scheduled_faults if f.robot is None or f.robot in present]
        random = [
            spec.model_copy(update={"robots": tuple(r for r in spec.robots if r in present)})
            for spec in self.file.random_faults
            if not spec.robots or any(r in present for r in spec.robots)
        ]
        return fault_plan(
            scheduled, random, seed=seed, horizon_s=self.file.duration_s, robots=list(serials)
        )

    @property
    def name(self) -> str:
        """The scenario's name."""
        return self.file.name

    def robot_serials(self) -> list[str]:
        """Every robot's serial number."""
        return [s for group in self.file.robots for s in group.serials()]


# --- loading ---------------------------------------------------------------------------------


def scenario_path(name: str) -> Path:
    """A bundled scenario by name (`hospital_day`) or a path to a file."""
    path = Path(name)
    if path.suffix in (".yaml", ".yml"):
        return path
    bundled = SCENARIOS_DIR / f"{name}.yaml"
    if not bundled.is_file():
        known = ", ".join(sorted(p.stem for p in SCENARIOS_DIR.glob("*.yaml")))
        raise ScenarioError(f"{name}: no such scenario (bundled: {known})")
    return bundled


def bundled_scenarios() -> list[str]:
    """Names of the scenarios in `sim/scenarios/`."""
    return sorted(p.stem for p in SCENARIOS_DIR.glob("*.yaml"))


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Read, validate and resolve a scenario; errors name the file and the field."""
    path = scenario_path(str(name_or_path))
    where = path.name
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError(f"{where}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{where}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ScenarioError(f"{where}: top level must be a mapping")
    try:
        file = ScenarioFile.model_validate(raw)
    except ValidationError as exc:
        raise ScenarioError(f"{where}: {_pydantic_fields(exc)}") from exc
    return _Resolver(file, path).resolve()


def _pydantic_fields(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"])
        parts.append(f"{loc.lstrip('.')}: {err['msg']}")
    return "; ".join(parts)


class _Resolver:
    """Checks a scenario file against its map and expands times."""

    def __init__(self, file: ScenarioFile, path: Path) -> None:
        self.file = file
        self.path = path
        self.where = path.name

    def fail(self, field: str, message: str) -> ScenarioError:
        return ScenarioError(f"{self.where}: {field}: {message}")

    def resolve(self) -> Scenario:
        site = self._site()
        self.site = site
        self.by_id = {wp.id: wp for wp in site.all_waypoints()}
        self.by_name: dict[str, list[Waypoint]] = {}
        for wp in site.all_waypoints():
            if wp.name:
                self.by_name.setdefault(wp.name, []).append(wp)
        try:
            models = merge_models(load_models(), self.file.models, f"{self.where}: models")
        except ValueError as exc:
            raise ScenarioError(str(exc)) from exc
        self._check_robots(models)
        self._check_people()
        missions = self._missions()
        scheduled = self._faults()
        serials = [s for group in self.file.robots for s in group.serials()]
        return Scenario(
            file=self.file,
            source=self.path,
            site=site,
            models=models,
            missions=tuple(missions),
            scheduled_faults=tuple(scheduled),
            faults=tuple(
                fault_plan(
                    scheduled,
                    self.file.random_faults,
                    seed=self.file.seed,
                    horizon_s=self.file.duration_s,
                    robots=serials,
                )
            ),
        )

    def _site(self) -> Site:
        ref = self.file.site
        candidate = (self.path.parent / ref.map).resolve()
        bundled = MAPS_DIR / (ref.map if ref.map.endswith(".yaml") else f"{ref.map}.building.yaml")
        path = candidate if candidate.is_file() else bundled
        if not path.is_file():
            raise self.fail("site.map", f"no map {ref.map!r} (bundled maps are in {MAPS_DIR})")
        try:
            return load_site(path, ref.name, ref.kind)
        except SiteImportError as exc:
            raise self.fail("site.map", str(exc)) from exc

    def waypoint(self, field: str, ref: str, level: str | None = None) -> Waypoint:
        """The waypoint a name or id refers to on the scenario's map."""
        wp = self.by_id.get(ref)
        if wp is None:
            named = self.by_name.get(ref, [])
            if not named:
                raise self.fail(field, f"no waypoint {ref!r} on map {self.site.name}")
            if len(named) > 1:
                ids = ", ".join(w.id for w in named)
                raise self.fail(field, f"waypoint name {ref!r} is ambiguous ({ids})")
            wp = named[0]
        if level is not None and wp.level != level:
            raise self.fail(field, f"waypoint {ref!r} is on level {wp.level}, not {level}")
        return wp

    def _check_robots(self, models: Mapping[str, RobotModel]) -> None:
        seen: set[str] = set()
        for g, group in enumerate(self.file.robots):
            if group.kind not in models:
                raise self.fail(
                    f"robots[{g}].kind", f"unknown kind {group.kind!r} ({', '.join(models)})"
                )
            if group.name in seen:
                raise self.fail(f"robots[{g}].name", f"{group.name!r} is used by another group")
            seen.add(group.name)
            if isinstance(group.start, list):
                if len(group.start) < group.count:
                    raise self.fail(
                        f"robots[{g}].start",
                        f"{len(group.start)} start waypoints for {group.count} robots",
                    )
                for k, ref in enumerate(group.start):
                    self.waypoint(f"robots[{g}].start[{k}]", ref)

    def _check_people(self) -> None:
        levels = {lvl.name for lvl in self.site.levels}
        for f, flow in enumerate(self.file.people.flows):
            if flow.level not in levels:
                raise self.fail(f"people.flows[{f}].level", f"no level {flow.level!r}")
            for k, ref in enumerate(flow.waypoints):
                self.waypoint(f"people.flows[{f}].waypoints[{k}]", ref, flow.level)

    def at_seconds(self, field: str, clock: str) -> float:
        """Seconds from the start to the next time `clock` (HH:MM) shows."""
        start = self.file.start
        when = datetime.combine(start.date(), _clock_time(clock), start.tzinfo)
        if when < start:
            when += timedelta(days=1)
        seconds = (when - start).total_seconds()
        if seconds > self.file.duration_s:
            raise self.fail(field, f"{clock} is after the end of the run")
        return seconds

    def _missions(self) -> list[ScheduledMission]:
        out: list[ScheduledMission] = []
        ids: set[str] = set()
        start, end = self.file.start, self.file.start + timedelta(seconds=self.file.duration_s)
        for m, entry in enumerate(self.file.missions):
            field = f"missions[{m}]"
            if entry.id in ids:
                raise self.fail(f"{field}.id", f"{entry.id!r} is used twice")
            ids.add(entry.id)
            try:
                spec = parse_mission(entry.body)
            except MissionValidationError as exc:
                first = exc.errors[0]
                raise self.fail(f"{field}.body.{first.path}".rstrip("."), first.message) from exc
            if spec.site != self.file.site.name:
                raise self.fail(
                    f"{field}.body.site",
                    f"{spec.site!r} is not this scenario's site {self.file.site.name!r}",
                )
            self._check_places(f"{field}.body", spec)
            if entry.at is not None:
                times = [start + timedelta(seconds=self.at_seconds(f"{field}.at", entry.at))]
            else:
                times = self._occurrences(f"{field}.rrule", entry.rrule or "", start, end)
            for when in times:
                at_s = (when - start).total_seconds()
                out.append(ScheduledMission(entry.id, at_s, when, entry.body, spec))
        return sorted(out, key=lambda s: (s.at_s, s.entry))

    def _occurrences(self, field: str, rule: str, start: datetime, end: datetime) -> list[datetime]:
        try:
            recurrence = rrulestr(rule, dtstart=start)
            times = list(recurrence.between(start, end, inc=True))
        except (ValueError, TypeError, AttributeError) as exc:
            raise self.fail(field, f"not a valid RRULE: {exc}") from exc
        if not times:
            raise self.fail(field, "never occurs during the run")
        return times

    def _check_places(self, field: str, spec: MissionSpec) -> None:
        zones = {z.name for lvl in self.site.levels for z in lvl.zones}
        if isinstance(spec, PatrolMission):
            if spec.zone is not None and spec.zone not in zones:
                raise self.fail(f"{field}.zone", f"no zone {spec.zone!r} on map {self.site.name}")
            for k, checkpoint in enumerate(spec.checkpoints or []):
                self.waypoint(f"{field}.checkpoints.{k}.waypoint", checkpoint.waypoint)
        elif isinstance(spec, DisinfectionMission):
            for k, target in enumerate(spec.targets):
                if target.waypoint is not None:
                    self.waypoint(f"{field}.targets.{k}.waypoint", target.waypoint)
                elif target.room is not None and target.room not in zones:
                    raise self.fail(f"{field}.targets.{k}.room", f"no zone {target.room!r}")
                elif target.level is not None and target.level not in {
                    lvl.name for lvl in self.site.levels
                }:
                    raise self.fail(f"{field}.targets.{k}.level", f"no level {target.level!r}")
        elif isinstance(spec, GuidanceMission):
            self.waypoint(f"{field}.from", spec.from_)
            self.waypoint(f"{field}.to", spec.to)

    def _faults(self) -> list[FaultSpec]:
        serials = [s for group in self.file.robots for s in group.serials()]
        scheduled = []
        for n, entry in enumerate(self.file.faults):
            field = f"faults[{n}]"
            if (entry.at is None) == (entry.at_s is None):
                raise self.fail(field, "give exactly one of at (HH:MM) or at_s (seconds)")
            at_s = entry.at_s if entry.at is None else self.at_seconds(f"{field}.at", entry.at)
            if entry.robot is not None and entry.robot not in serials:
                raise self.fail(
                    f"{field}.robot", f"no robot {entry.robot!r} ({', '.join(serials)})"
                )
            if entry.waypoint is not None:
                self.waypoint(f"{field}.waypoint", entry.waypoint)
            self._check_building(field, entry.door, entry.lift)
            fields = entry.model_dump(exclude={"at", "at_s"})
            try:
                scheduled.append(FaultSpec(**fields, at_s=at_s))
            except ValidationError as exc:
                raise self.fail(field, _pydantic_fields(exc)) from exc
        for n, spec in enumerate(self.file.random_faults):
            field = f"random_faults[{n}]"
            for k, robot in enumerate(spec.robots):
                if robot not in serials:
                    raise self.fail(f"{field}.robots[{k}]", f"no robot {robot!r}")
            if spec.waypoint is not None:
                self.waypoint(f"{field}.waypoint", spec.waypoint)
            self._check_building(field, spec.door, spec.lift)
        return scheduled

    def _check_building(self, field: str, door: str | None, lift: str | None) -> None:
        doors = {d.name for lvl in self.site.levels for d in lvl.doors}
        if door is not None and door not in doors:
            raise self.fail(f"{field}.door", f"no door {door!r} on map {self.site.name}")
        if lift is not None and lift not in {lf.name for lf in self.site.lifts}:
            raise self.fail(f"{field}.lift", f"no lift {lift!r} on map {self.site.name}")

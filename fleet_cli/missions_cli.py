"""`fleet mission …`: check a mission offline by compiling it into VDA 5050 orders.

``fleet mission plan MISSION.yaml --site MAP_FILE [--robot ROBOT.yaml] --json`` prints::

    {"orders": [order, update, ...], "estimated_duration_s": 812.4,
     "dwell_points": [{"node_id", "x", "y", "level", "dwell_s", "predicted_dose_mj_cm2"}]}

``orders`` are the messages the server would publish on the robot's order topic, in
order: the initial order and its updates (header ids 0, 1, ...). By default everything is
released in one order, except guidance, which is held at the meeting point and released
in an update once the person is there (``missions.compiler.CompiledMission``);
``--release-every N`` releases N more nodes per update instead.

``dwell_points`` is always present: one entry per disinfection action (UV: the dose at the
mission's distance; spray: ``predicted_dose_mj_cm2`` null and ``volume_ml``), empty for
patrol and guidance.

The robot file is a :class:`missions.compiler.RobotProfile` (or an agent configuration).
Without one, a generic robot with the mission's capability is assumed: 1 m/s, a UV lamp
of 2.67 mW/cm² at 1 m, spraying 4 mL/s. The robot starts at ``--start`` (a waypoint, or
``x,y,level``), else at the robot's ``dock``, else at the mission's first place.
Bad input exits with status 2 and a message naming the file and the field.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from pydantic import ValidationError

from missions.compiler import (
    CompiledMission,
    MissionCompileError,
    RobotProfile,
    RobotProfileError,
    StartPose,
    compile_mission,
    load_robot_profile,
)
from missions.sites import Site, SiteImportError, import_site
from missions.types import (
    DisinfectionMission,
    GuidanceMission,
    MissionSpec,
    MissionValidationError,
    PatrolMission,
    load_mission_file,
)
from missions.vda5050 import Order, encode

app = typer.Typer(help="Missions: compile and check them offline.", no_args_is_help=True)

EXIT_BAD_INPUT = 2
DEFAULT_UV_IRRADIANCE_AT_1M = 2.67
"""The planning lamp without a robot file: a HERO21-class robot (as the agent's default)."""


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(EXIT_BAD_INPUT)


def _load_mission(path: Path) -> MissionSpec:
    try:
        return load_mission_file(path)
    except MissionValidationError as exc:
        _fail(str(exc))
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"{path}: cannot read: {exc}")


def _load_site(path: Path) -> Site:
    """An Open-RMF building, a map_server YAML, or a site saved as JSON (``Site``)."""
    try:
        if path.suffix.lower() == ".json":
            return Site.model_validate_json(path.read_bytes())
        return import_site(path)
    except SiteImportError as exc:
        _fail(str(exc))
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(map(str, first["loc"])) or "(site)"
        _fail(f"{path}: {where}: {first['msg']}")
    except OSError as exc:
        _fail(f"{path}: cannot read: {exc}")


def _robot(path: Path | None, mission: MissionSpec) -> RobotProfile:
    if path is None:
        return RobotProfile(
            manufacturer="fleet",
            serial_number="planner",
            capabilities=(mission.capability,),
            uv_irradiance_at_1m_mw_cm2=DEFAULT_UV_IRRADIANCE_AT_1M,
        )
    try:
        return load_robot_profile(path)
    except RobotProfileError as exc:
        _fail(str(exc))


def _parse_start(text: str) -> StartPose:
    parts = [p.strip() for p in text.split(",")]
    if len(parts) == 1:
        return StartPose(waypoint=parts[0])
    if len(parts) != 3:
        _fail(f"--start: expected a waypoint or x,y,level, got {text!r}")
    try:
        return StartPose(x=float(parts[0]), y=float(parts[1]), level=parts[2])
    except ValueError as exc:
        _fail(f"--start: expected a waypoint or x,y,level, got {text!r} ({exc})")


def _start_pose(
    start: str | None, robot_file: Path | None, profile: RobotProfile, mission: MissionSpec
) -> tuple[StartPose | None, str]:
    """The start pose and where it came from, for error messages."""
    if start is not None:
        return _parse_start(start), "--start"
    if profile.dock is not None:
        return StartPose(waypoint=profile.dock), f"{robot_file}: dock"
    return mission_entry(mission), "start (the mission's first place)"


def mission_entry(mission: MissionSpec) -> StartPose | None:
    """Where the mission's first stop is, when it names one directly."""
    if isinstance(mission, PatrolMission) and mission.checkpoints:
        return StartPose(waypoint=mission.checkpoints[0].waypoint)
    if isinstance(mission, GuidanceMission):
        return StartPose(waypoint=mission.from_)
    if isinstance(mission, DisinfectionMission):
        first = mission.targets[0]
        if first.waypoint is not None:
            return StartPose(waypoint=first.waypoint)
        if first.x is not None and first.y is not None and first.level is not None:
            return StartPose(x=first.x, y=first.y, level=first.level)
    return None


def plan_orders(compiled: CompiledMission, release_every: int | None) -> list[Order]:
    """The initial order and its updates, as the server would send them."""
    last = len(compiled.nodes) - 1
    if release_every is not None:
        steps = [*range(release_every, last, release_every), last]
    elif compiled.meeting_node_index is not None and compiled.meeting_node_index < last:
        steps = [compiled.meeting_node_index, last]
    else:
        steps = [last]
    compiled = compiled.with_initial_release(min(steps[0], last))
    orders = [compiled.order(header_id=0)]
    for header_id, release in enumerate(steps[1:], start=1):
        orders.append(compiled.order_update(header_id, release, header_id=header_id))
    return orders


def plan_document(compiled: CompiledMission, orders: list[Order]) -> dict[str, Any]:
    """The JSON document ``fleet mission plan --json`` prints."""
    return {
        "orders": [json.loads(encode(order)) for order in orders],
        "estimated_duration_s": compiled.estimated_duration_s,
        "dwell_points": compiled.dwell_points_json(),
    }


def _print_summary(compiled: CompiledMission, orders: list[Order]) -> None:
    typer.echo(
        f"order {compiled.order_id}: {len(compiled.nodes)} nodes, {len(orders)} message(s), "
        f"about {compiled.estimated_duration_s / 60:.1f} min"
    )
    for index, node in enumerate(compiled.nodes):
        position = node.node_position
        where = f"{position.map_id} ({position.x:.2f}, {position.y:.2f})" if position else ""
        actions = ", ".join(a.action_type for a in node.actions)
        label = node.node_description or ""
        typer.echo(f"  {node.sequence_id:4d} {node.node_id:<24} {where:<24} {label} {actions}")
        if index < len(compiled.edges) and compiled.edges[index].edge_description:
            typer.echo(f"       ↳ {compiled.edges[index].edge_description}")
    for point in compiled.dwell_points:
        dose = point.predicted_dose_mj_cm2
        figure = f"{dose:.1f} mJ/cm²" if dose is not None else f"{point.volume_ml:.0f} mL"
        typer.echo(f"  dwell {point.node_id}: {point.dwell_s:.1f} s, {figure}")


@app.command("plan")
def plan(
    mission_file: Annotated[Path, typer.Argument(help="Mission body, YAML or JSON")],
    site: Annotated[
        Path, typer.Option("--site", help="*.building.yaml, map_server YAML, or site JSON")
    ],
    robot: Annotated[
        Path | None, typer.Option("--robot", help="Robot profile YAML (default: generic)")
    ] = None,
    start: Annotated[
        str | None, typer.Option("--start", help="Start waypoint, or x,y,level")
    ] = None,
    order_id: Annotated[str | None, typer.Option("--order-id", help="orderId to use")] = None,
    release_every: Annotated[
        int | None, typer.Option("--release-every", min=1, help="Nodes released per update")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON")] = False,
) -> None:
    """Compile a mission into the VDA 5050 orders a robot would receive."""
    mission = _load_mission(mission_file)
    site_model = _load_site(site)
    profile = _robot(robot, mission)
    pose, pose_source = _start_pose(start, robot, profile, mission)
    if pose is None:
        _fail(f"{mission_file}: the mission names no first place; give --start")
    try:
        compiled = compile_mission(
            mission,
            site_model,
            profile,
            start=pose,
            order_id=order_id or f"plan-{mission_file.stem}",
        )
    except MissionCompileError as exc:
        if exc.field.startswith("start"):
            _fail(f"{pose_source}: {exc.reason}")
        _fail(f"{mission_file}: {exc}")
    orders = plan_orders(compiled, release_every)
    if as_json:
        typer.echo(json.dumps(plan_document(compiled, orders), ensure_ascii=False, indent=2))
    else:
        _print_summary(compiled, orders)

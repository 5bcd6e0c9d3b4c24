"""`fleet sim ...`: the simulator's commands."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from fleet_cli.sim_run import ScenarioRunError, ScenarioRunOptions, run_blocking
from missions.sites import SiteImportError, import_site
from sim.gazebo import GazeboExportError, export_gazebo
from sim.scenario import ScenarioError

app = typer.Typer(help="The built-in simulator: scenarios and Gazebo export.", no_args_is_help=True)

EXIT_USAGE = 2


@app.command("export-gazebo")
def export_gazebo_command(
    site_file: Annotated[
        Path, typer.Argument(help="Site map: Open-RMF *.building.yaml or map_server *.yaml.")
    ],
    out: Annotated[
        Path, typer.Option("--out", help="Directory to write world.sdf and robots.yaml.")
    ],
    level: Annotated[
        str | None, typer.Option("--level", help="Level to export (default: the first).")
    ] = None,
    robots: Annotated[int, typer.Option("--robots", min=0, help="Robots to spawn.")] = 1,
) -> None:
    """Write a Gazebo world (walls, floor, doors) and robot spawn poses for one level."""
    try:
        site = import_site(site_file)
        chosen = level or site.levels[0].name
        world_path, robots_path = export_gazebo(site, chosen, out, robots)
    except (SiteImportError, GazeboExportError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from exc
    typer.echo(f"wrote {world_path} and {robots_path} (level {chosen}, {robots} robots)")


@app.command("run")
def run_command(
    scenario: Annotated[str, typer.Argument(help="Bundled scenario name or a scenario YAML.")],
    robots: Annotated[
        int | None, typer.Option("--robots", min=1, help="Total robots (default: as written).")
    ] = None,
    time_scale: Annotated[
        float, typer.Option("--time-scale", min=0.01, help="Simulated seconds per real second.")
    ] = 10.0,
    duration: Annotated[
        float | None, typer.Option("--duration", min=1, help="Simulated seconds to run.")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Overrides the scenario's.")] = None,
    start_at: Annotated[
        str | None, typer.Option("--start-at", help="HH:MM: begin the scenario's day then.")
    ] = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write the KPI report JSON here.")
    ] = None,
    server: Annotated[
        str | None, typer.Option("--server", help="Use this server instead of starting one.")
    ] = None,
    token: Annotated[str | None, typer.Option("--token", help="Access token for --server.")] = None,
    mqtt: Annotated[
        str | None, typer.Option("--mqtt", help="Broker URL of --server, as robots reach it.")
    ] = None,
    drain: Annotated[
        float, typer.Option("--drain", min=0, help="Real seconds to wait for running missions.")
    ] = 60.0,
    no_faults: Annotated[bool, typer.Option("--no-faults", help="Inject no faults.")] = False,
) -> None:
    """Run a scenario against a fleet server and write its KPI report."""
    options = ScenarioRunOptions(
        robots=robots,
        time_scale=time_scale,
        duration_s=duration,
        seed=seed,
        start_at=start_at,
        server=server,
        token=token,
        mqtt=mqtt,
        drain_s=drain,
        faults=not no_faults,
        progress=sys.stderr,
    )
    try:
        result = run_blocking(scenario, options)
    except (ScenarioError, ScenarioRunError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from exc
    text = json.dumps(result, indent=2, default=str)
    if report is not None:
        report.write_text(text + "\n", encoding="utf-8")
    totals = result["missions"]["totals"]
    typer.echo(
        f"{result['scenario']}: {totals['created']} missions created, "
        f"{totals['completed']} completed, {totals['failed']} failed, "
        f"{totals['cancelled']} cancelled, {totals['unfinished']} unfinished; "
        f"expectations {'met' if result['expect']['all_met'] else 'NOT met'}"
        + (f"; report in {report}" if report is not None else "")
    )

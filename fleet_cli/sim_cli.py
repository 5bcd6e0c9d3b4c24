"""`fleet sim ...`: the simulator's commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from missions.sites import SiteImportError, import_site
from sim.gazebo import GazeboExportError, export_gazebo

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

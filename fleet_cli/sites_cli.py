"""`fleet site …`: import building maps and occupancy grids."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from missions.sites import Site, SiteImportError, SiteKind, import_site, site_summary

app = typer.Typer(help="Sites: import and inspect maps.", no_args_is_help=True)

EXIT_BAD_INPUT = 2


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(EXIT_BAD_INPUT)


def _print_summary(summary: dict[str, object], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(summary, ensure_ascii=False))
        return
    typer.echo(f"{summary['name']} ({summary['kind']})")
    for level in summary["levels"]:  # type: ignore[attr-defined]
        typer.echo(
            f"  level {level['name']}: {level['waypoints']} waypoints "
            f"({level['named_waypoints']} named), {level['lanes']} lanes, "
            f"{level['doors']} doors, {level['chargers']} chargers"
        )
    typer.echo(f"  lifts: {summary['lifts']}, zones: {summary['zones']}")
    typer.echo(f"  bbox (WGS84 w, s, e, n): {summary['bbox_wgs84']}")


def _store(site: Site, map_path: Path) -> str:
    from fleet_server.db import Database
    from fleet_server.db.migrate import upgrade_to_head
    from fleet_server.settings import SettingsError, load_settings
    from fleet_server.sites.store import SiteExists, SiteStore

    try:
        settings = load_settings()
    except SettingsError as exc:
        _fail(str(exc))
    upgrade_to_head(settings.database_url)
    database = Database.open(settings.database_url)
    try:
        with database.session() as session:
            row = SiteStore(settings.data_dir).create(session, site, map_path.parent)
            return row.id
    except SiteExists as exc:
        _fail(str(exc))
    finally:
        database.close()


@app.command("import")
def import_command(
    path: Annotated[Path, typer.Argument(help="*.building.yaml or a map_server YAML")],
    name: Annotated[str | None, typer.Option(help="Site name (default: from the file)")] = None,
    kind: Annotated[SiteKind | None, typer.Option(help="hospital, bank or public_space")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate; store nothing")] = False,
) -> None:
    """Import a map as a site and print its summary."""
    try:
        site = import_site(path, name=name, kind=kind.value if kind else None)
    except SiteImportError as exc:
        _fail(str(exc))
    if not dry_run:
        typer.echo(f"stored as site {_store(site, path)!r}", err=True)
    _print_summary(site_summary(site), as_json)

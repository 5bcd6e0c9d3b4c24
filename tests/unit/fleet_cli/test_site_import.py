"""`fleet site import`: summaries, storage, refusals with exit code 2 and nothing half-stored."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from fleet_cli.main import app
from fleet_server.db import Database
from fleet_server.db.models import Site as SiteRow

MAPS = Path(__file__).resolve().parents[2] / "fixtures" / "maps"
SUMMARY_KEYS = {"name", "kind", "levels", "lifts", "zones", "bbox_wgs84"}
LEVEL_KEYS = {"name", "waypoints", "named_waypoints", "lanes", "doors", "chargers"}


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FLEET_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("FLEET_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path / "var"


def _rows(data_dir: Path) -> list[str]:
    db = Database.open(f"sqlite:///{data_dir / 'fleet.db'}")
    try:
        with db.session() as session:
            return list(session.scalars(select(SiteRow.id)))
    finally:
        db.close()


def test_dry_run_json_summary(data_dir: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "site",
            "import",
            str(MAPS / "rmf/office.building.yaml"),
            "--dry-run",
            "--json",
            "--kind",
            "bank",
            "--name",
            "Bank hall",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert set(summary) == SUMMARY_KEYS
    assert (summary["name"], summary["kind"]) == ("Bank hall", "bank")
    assert all(set(level) == LEVEL_KEYS for level in summary["levels"])
    w, s, e, n = summary["bbox_wgs84"]
    assert w < e and s < n
    assert not (data_dir / "fleet.db").exists()


def test_import_stores_site_and_floor_plan_then_refuses_a_duplicate(data_dir: Path) -> None:
    args = ["site", "import", str(MAPS / "rmf/clinic.building.yaml"), "--kind", "hospital"]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    assert _rows(data_dir) == ["clinic"]
    assert (data_dir / "sites" / "clinic" / "clinic.png").is_file()
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 2
    assert "already exists" in again.stderr
    assert _rows(data_dir) == ["clinic"]


def test_occupancy_grid_imports(data_dir: Path) -> None:
    result = CliRunner().invoke(
        app, ["site", "import", str(MAPS / "occupancy/depot.yaml"), "--dry-run", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["levels"][0]["lanes"] > 0


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (lambda text: text.replace("levels:", "levels: [", 1), "office.building.yaml"),
        (lambda text: text + "\n\x00", "office.building.yaml"),
    ],
)
def test_bad_map_exits_2_naming_the_file_and_stores_nothing(
    data_dir: Path, tmp_path: Path, edit: object, named: str
) -> None:
    bad = tmp_path / "office.building.yaml"
    bad.write_text(edit((MAPS / "rmf/office.building.yaml").read_text()))  # type: ignore[operator]
    shutil.copy(MAPS / "rmf/office.png", tmp_path / "office.png")
    result = CliRunner().invoke(app, ["site", "import", str(bad)])
    assert result.exit_code == 2
    assert named in result.stderr
    assert not (data_dir / "sites").exists() or not any((data_dir / "sites").iterdir())


def test_missing_floor_plan_is_refused(data_dir: Path, tmp_path: Path) -> None:
    shutil.copy(MAPS / "rmf/office.building.yaml", tmp_path / "office.building.yaml")
    result = CliRunner().invoke(app, ["site", "import", str(tmp_path / "office.building.yaml")])
    assert result.exit_code == 2
    assert "office.png" in result.stderr

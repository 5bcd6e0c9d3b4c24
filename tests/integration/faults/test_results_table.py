"""docs/reliability-results.md is the table of the fault tests as they are now."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE.parents[2] / "docs" / "reliability-results.md"


def _fault_tests() -> dict[str, str]:
    """Every fault test in this directory and its docstring on one line."""
    found = {}
    for path in sorted(HERE.glob("test_*.py")):
        if path.name == Path(__file__).name:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                doc = inspect.cleandoc(ast.get_docstring(node) or "")
                found[node.name] = " ".join(doc.split())
    return found


def test_results_table_has_a_passing_row_for_every_fault_test_as_written() -> None:
    table = RESULTS.read_text(encoding="utf-8")
    rows = {
        line.split("|")[1].strip().strip("`"): line
        for line in table.splitlines()
        if line.startswith("| `test_")
    }
    tests = _fault_tests()
    assert tests, "no fault tests found"
    stale = sorted(set(rows) - set(tests))
    missing = sorted(set(tests) - set(rows))
    assert not missing and not stale, (
        f"regenerate with `python -m tests.integration.faults.report`: "
        f"missing {missing}, no longer tests {stale}"
    )
    for name, doc in tests.items():
        assert doc and f"| {doc} |" in rows[name], f"{name}: docstring changed since the run"
        assert "| passed |" in rows[name], f"{name}: not passed in the recorded run"

"""Run the fault tests and write docs/reliability-results.md from that run.

    python -m tests.integration.faults.report [extra pytest arguments]

The exit status is pytest's: a failing fault test is written into the table as failed
and makes the command fail.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
RESULTS = HERE.parents[2] / "docs" / "reliability-results.md"


def main(argv: list[str]) -> int:
    """Run pytest on this directory with the results option; returns its exit code."""
    return int(
        pytest.main(
            [
                str(HERE),
                f"--ignore={HERE / 'test_results_table.py'}",
                "-p",
                "no:cacheprovider",
                f"--reliability-results={RESULTS}",
                *argv,
            ]
        )
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

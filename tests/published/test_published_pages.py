"""Published pages name no path of the machine they were written on, and every figure has a record.

A page written by a run (reliability results, performance) once carried the benchmark machine's venv path;
hand-written pages carried a path to the design notes of the machine the docs were written on, and timings
that no file recorded. These checks cover every page the docs site and the repository publish.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PAGES = sorted([*(REPO / "docs").glob("*.md"), REPO / "README.md", REPO / "CHANGELOG.md"])
#: An absolute path on a machine (``/work/...``, ``/tmp/...``, a home directory).
MACHINE_PATH = re.compile(r"(?<![\w.:/~-])/(?:work|tmp|home|root|Users|mnt)/")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_no_machine_path(page: Path) -> None:
    hits = [(n, line) for n, line in enumerate(page.read_text().splitlines(), 1) if MACHINE_PATH.search(line)]
    assert not hits, hits


@pytest.mark.parametrize(
    ("page", "figure"),
    [
        ("README.md", re.compile(r"\b\d+ min \d+ s\b|\b\d{3,} tests\b")),  # make test's time, test counts
        ("docs/assets.md", re.compile(r"\b\d+ to \d+ seconds\b")),
        ("docs/reliability.md", re.compile(r"#\s*\d+-\d+ s\b")),
    ],
)
def test_no_timing_or_count_without_a_record(page: str, figure: re.Pattern[str]) -> None:
    """Each figure of these kinds has gone: no file a run wrote records one (docs/testing.md lists those)."""
    assert not figure.search((REPO / page).read_text()), figure.search((REPO / page).read_text())

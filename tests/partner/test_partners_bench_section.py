"""The partners section of docs/performance.md is what ``bench/partners.py`` renders from the run's kept
results (``bench/results/performance.jsonl``, the file ``make bench`` writes beside the page)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "bench" / "results" / "performance.jsonl"


def test_the_published_section_is_rendered_from_the_kept_results() -> None:
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import partners  # bench/partners.py (imports nothing heavy at module level)
    finally:
        sys.path.remove(str(REPO / "bench"))
    lines = [json.loads(line) for line in RESULTS.read_text().splitlines() if line.strip()]
    results = [r for r in lines if r.get("bench") == "partners"]
    assert {r["variant"] for r in results} == {"per account", "one account"}
    section = partners.report_section(results).rstrip()
    heading, body = section.split("\n", 1)
    page = (REPO / "docs" / "performance.md").read_text()
    assert heading in page and body.strip() in page
    assert "`bench/results/performance.jsonl`" in page

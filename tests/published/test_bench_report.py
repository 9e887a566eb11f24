"""docs/performance.md is rendered from one results file, names it, and holds no path of the machine.

``bench/report.py`` is run here on a small results file written by the test (the benchmarks themselves are
``make bench``, not part of the suite), and the committed page is checked against the committed results.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "docs" / "performance.md"
RESULTS_DIR = REPO / "bench" / "results"
#: An absolute path of a machine, or a virtual environment's directory.
MACHINE_PATH = re.compile(r"(?<![\w.:/])/(?:work|tmp|home|root|usr|opt|var|srv|mnt|Users)/|\.venv")

RUN = {
    "bench": "_run",
    "command": "make bench",
    "started": "2031-01-02T03:04:05Z",
    "airflow": "9.9.9",
    "nproc": 7,
    "cpu": "Test CPU 9000",
    "ram_gb": 3.5,
    "python": "3.99.1",
    "platform": "TestOS-1",
}
WAITS = {
    "bench": "waits",
    "load_1m": 0.5,
    "waits": 10,
    "poll_interval_s": 30.0,
    "time_factor": 20.0,
    "setup_real_s": 0.0,
    "simulated_s": 250.0,
    "real_s": 12.5,
    "api_calls": 9,
    "http_429": 0,
    "detect_delay_max_s": 31.0,
    "added_rss_mb": 1.0,
    "loop_lag_p99_ms": 2.0,
}


@pytest.fixture(scope="module")
def report() -> ModuleType:
    sys.path.insert(0, str(REPO / "bench"))  # report.py imports the benchmark modules by name
    spec = importlib.util.spec_from_file_location("bench_report", REPO / "bench" / "report.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _results(tmp_path: Path, poller_clients: int | None, baseline_clients: int = 10) -> Path:
    poller: dict[str, Any] = {**WAITS, "mode": "poller"}
    if poller_clients is not None:
        poller["clients_before_clock"] = poller_clients
    baseline = {**WAITS, "mode": "baseline", "clients_before_clock": baseline_clients, "setup_real_s": 1.7}
    path = tmp_path / "performance.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in (RUN, poller, baseline)))
    return path


def test_the_page_is_rendered_from_the_results_file_alone(report: ModuleType, tmp_path: Path) -> None:
    page = report.render(report.load(str(_results(tmp_path, 0))), "bench/results/performance.jsonl")
    assert "Raw results: `bench/results/performance.jsonl`" in page
    assert "`python bench/report.py bench/results/performance.jsonl` renders this page" in page
    # The machine is the one the record describes, not the one rendering the page.
    assert "`nproc` = 7, CPU Test CPU 9000, 3.5 GB RAM; Python 3.99.1, Airflow 9.9.9; TestOS-1." in page
    assert "from the run started 2031-01-02T03:04:05Z; benchmarks in this run: waits." in page
    assert not MACHINE_PATH.search(page), MACHINE_PATH.search(page)


def test_where_the_clients_were_created_is_computed_from_the_run(report: ModuleType, tmp_path: Path) -> None:
    page = report.render(report.load(str(_results(tmp_path, 0))), "r.jsonl")
    assert "The poller created no client before the clock started: it builds its client and pool" in page
    assert "The baseline created its 10 clients and pools before the clock started (1.7 real s" in page
    assert "Both sides" not in page
    other = report.render(report.load(str(_results(tmp_path, 3))), "r.jsonl")
    assert "The poller created its 3 clients and pools before the clock started (0.0 real s" in other
    older = report.render(report.load(str(_results(tmp_path, None))), "r.jsonl")
    assert "The poller: where it created its clients was not recorded by this run." in older


def test_a_results_file_without_its_run_record_or_outside_the_repository_is_refused(
    report: ModuleType, tmp_path: Path
) -> None:
    path = tmp_path / "performance.jsonl"
    path.write_text(json.dumps({**WAITS, "mode": "poller"}) + "\n")
    with pytest.raises(SystemExit, match="no run record"):
        report.render(report.load(str(path)), "r.jsonl")
    with pytest.raises(SystemExit, match="inside the repository"):
        report.published_name(str(path))
    assert report.published_name(str(RESULTS_DIR / "performance.jsonl")) == "bench/results/performance.jsonl"


def test_the_published_page_and_its_raw_results(report: ModuleType) -> None:
    page = PAGE.read_text()
    assert not MACHINE_PATH.search(page), MACHINE_PATH.search(page)
    named = set(re.findall(r"`(bench/results/[\w.-]+\.jsonl)`", page))
    kept = {p.relative_to(REPO).as_posix() for p in RESULTS_DIR.glob("*")} if RESULTS_DIR.exists() else set()
    assert kept <= named, f"results no page names: {sorted(kept - named)}"
    raw = re.search(r"^Raw results: `(bench/results/[\w.-]+\.jsonl)`", page, re.MULTILINE)
    if raw:  # written by the current scripts/bench.sh: the committed results render the committed page
        assert report.render(report.load(str(REPO / raw.group(1))), raw.group(1)) == page
    else:  # the run before results were kept: the page must say so
        assert "raw results of this run were not kept" in page

"""Who writes docs/reliability-results.md: one run (``OKTOPOST_RELIABILITY_WRITER``), named in the file.

``make test`` runs tests/reliability in four environments; before this, each complete passing session
rewrote the file and the last to finish won. These tests drive the same ``write_results`` the session end
calls, with a complete set of rows, into a file of their own.
"""

from __future__ import annotations

import re
from pathlib import Path

import airflow
import pytest
from reliability_support import WRITER_ENV, Results, write_results

ENVIRONMENTS = (
    f"{airflow.__version__} (latest dependencies), 3.2.2 (latest dependencies), "
    "3.1.8 (latest dependencies), 3.0.0 (lowest dependencies)"
)


def _complete() -> Results:
    results = Results()
    results.expect("faults", {("500", "hook")})
    results.expect("chaos", {("onboarding", "11")})
    results.record("faults", ("500", "hook"), {"case": "500", "component": "hook", "observed": "succeeded"})
    results.record(
        "chaos",
        ("onboarding", "11"),
        {"DAG": "onboarding", "seed": 11, "_rate": 0.2, "_requests": 10, "_hits": 4}
        | {"_first_attempt_hits": 3},
    )
    return results


def test_only_the_run_named_writer_writes(tmp_path: Path) -> None:
    target = tmp_path / "results.md"
    assert not write_results(target, 0, _complete(), {}) and not target.exists()  # the other environments
    assert not write_results(target, 1, _complete(), {WRITER_ENV: ENVIRONMENTS})  # a failing session
    partial = _complete()
    partial.expect("faults", {("500", "hook"), ("503", "hook")})
    assert not write_results(target, 0, partial, {WRITER_ENV: ENVIRONMENTS})  # a -k subset
    assert not target.exists()
    assert write_results(target, 0, _complete(), {WRITER_ENV: ENVIRONMENTS})
    text = " ".join(target.read_text().split())  # as Markdown reads it: line breaks are spaces
    assert f"on **Airflow {airflow.__version__}**" in text
    assert re.search(r"Written on \d{4}-\d\d-\d\d by", text)
    assert (
        "in 3 other environments, where they must pass too but do not write it: 3.2.2 (latest "
        "dependencies), 3.1.8 (latest dependencies), 3.0.0 (lowest dependencies)."
    ) in text
    assert "What varies between runs" in text
    assert "| 500 | hook |" in text and "in these 1 runs 4 of 10 responses (40%) were faults" in text


def test_a_writer_variable_naming_another_version_is_refused(tmp_path: Path) -> None:
    with pytest.raises(pytest.UsageError, match=r"names Airflow 9\.9\.9 as the writer"):
        write_results(tmp_path / "results.md", 0, _complete(), {WRITER_ENV: "9.9.9 (latest dependencies)"})
    assert not (tmp_path / "results.md").exists()


def test_make_test_sets_the_writer_for_its_high_run_only() -> None:
    """scripts/test.sh sets the variable on one pytest command: the foreground Airflow $AIRFLOW_HIGH run."""
    script = (Path(__file__).resolve().parents[2] / "scripts" / "test.sh").read_text()
    commands = [line for line in script.splitlines() if "-m pytest" in line]
    with_writer = [line for line in commands if WRITER_ENV in line]
    assert len(with_writer) == 1
    assert with_writer[0].lstrip().startswith(f'{WRITER_ENV}="$writer_envs" "$HIGH/')
    assert f"unset {WRITER_ENV}" in script

"""Helpers of the reliability suite (a module of its own: test modules cannot import ``conftest`` reliably,
since ``tests/conftest.py`` has the same module name)."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_oktopost.testing import OktopostSandbox

#: Every table the generated file holds; it is only written when all of them are complete.
REQUIRED_TABLES = ("faults", "chaos")


def set_connection(sandbox: OktopostSandbox, monkeypatch: pytest.MonkeyPatch, **extra: Any) -> None:
    conn = sandbox.connection_dict()
    conn["extra"] = {"rate_limit_per_minute": 100_000, "timeout": 5, **extra}
    monkeypatch.setenv("AIRFLOW_CONN_OKTOPOST_DEFAULT", json.dumps(conn))


class Results:
    """Rows recorded by the tests, grouped by table; written only when every expected row is present."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[tuple[str, ...], dict[str, Any]]] = {}
        self.expected: dict[str, set[tuple[str, ...]]] = {}

    def expect(self, table: str, keys: set[tuple[str, ...]]) -> None:
        self.expected[table] = set(keys)

    def record(self, table: str, key: tuple[str, ...], row: dict[str, Any]) -> None:
        self.tables.setdefault(table, {})[key] = row

    def complete(self) -> bool:
        if set(self.expected) != set(REQUIRED_TABLES):
            return False  # a module was not run at all (a -k subset, or one file)
        return all(set(self.tables.get(name, {})) >= keys for name, keys in self.expected.items())

    def render(self, **run: Any) -> str:
        """The Markdown file; ``run`` says which run wrote it (see ``reliability_tables.header``)."""
        from reliability_tables import render_results

        return render_results(self.tables, **run)


RESULTS = Results()

#: Set (to the environments of the make test run, the writer's first) for the one run that writes the file.
WRITER_ENV = "OKTOPOST_RELIABILITY_WRITER"


def write_results(path: Path, exitstatus: int, results: Results, environ: Mapping[str, str]) -> bool:
    """Write ``path`` when this is the writer run (``WRITER_ENV`` set) and the session passed complete.

    Refuses (``pytest.UsageError``) when the variable names another Airflow version as the writer than the
    one this process runs: the file says which version wrote it.
    """
    environments = [e.strip() for e in environ.get(WRITER_ENV, "").split(",") if e.strip()]
    if not environments or exitstatus != 0 or not results.complete():
        return False
    import airflow

    writer = environments[0].split()[0]
    if writer != airflow.__version__:
        raise pytest.UsageError(
            f"{WRITER_ENV} names Airflow {writer} as the writer, "
            f"but this run has Airflow {airflow.__version__}"
        )
    path.write_text(
        results.render(
            airflow_version=airflow.__version__,
            python_version=sys.version.split()[0],
            date=datetime.now(UTC).strftime("%Y-%m-%d"),
            environments=environments,
        )
    )
    return True

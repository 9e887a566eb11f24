"""Helpers of the reliability suite (a module of its own: test modules cannot import ``conftest`` reliably,
since ``tests/conftest.py`` has the same module name)."""

from __future__ import annotations

import json
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

    def render(self) -> str:
        from reliability_tables import render_results

        return render_results(self.tables)


RESULTS = Results()

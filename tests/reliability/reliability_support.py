"""Helpers of the reliability suite (a module of its own: test modules cannot import ``conftest`` reliably,
since ``tests/conftest.py`` has the same module name)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from airflow_provider_oktopost.testing import OktopostSandbox

#: Every table the generated file holds; it is only written when all of them are complete.
REQUIRED_TABLES = ("faults", "chaos")


class SimClock:
    """Patched time: every provider wait (and the sensor's poke-mode sleep) moves our clock and the sandbox's.

    ``real_sleep_cap`` makes sync waits also sleep for real (capped), for the one case where the sandbox must
    get real time to finish a slow request (a read timeout).
    """

    def __init__(self, sandbox: OktopostSandbox) -> None:
        self.sandbox = sandbox
        self.offset = 0.0
        self.slept: list[float] = []
        self.real_sleep_cap = 0.0
        self._real_wall = time.time
        self._real_monotonic = time.monotonic

    def _advance(self, seconds: float) -> None:
        seconds = max(float(seconds), 0.0)
        self.slept.append(round(seconds, 3))
        self.offset += seconds
        if seconds > 0:
            self.sandbox.advance(seconds)

    def sleep(self, seconds: float) -> None:
        self._advance(seconds)
        if self.real_sleep_cap:
            time.sleep(min(seconds, self.real_sleep_cap))

    async def async_sleep(self, seconds: float) -> None:
        self._advance(seconds)
        await asyncio.sleep(min(seconds, self.real_sleep_cap) if self.real_sleep_cap else 0)

    def wall(self) -> float:
        return self._real_wall() + self.offset

    def monotonic(self) -> float:
        return self._real_monotonic() + self.offset


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

"""Fixtures for running the example DAGs for real: migrated DB, sandbox connection, controlled time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support import SimClock

from airflow_provider_oktopost.testing import OktopostSandbox


@pytest.fixture
def sandbox(airflow_db: Path, oktopost_connection_env: OktopostSandbox) -> Iterator[OktopostSandbox]:
    """The sandbox behind ``oktopost_default`` (reset, with a fresh client budget)."""
    yield oktopost_connection_env


@pytest.fixture
def fast_time(sandbox: OktopostSandbox, monkeypatch: pytest.MonkeyPatch) -> OktopostSandbox:
    """Patch time, not the network: the provider's waits move the sandbox clock instead of the real one.

    A trigger's 15-second poll interval becomes a 20 ms real pause while the sandbox's clock (validation
    delay, rate-limit window) and the provider's clock both move by the full interval.
    """
    SimClock(sandbox, real_pause=0.02).install(monkeypatch)
    return sandbox

"""Fixtures for the trigger tests: a fake clock that also moves the sandbox's clock."""

from __future__ import annotations

import pytest
from support import SimClock

from airflow_provider_oktopost.testing import OktopostSandbox


@pytest.fixture
def fake_clock(oktopost_connection_env: OktopostSandbox, monkeypatch: pytest.MonkeyPatch) -> SimClock:
    """Simulated time from a fixed start; every wait also moves the sandbox's clock."""
    return SimClock(oktopost_connection_env, start=1_800_000_000.0).install(monkeypatch)

"""Fixtures for the sensor tests (DAG runs use ``airflow_provider_oktopost.testing.dagrun``)."""

from __future__ import annotations

import pytest

from airflow_provider_oktopost._core import clock


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The hook's retry backoff (``clock.sleep``) returns at once; the waits it asked for are recorded."""
    waits: list[float] = []
    monkeypatch.setattr(clock, "sleep", waits.append)
    return waits

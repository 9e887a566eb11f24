"""Fixtures for the trigger tests: a fake clock that also moves the sandbox's clock."""

from __future__ import annotations

import asyncio

import pytest

from airflow_provider_oktopost.core import clock
from airflow_provider_oktopost.testing import OktopostSandbox


class FakeClock:
    """Stand-ins for ``clock.wall`` and ``clock.async_sleep``: sleeping moves our time and the sandbox's."""

    def __init__(self, sandbox: OktopostSandbox | None, start: float) -> None:
        self.sandbox = sandbox
        self.now = start
        self.sleeps: list[float] = []

    def wall(self) -> float:
        return self.now

    async def async_sleep(self, seconds: float) -> None:
        seconds = max(seconds, 0.0)
        self.sleeps.append(seconds)
        self.now += seconds
        if self.sandbox is not None and seconds > 0:
            self.sandbox.advance(seconds)
        await asyncio.sleep(0)


@pytest.fixture
def fake_clock(oktopost_connection_env: OktopostSandbox, monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock(oktopost_connection_env, start=1_800_000_000.0)
    monkeypatch.setattr(clock, "wall", fake.wall)
    monkeypatch.setattr(clock, "async_sleep", fake.async_sleep)
    return fake

"""Helpers shared by test modules (importable because pyproject puts tests/ on the path)."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from airflow_provider_oktopost.testing import OktopostSandbox


class SimClock:
    """Simulated time for the provider: patch time, not the network.

    Installed over :mod:`airflow_provider_oktopost._core.clock`, every wait the provider asks for (backoff,
    throttle, poll interval) is recorded in ``slept`` and moves this clock, and the sandbox's clock with it
    (validation delays and rate-limit blocks pass too), instead of sleeping.

    :param sandbox: The sandbox whose clock moves along (``None``: only ours).
    :param start: Start at this epoch time; ``None`` follows the real clock plus the simulated offset.
    :param real_pause: Seconds each async wait really yields (lets a server thread or other tasks run).
    :param real_sleep_cap: Sync waits also sleep for real, up to this (a slow request must finish first).
    """

    def __init__(
        self,
        sandbox: OktopostSandbox | None = None,
        start: float | None = None,
        real_pause: float = 0.0,
        real_sleep_cap: float = 0.0,
    ) -> None:
        self.sandbox = sandbox
        self.start = start if start is not None else time.time()
        self._base_wall = start if start is not None else None
        self._base_monotonic = time.monotonic()
        self.offset = 0.0
        self.slept: list[float] = []
        self.real_pause = real_pause
        self.real_sleep_cap = real_sleep_cap
        self._schedule: list[tuple[float, Callable[[], None]]] = []

    @property
    def sleeps(self) -> list[float]:
        return self.slept

    @property
    def now(self) -> float:
        return self.wall()

    def wall(self) -> float:
        return (self._base_wall if self._base_wall is not None else time.time()) + self.offset

    def monotonic(self) -> float:
        if self._base_wall is not None:  # a fixed start: one simulated timeline for both clocks
            return self.wall()
        return time.monotonic() + self.offset

    def at(self, offset: float, action: Callable[[], None]) -> None:
        """Run ``action`` once the simulated time passes ``start + offset``."""
        self._schedule.append((self.start + offset, action))
        self._schedule.sort(key=lambda item: item[0])

    def _advance(self, seconds: float) -> None:
        seconds = max(float(seconds), 0.0)
        self.slept.append(seconds)
        self.offset += seconds
        if self.sandbox is not None and seconds > 0:
            self.sandbox.advance(seconds)
        while self._schedule and self._schedule[0][0] <= self.wall():
            self._schedule.pop(0)[1]()

    def sleep(self, seconds: float) -> None:
        self._advance(seconds)
        if self.real_sleep_cap:
            time.sleep(min(max(seconds, 0.0), self.real_sleep_cap))

    async def async_sleep(self, seconds: float) -> None:
        self._advance(seconds)
        pause = min(max(seconds, 0.0), self.real_sleep_cap) if self.real_sleep_cap else self.real_pause
        await asyncio.sleep(pause)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> SimClock:
        """Patch the provider's clock (``wall``, ``monotonic``, ``sleep``, ``async_sleep``) with this one."""
        from airflow_provider_oktopost._core import clock

        monkeypatch.setattr(clock, "wall", self.wall)
        monkeypatch.setattr(clock, "monotonic", self.monotonic)
        monkeypatch.setattr(clock, "sleep", self.sleep)
        monkeypatch.setattr(clock, "async_sleep", self.async_sleep)
        return self


EXAMPLES = Path(__file__).resolve().parents[1] / "example_dags"


def load_example(name: str) -> Any:
    """Import an example DAG file fresh and return its ``dag``."""
    spec = importlib.util.spec_from_file_location(f"oktopost_examples.{name}", EXAMPLES / f"{name}.py")
    assert spec and spec.loader
    module: ModuleType = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.dag

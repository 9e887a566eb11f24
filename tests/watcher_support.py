"""Running the integration watcher as the triggerer runs it, against the sandbox, on simulated time.

Shared by the watcher's tests (``tests/assets/test_watcher.py``: events and state; and
``tests/triggers/test_watcher_changes.py``: changes made mid-listing, failing state stores), so both drive
the real trigger the same way: its ``run()`` consumed in a task, the test waiting on what the sandbox saw.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support import SimClock

from airflow_provider_oktopost.testing import OktopostSandbox
from airflow_provider_oktopost.triggers import watcher as watcher_module
from airflow_provider_oktopost.triggers.watcher import OktopostIntegrationChangeTrigger

#: The listing path the watcher reads (a regular expression for ``OktopostSandbox.count``).
LIST = r"/v2/integration"


def watch_sandbox(
    sandbox: OktopostSandbox,
    monkeypatch: pytest.MonkeyPatch,
    state_dir: Path,
    *,
    save_at_once: bool = False,
) -> OktopostSandbox:
    """The sandbox, a state directory of the test's own, and simulated time (5 ms real per wait).

    ``save_at_once``: the watcher saves its state right after handing events over instead of
    :data:`~airflow_provider_oktopost.triggers.watcher.SAVE_DELAY` later (for tests of what is saved, not
    of when).
    """
    monkeypatch.setenv("AIRFLOW__OKTOPOST__WATCHER_STATE_DIR", str(state_dir))
    if save_at_once:
        monkeypatch.setattr(watcher_module, "SAVE_DELAY", 0.0)
    SimClock(sandbox, start=1_800_000_000.0, real_pause=0.005).install(monkeypatch)
    return sandbox


class Watch:
    """One trigger running as the triggerer runs it: its events collected until it is stopped."""

    def __init__(self, trigger: OktopostIntegrationChangeTrigger) -> None:
        self.trigger = trigger
        self.events: list[dict[str, Any]] = []
        self.task = asyncio.ensure_future(self._consume())

    async def _consume(self) -> None:
        async for event in self.trigger.run():
            self.events.append(event.payload)

    async def stop(self) -> None:
        """What a triggerer stopping does to a trigger: cancel it."""
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def until(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    """Wait (real time: a guard against a hang, not a measurement) until ``condition`` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def listings_pass(sandbox: OktopostSandbox, n: int) -> None:
    """Wait until ``n`` more listing pages have been answered (and handed on)."""
    target = sandbox.count("GET", LIST) + n
    await until(lambda: sandbox.count("GET", LIST) >= target)
    await asyncio.sleep(0.05)


async def baseline(sandbox: OktopostSandbox, **trigger_kwargs: Any) -> Watch:
    """Run a watcher through two listings (its first look at the account), then stop it."""
    watch = Watch(OktopostIntegrationChangeTrigger(**trigger_kwargs))
    try:
        await listings_pass(sandbox, 2)
    finally:
        await watch.stop()
    return watch

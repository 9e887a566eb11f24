"""Every wait of a fault-matrix run, labelled by what it is and where it happens, in order with the requests.

The fault matrix patches time, so each wait is a call to the simulated clock. This module wraps those calls
and tells them apart by their caller: the drivers' sleeps are **backoff** (retry delays, the budget, the
pause after a 429), in the worker (sync driver) or on an event loop (async client, or the triggerer while a
trigger runs); the poke-mode sensor's ``time.sleep`` is its **poke interval** (in the worker, which keeps
its slot); the test's scheduler stand-in brings a rescheduled sensor back after a **reschedule** (the
scheduler: no slot held); ``OktopostWaitTrigger`` waits out a **deferral** and the shared poller its
**poll interval** (both in the triggerer). Each wait records how many requests the sandbox had answered
when it ended, so the checks can say which requests came before and after it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
from support import SimClock

from airflow_provider_oktopost.testing import OktopostSandbox

BACKOFF, POKE, RESCHEDULE = "backoff", "poke interval", "reschedule"
DEFERRAL, POLL = "deferral", "poll interval"
WORKER, EVENT_LOOP, TRIGGERER, SCHEDULER = "worker", "caller's event loop", "triggerer", "scheduler"


@dataclass(frozen=True)
class Wait:
    kind: str
    place: str
    seconds: float
    after_requests: int  # requests the sandbox had answered when the wait ended


class WaitLog:
    """Installed over the simulated clock of one fault-matrix case (see the module docstring)."""

    def __init__(self, sim: SimClock, sandbox: OktopostSandbox) -> None:
        self.sim, self.sandbox = sim, sandbox
        self.waits: list[Wait] = []
        self.in_triggerer = False
        #: Called before a wait returns (the read-timeout row waits there for the slow request to finish).
        self.settle: Callable[[], None] = lambda: None

    def _record(self, kind: str, place: str, seconds: float) -> None:
        if seconds > 0:
            self.settle()
            self.waits.append(Wait(kind, place, round(seconds, 3), len(self.sandbox.requests)))

    def hand_off(self) -> None:
        """A task deferred: from here its trigger runs in the triggerer (a new attempt, not a wait the
        provider sleeps, so it is recorded with 0 s)."""
        self.waits.append(Wait(DEFERRAL, TRIGGERER, 0.0, len(self.sandbox.requests)))

    def install(self, monkeypatch: pytest.MonkeyPatch) -> WaitLog:
        import airflow.sdk.bases.sensor as sensor_module

        from airflow_provider_oktopost._core import clock

        sim = self.sim

        def sleep(seconds: float) -> None:
            caller = sys._getframe(1).f_globals.get("__name__", "")
            assert caller.endswith("core.driver"), f"an unexpected sync wait from {caller}"
            sim.sleep(seconds)
            self._record(BACKOFF, WORKER, seconds)

        def async_sleep(seconds: float) -> Coroutine[Any, Any, None]:
            caller = sys._getframe(1).f_globals.get("__name__", "")
            if caller.endswith("core.driver"):
                kind, place = BACKOFF, TRIGGERER if self.in_triggerer else EVENT_LOOP
            elif caller.endswith("triggers._poller"):
                kind, place = POLL, TRIGGERER
            elif caller.endswith("triggers.oktopost"):
                kind, place = DEFERRAL, TRIGGERER
            else:
                raise AssertionError(f"an unexpected async wait from {caller}")

            async def wait() -> None:
                await sim.async_sleep(seconds)
                self._record(kind, place, seconds)

            return wait()

        def poke_sleep(seconds: float) -> None:
            sim.sleep(seconds)
            self._record(POKE, WORKER, seconds)

        def reschedule(seconds: float) -> None:
            sim.sleep(seconds)
            self._record(RESCHEDULE, SCHEDULER, seconds)

        monkeypatch.setattr(clock, "sleep", sleep)
        monkeypatch.setattr(clock, "async_sleep", async_sleep)
        monkeypatch.setattr(
            sensor_module, "time", SimpleNamespace(sleep=poke_sleep, monotonic=sim.monotonic, time=sim.wall)
        )
        monkeypatch.setattr(sim, "sleep_for_reschedule", reschedule, raising=False)
        monkeypatch.setattr(sys.modules[__name__], "current", self)
        return self


#: The log of the case running now (``fault_components`` marks the triggerer's turn on it).
current: WaitLog | None = None


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Really wait (the server works in real time) until ``condition`` holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the sandbox did not finish the slow request in time"
        time.sleep(0.01)


def summary(waits: list[Wait]) -> str:
    """For the generated table: each kind of wait, where it happened, how many and how long (seeded jitter,
    so the figures repeat run to run)."""
    if not waits:
        return "none"
    groups: dict[tuple[str, str], list[float]] = {}
    for w in waits:
        groups.setdefault((w.kind, w.place), []).append(w.seconds)
    parts = []
    for (kind, place), seconds in groups.items():
        low, high = f"{min(seconds):.1f}", f"{max(seconds):.1f}"
        span = f"{low} s" if low == high else f"{low}-{high} s"
        parts.append(f"{len(seconds)} {kind} in the {place} ({span})")
    return "; ".join(parts)

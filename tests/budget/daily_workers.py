"""What the processes of the daily-share test run (a module of its own: ``spawn`` imports it by name).

Each process patches the provider's clock (never the network) to one simulated timeline shared by the
processes of a phase: simulated time ``t0`` at the real moment ``start_at``, running ``SPEED`` times faster
than real time (a sleep of the provider really sleeps ``1/SPEED`` of it), so that processes started together
interleave as they would in a real deployment, only faster. Each also wraps ``AccountBudget.reserve`` to
report every answer the shared store gave it: whether it was a polling reservation, whether it was granted,
the day's count it returned, and the simulated time.
"""

from __future__ import annotations

import asyncio
import os
import time
from multiprocessing.queues import Queue
from typing import Any

#: (polling, granted, day_used, simulated time) of one reservation.
Answer = tuple[bool, bool, int, float]


#: Simulated seconds per real second.
SPEED = 250.0


class Timeline:
    """The provider's clock on the phase's shared simulated timeline (see the module docs)."""

    def __init__(self, t0: float, start_at: float) -> None:
        self.t0, self.start_at = t0, start_at

    def wall(self) -> float:
        return self.t0 + (time.time() - self.start_at) * SPEED

    def sleep(self, seconds: float) -> None:
        time.sleep(max(seconds, 0.0) / SPEED)

    async def async_sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0) / SPEED)

    def begin(self) -> None:
        """Wait for ``start_at``; a process that got there late (a loaded machine starts processes slowly)
        starts its timeline at ``t0`` now, instead of ``SPEED`` times its lateness further on, which could
        put it past midnight."""
        time.sleep(max(0.0, self.start_at - time.time()))
        self.start_at = max(self.start_at, time.time())


def _patch(conn_json: str, t0: float, start_at: float) -> tuple[Timeline, list[Answer]]:
    os.environ["AIRFLOW_CONN_OKTOPOST_DEFAULT"] = conn_json
    from airflow_provider_oktopost._core import clock
    from airflow_provider_oktopost._core.budget.account import AccountBudget

    sim = Timeline(t0, start_at)
    clock.wall = sim.wall
    clock.monotonic = sim.wall
    clock.sleep = sim.sleep
    clock.async_sleep = sim.async_sleep
    answers: list[Answer] = []
    real = AccountBudget.reserve

    def reserve(self: AccountBudget, max_wait: float, *, polling: bool = False) -> Any:
        grant = real(self, max_wait, polling=polling)
        if max_wait >= 0:  # a look (max_wait < 0) takes no turn
            answers.append((polling, grant.granted, grant.day_used, sim.wall()))
        return grant

    AccountBudget.reserve = reserve  # type: ignore[method-assign]
    return sim, answers


def spend(conn_json: str, t0: float, calls: int, start_at: float, out: Queue[Any]) -> None:
    """Like a task process (or another tool through the hook): ``calls`` reads of the account, at ``t0``."""
    sim, answers = _patch(conn_json, t0, start_at)
    from airflow_provider_oktopost.hooks.oktopost import OktopostHook

    hook = OktopostHook()
    _ = hook.config
    sim.begin()
    for _ in range(calls):
        hook.get_me()
    hook.close()
    out.put((os.getpid(), answers))


def wait(
    conn_json: str,
    t0: float,
    start_at: float,
    integration_id: str,
    poll_interval: float,
    end_time: float,
    out: Queue[Any],
) -> None:
    """Like a triggerer: one deferred wait through the account's poller, until ``end_time`` (simulated)."""
    sim, answers = _patch(conn_json, t0, start_at)
    from airflow_provider_oktopost.triggers.oktopost import OktopostIntegrationTrigger

    trigger = OktopostIntegrationTrigger(integration_id, poll_interval=poll_interval, end_time=end_time)

    async def run() -> list[dict[str, Any]]:
        return [dict(event.payload) async for event in trigger.run()]

    sim.begin()
    events = asyncio.run(run())
    out.put((os.getpid(), answers, events))

"""What the account's shared call budget lets a triggerer's poller do, and when.

Split from :mod:`._poller`, which decides what a cycle reads: a :class:`PollBudget` asks the account's budget
(shared by every process of the deployment, :mod:`airflow_provider_oktopost._core.budget`) when the next read
may go, without taking a turn, and remembers it; it learns the same from a refusal (a 429, or the budget's own
refusal to send) and tells each waiter, whose trigger says so in its log. The store is asked from a worker
thread when it is on disk or across the network, never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

from airflow_provider_oktopost._core import clock, observe
from airflow_provider_oktopost._core.budget.registry import budget_for
from airflow_provider_oktopost._core.budget.rules import Grant
from airflow_provider_oktopost.exceptions import OktopostBudgetWaitError, OktopostRateLimitError

if TYPE_CHECKING:
    from airflow_provider_oktopost._core.config import ClientConfig
    from airflow_provider_oktopost.triggers._waiter import Waiter

log = logging.getLogger("airflow_provider_oktopost.poller")


class PollBudget:
    """The poller's view of the account's budget: the wall time before which no read may go."""

    def __init__(self, config: ClientConfig) -> None:
        self.account_id = config.account_id
        #: The account's call budget, shared with every process of the deployment.
        self.budget = budget_for(
            config.base_url, config.account_id, config.rate_limit_per_minute, config.budget
        )
        #: Wall time before which the budget lets no call go (learned before each cycle and from refusals).
        self.free_at = -math.inf

    def wait(self) -> float:
        """Seconds until the account's budget lets the next read go (0: now), as last learned."""
        return max(0.0, self.free_at - clock.wall())

    def hold(self, seconds: float, waiters: Iterable[Waiter]) -> None:
        """No read goes for ``seconds``: remember it and tell the waiters."""
        self.free_at = max(self.free_at, clock.wall() + seconds)
        for waiter in waiters:
            waiter.budget_wait = seconds

    async def ask(self, waiters: Iterable[Waiter]) -> float:
        """Ask the shared budget (without taking a turn) when the next call may go, and tell the waiters."""
        peek = self.budget.step(self.budget.reserve, -1.0, polling=True)  # below zero: only looks
        grant = await asyncio.to_thread(peek.run) if peek.blocking else peek.run()
        assert isinstance(grant, Grant), "a reservation answers with a grant"
        self.free_at = clock.wall() + grant.wait
        for waiter in waiters:
            waiter.budget_wait = grant.wait
        if grant.wait > 0:
            log.info(
                "Oktopost account %s: the shared call budget lets the next read go in %.0fs%s",
                self.account_id,
                grant.wait,
                " (blocked after a 429)" if grant.blocked_for > 0 else "",
            )
        observe.polling_held(self.budget, grant)
        return grant.wait

    def refused(self, error: BaseException, waiters: Iterable[Waiter]) -> bool:
        """Note a rate limit (a 429, or the budget's refusal to send); True when nothing was sent."""
        if isinstance(error, OktopostRateLimitError):
            self.hold(error.retry_after, waiters)  # the block itself is already in the shared store
        return isinstance(error, OktopostBudgetWaitError)

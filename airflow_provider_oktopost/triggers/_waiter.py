"""What the account poller knows about one waiting trigger, and how a reading reaches it.

A :class:`Waiter` queues each reading for its trigger, which awaits :meth:`Waiter.next_reading`, and uses
:func:`.reading.judge` (the same rules the trigger applies) to know when the poller may stop reading it.
It knows nothing of the poller: the poller tells it when the account's budget allows the next read
(:attr:`Waiter.budget_wait`), for log messages.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field

from airflow_provider_oktopost._core import clock
from airflow_provider_oktopost.models import Integration
from airflow_provider_oktopost.triggers._reading import WAKE, Reading, Verdict, _Wake, judge


@dataclass(eq=False)
class Waiter:
    """One trigger waiting for one integration; what the poller knows about it."""

    integration_id: str
    target_status: str | None
    target_state: str | None
    poll_interval: float
    end_time: float | None
    #: Learned from the first reading; lets the poller filter a listing by type.
    type: str | None = None
    #: Wall time by which the waiter must be read again (``-inf``: never read yet).
    next_due: float = -math.inf
    #: The poller will not read it again (final reading delivered, or deadline passed).
    done: bool = False
    reads: int = 0
    #: Seconds until the account's shared budget allows the next read, as the poller last learned it.
    budget_wait: float = 0.0
    _inbox: asyncio.Queue[Reading] = field(default_factory=asyncio.Queue)

    def deliver(self, reading: Reading) -> None:
        """Hand a reading (an integration or an error) to the waiting trigger, once it is final or due."""
        if self.done:
            return
        self.reads += 1
        if isinstance(reading, Integration) and reading.type:
            self.type = reading.type
        self.next_due = clock.wall() + self.poll_interval
        self.done = judge(reading, self.target_status, self.target_state) is not Verdict.WAIT
        self._inbox.put_nowait(reading)

    async def next_reading(self) -> Reading:
        """The next reading: an integration, the error a read ran into, or :data:`.WAKE`."""
        return await self._inbox.get()

    def retry_in(self) -> float:
        """Roughly when the next reading comes (for log messages)."""
        wait = max(self.poll_interval, self.budget_wait)
        if self.end_time is not None:
            wait = min(wait, self.end_time - clock.wall())
        return max(wait, 0.0)


__all__ = ["WAKE", "Waiter", "_Wake"]

"""What the account poller knows about one waiting trigger, and how a reading reaches it.

Split from :mod:`.poller`: a :class:`Waiter` applies the single trigger's rules to each reading (a match,
a permanent refusal or an unexpected error ends the wait; a transient error does not) and queues it for the
trigger, which awaits :meth:`Waiter.next_reading`.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from airflow_provider_oktopost.core import clock
from airflow_provider_oktopost.exceptions import TRANSIENT_ERRORS
from airflow_provider_oktopost.models import Integration

if TYPE_CHECKING:
    from airflow_provider_oktopost.triggers.poller import AccountPoller


class _Wake:
    """A reading that is no reading: the waiter's deadline has passed, it should look at the clock."""


WAKE: Final = _Wake()
Reading = Integration | BaseException | _Wake


@dataclass(eq=False)
class Waiter:
    """One trigger waiting for one integration; what the poller knows about it."""

    integration_id: str
    target_status: str | None
    target_state: str | None
    poll_interval: float
    end_time: float | None
    poller: AccountPoller
    #: Learned from the first reading; lets the poller filter a listing by type.
    type: str | None = None
    #: Wall time by which the waiter must be read again (``-inf``: never read yet).
    next_due: float = -math.inf
    #: The poller will not read it again (final reading delivered, or deadline passed).
    done: bool = False
    reads: int = 0
    _inbox: asyncio.Queue[Reading] = field(default_factory=asyncio.Queue)

    def is_final(self, reading: Reading) -> bool:
        """The single trigger's rules: a match, a permanent refusal or an unexpected error ends the wait."""
        if isinstance(reading, Integration):
            return reading.matches(self.target_status, self.target_state)
        return not isinstance(reading, TRANSIENT_ERRORS)

    def deliver(self, reading: Reading) -> None:
        """Hand a reading (an integration or an error) to the waiting trigger, once it is final or due."""
        if self.done:
            return
        self.reads += 1
        if isinstance(reading, Integration) and reading.type:
            self.type = reading.type
        self.next_due = clock.wall() + self.poll_interval
        self.done = isinstance(reading, _Wake) or self.is_final(reading)
        self._inbox.put_nowait(reading)

    async def next_reading(self) -> Integration | None:
        """The next reading; ``None`` when woken at the deadline. Raises the error a read ran into."""
        reading = await self._inbox.get()
        if isinstance(reading, _Wake):
            return None
        if isinstance(reading, BaseException):
            raise reading
        return reading

    def retry_in(self) -> float:
        """Roughly when the next reading comes (for log messages)."""
        wait = max(self.poll_interval, self.poller.paused_for())
        if self.end_time is not None:
            wait = min(wait, self.end_time - clock.wall())
        return max(wait, 0.0)

"""What the account poller knows about one subscriber to complete listings (an integration watcher).

Split from :mod:`.poller`, like :mod:`.waiter`: the poller decides when to list and reads the pages; a
:class:`Listener` receives each complete listing (or the error that cut it short) and queues it for its
trigger, which awaits :meth:`Listener.next_listing`.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field

from airflow_provider_oktopost._core import clock
from airflow_provider_oktopost.models import Integration


@dataclass(eq=False)
class Listener:
    """A subscriber to complete listings of an account (``integration_type``: only that type), e.g. a watcher.

    Every ``poll_interval`` the poller reads every page of the listing once for all due listeners (and hands
    each item to the waiters too, so a wait covered by the listing costs no call of its own), then delivers
    the complete list, or the error that stopped it, to each listener.
    """

    integration_type: str | None
    poll_interval: float
    next_due: float = -math.inf
    _inbox: asyncio.Queue[list[Integration] | BaseException] = field(default_factory=asyncio.Queue)

    def deliver(self, listing: list[Integration] | BaseException) -> None:
        """Hand one complete listing (or the error that ended the cycle) to the subscriber."""
        self.next_due = clock.wall() + self.poll_interval
        if isinstance(listing, list) and self.integration_type is not None:
            listing = [item for item in listing if item.type == self.integration_type]
        self._inbox.put_nowait(listing)

    async def next_listing(self) -> list[Integration]:
        """The next complete listing; raises the error the listing ran into."""
        listing = await self._inbox.get()
        if isinstance(listing, BaseException):
            raise listing
        return listing


__all__ = ["Listener"]

"""How an account poller reads the listing: for its listeners, and for its waiters while it is cheaper.

Split from :mod:`.poller`, like :mod:`.waiter` and :mod:`.listener`: the poller decides *when* a cycle runs
and what is due; a :class:`Lister` pages through ``GET /v2/integration`` and hands each item to whoever waits
for it (the poller's ``dispatch``), and remembers what the pages taught it:

- ``totals``: the ``Total`` of the last listing per type filter (``None``: unfiltered), which prices the
  next listing against individual reads (``ceil(Total / 100)`` calls against one per unread integration);
- ``listing_refused``: a permanent refusal of the listing (the key may read integrations but not list
  them): from then on waiters are read one by one.

Pages are handed out in slices of :data:`DISPATCH_BATCH` readings so that a page of 100 does not hold the
triggerer's event loop in one burst.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from airflow_provider_oktopost._core.operations import FULL_PAGE, next_page
from airflow_provider_oktopost.exceptions import PERMANENT_ERRORS, TRANSIENT_ERRORS, OktopostAuthError
from airflow_provider_oktopost.models import Integration

if TYPE_CHECKING:
    from airflow_provider_oktopost.hooks.oktopost_async import OktopostAsyncClient
    from airflow_provider_oktopost.triggers._listener import Listener
    from airflow_provider_oktopost.triggers._reading import Reading
    from airflow_provider_oktopost.triggers._waiter import Waiter

log = logging.getLogger("airflow_provider_oktopost.poller")

#: Readings handed out per event-loop slice, so that a page of 100 does not hold the loop in one burst.
DISPATCH_BATCH = 10


class Lister:
    """Reads the account's listing for one poller.

    ``dispatch(integration_id, reading)`` hands a reading to the waiters of that integration;
    ``refused(error)`` notes a rate limit and is True when nothing was sent (the budget refused the call).
    """

    def __init__(
        self,
        dispatch: Callable[[str, Reading], None],
        refused: Callable[[BaseException], bool],
    ) -> None:
        self._dispatch = dispatch
        self._refused = refused
        #: ``Total`` of the last listing, per type filter (``None``: unfiltered).
        self.totals: dict[str | None, int] = {}
        self.listing_refused = False
        #: Listing calls made (the poller adds its individual reads).
        self.calls = 0

    async def for_listeners(self, client: OktopostAsyncClient, listeners: list[Listener]) -> set[str]:
        """Read every page once for the due listeners; returns the Ids seen (their waiters are served)."""
        types = {x.integration_type for x in listeners}
        list_type = types.pop() if len(types) == 1 else None
        items: list[Integration] = []
        page_no: int | None = 0
        max_total = 0
        try:
            while page_no is not None:
                self.calls += 1
                page = await client.list_integrations(list_type, page_no, FULL_PAGE)
                max_total = max(max_total, page.total)
                self.totals[list_type] = page.total
                for n, item in enumerate(page.items, 1):
                    items.append(item)
                    self._dispatch(item.id, item)
                    if n % DISPATCH_BATCH == 0:
                        await asyncio.sleep(0)
                page_no = next_page(page, max_total)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # an incomplete listing is no listing: each listener gets the error
            if self._refused(error) and not items:
                return set()  # nothing was sent: the listeners stay due
            for listener in listeners:
                listener.deliver(error)
            return {item.id for item in items}
        complete = list({item.id: item for item in items}.values())
        for listener in listeners:
            listener.deliver(complete)
        return {item.id for item in complete}

    async def for_waiters(
        self, client: OktopostAsyncClient, due: list[Waiter], wanted: list[str]
    ) -> list[str]:
        """Page through the listing while it is cheaper than individual reads; returns what is left."""
        if self.listing_refused:
            return wanted
        list_type = _list_type(due)
        remaining = dict.fromkeys(wanted)
        known_total = self.totals.get(list_type)
        max_total = 0
        page_no: int | None = 0
        complete = False
        while remaining and page_no is not None:
            total = max(max_total, known_total or 0)
            pages_left = 1 if known_total is None and page_no == 0 else math.ceil(total / FULL_PAGE) - page_no
            if pages_left >= len(remaining):
                break
            self.calls += 1
            try:
                page = await client.list_integrations(list_type, page_no, FULL_PAGE)
            except asyncio.CancelledError:
                raise
            except OktopostAuthError as error:  # the key itself is refused: a read would be refused too
                for integration_id in remaining:
                    self._dispatch(integration_id, error)
                return []
            except PERMANENT_ERRORS as error:
                log.warning("Listing integrations failed (%s); reading them one by one", error)
                self.listing_refused = True
                return list(remaining)
            except TRANSIENT_ERRORS as error:
                if self._refused(error):
                    return []  # nothing was sent: the waiters stay due and are read when the budget allows
                for integration_id in remaining:
                    self._dispatch(integration_id, error)
                return []
            max_total = max(max_total, page.total)
            self.totals[list_type] = page.total
            known_total = page.total
            for n, item in enumerate(page.items, 1):
                remaining.pop(item.id, None)
                self._dispatch(item.id, item)
                if n % DISPATCH_BATCH == 0:
                    await asyncio.sleep(0)  # let the woken triggers (and everything else) run in slices
            page_no = next_page(page, max_total)
            complete = page_no is None
        if complete and remaining:
            log.info("%d integration(s) missing from the listing; reading them one by one", len(remaining))
        return list(remaining)


def _list_type(due: list[Waiter]) -> str | None:
    """The type filter for a listing: the due waiters' one type, or ``None`` (list every type)."""
    types = {w.type for w in due}
    if len(types) == 1:
        (only,) = types
        return only
    return None


__all__ = ["DISPATCH_BATCH", "Lister"]

"""One coalesced poller per Oktopost account in a triggerer process.

Every :class:`~airflow_provider_oktopost.triggers.oktopost.OktopostIntegrationTrigger` running on the same
event loop with the same connection (API host, Account ID and key) and the same request settings (timeout,
retries, proxy, TLS verification: a trigger with other settings gets a poller of its own, so every request
is sent with the settings of the trigger it is for) joins one :class:`AccountPoller` as a
:class:`.Waiter`. The poller reads the status of every waited-for integration at the lowest call cost and
hands each waiter its reading; the trigger applies the same rules as before (success on a match, an error
event on a permanent refusal, keep waiting on a transient one, timeout at its own absolute deadline).

Strategy, decided per cycle and re-decided after every page:

- the *due* waiters are those that would be overdue before the next cycle (``next_due < now + cadence``,
  where ``cadence`` is the smallest ``poll_interval`` of the waiters), so a waiter with a longer interval
  than the others is not read more often than it asks for, and never less often;
- a listing (``GET /v2/integration?_count=100``, with ``type=`` when every due waiter's integration is
  known to be of one type) costs ``ceil(Total / 100)`` calls, individual reads cost one call per distinct
  due integration; the poller lists only while the pages still to fetch are fewer than the integrations
  still unread (``Total`` is learned from a previous listing; unknown, a listing is assumed to cost one
  page), and stops listing as soon as every due integration was seen;
- an integration missing from a *complete* listing is confirmed with an individual read (a 404 then fails
  that waiter only).

Budget: every request takes its turn from the account's budget, shared by every process of the deployment
(:mod:`airflow_provider_oktopost._core.budget`, asked through :mod:`._poll_budget`). The poller has no pause
of its own: before a cycle it asks the budget when the next call may go (:meth:`AccountPoller.budget_wait`)
and sleeps until then, so a block recorded after a 429
(by this poller, a task, another triggerer or another tool's burst) holds every read back. When the day's
calls run low the budget's :meth:`~.AccountBudget.polling_pace` spaces the cycles out.
Sleeps are always cut at the earliest waiter deadline, so timeouts fire on time during a block.

Listeners (:mod:`._listener`, the integration watchers) subscribe to complete listings instead: when one is
due, the poller reads every page once for all of them and hands each item to the waiters as well. The
listing itself (paging, pricing a listing against individual reads) lives in :mod:`._listing`.

One shared ``httpx`` pool per poller, closed when the poller stops, i.e. when the last waiter leaves. An
unexpected exception in a cycle is logged and the poller backs off and continues; if the poller task ends
for any other reason while waiters are still active, each of them gets the error instead of hanging.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from airflow_provider_oktopost._core import clock, observe
from airflow_provider_oktopost.triggers._listener import Listener
from airflow_provider_oktopost.triggers._listing import Lister
from airflow_provider_oktopost.triggers._poll_budget import PollBudget
from airflow_provider_oktopost.triggers._reading import WAKE, Reading
from airflow_provider_oktopost.triggers._waiter import Waiter

if TYPE_CHECKING:
    import httpx

    from airflow_provider_oktopost._core.budget.account import AccountBudget
    from airflow_provider_oktopost._core.config import ClientConfig
    from airflow_provider_oktopost.hooks.oktopost_async import OktopostAsyncClient

log = logging.getLogger("airflow_provider_oktopost.poller")

#: The longest back-off after a cycle failed unexpectedly.
MAX_BACKOFF = 60.0
#: A new poller's first cycle waits until no trigger joined for GATHER_QUIET s (at most GATHER_MAX s).
GATHER_QUIET = 0.01
GATHER_MAX = 0.2


#: One poller per event loop, API base URL, account, and digest of the API key and request settings.
PollerKey = tuple[asyncio.AbstractEventLoop, str, str, str]
_pollers: dict[PollerKey, AccountPoller] = {}


def _key(config: ClientConfig) -> PollerKey:
    # The key's digest, not the key: two connections of one account with different keys must not share a
    # pool (one of them may be wrong), though they share the account's call budget. The settings that
    # change a request (timeout, retries, proxy, TLS verification) are in the digest too: triggers whose
    # settings differ get pollers of their own, each sending with its own (the budget is still shared).
    settings = repr((config.timeout, config.retry, config.proxy, config.verify))
    digest = hashlib.sha256(f"{config.api_key}\0{settings}".encode()).hexdigest()
    return (asyncio.get_running_loop(), config.base_url, config.account_id, digest)


def _polling_client(config: ClientConfig) -> OktopostAsyncClient:
    """The poller's client (built in a worker thread); it stops at polling's daily share."""
    from airflow_provider_oktopost.hooks.oktopost_async import OktopostAsyncClient

    return OktopostAsyncClient(config, polling=True)


def active_pollers() -> list[AccountPoller]:
    """The pollers of the running event loop (tests, benchmarks)."""
    loop = asyncio.get_running_loop()
    return [poller for key, poller in _pollers.items() if key[0] is loop]


@contextlib.asynccontextmanager
async def join(
    config: ClientConfig,
    integration_id: str,
    *,
    target_status: str | None,
    target_state: str | None,
    poll_interval: float,
    end_time: float | None,
) -> AsyncIterator[Waiter]:
    """Wait for ``integration_id`` through the account's poller; leaving the block leaves the poller."""
    key = _key(config)
    poller = _pollers.get(key)
    if poller is None:
        poller = _pollers[key] = AccountPoller(config, key)
    waiter = Waiter(integration_id, target_status, target_state, float(poll_interval), end_time)
    poller.add(waiter)
    try:
        yield waiter
    finally:
        await poller.remove(waiter)


# -- listing subscriptions (the integration watchers) ------------------------------------------------


@contextlib.asynccontextmanager
async def listen(
    config: ClientConfig, *, integration_type: str | None, poll_interval: float
) -> AsyncIterator[Listener]:
    """Receive the account's complete listings through its poller; leaving the block unsubscribes."""
    key = _key(config)
    poller = _pollers.get(key)
    if poller is None:
        poller = _pollers[key] = AccountPoller(config, key)
    listener = Listener(integration_type, float(poll_interval))
    poller.add_listener(listener)
    try:
        yield listener
    finally:
        await poller.remove_listener(listener)


class AccountPoller:
    """Reads the integrations its waiters wait for, one cycle per ``cadence``; see the module docs."""

    def __init__(self, config: ClientConfig, key: PollerKey) -> None:
        self.config = config
        self._key = key
        self.waiters: list[Waiter] = []
        self._by_id: dict[str, list[Waiter]] = {}
        self._client: OktopostAsyncClient | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        #: When the account's shared call budget lets the next read go.
        self._gate = PollBudget(config)
        self._calls_before_cycle = 0
        self._wake_at = math.inf
        #: Pages through the listing for listeners and (while cheaper than reads) for waiters.
        self.lister = Lister(self._dispatch, self._refused)
        self.cycles = 0
        self._reads = 0
        self.stopped = False
        self.listeners: list[Listener] = []

    @property
    def budget(self) -> AccountBudget:
        """The account's call budget, shared with every process of the deployment."""
        return self._gate.budget

    @property
    def account_id(self) -> str:
        """The account this poller reads for."""
        return self.config.account_id

    # -- membership ---------------------------------------------------------------------------------

    @property
    def calls(self) -> int:
        """Calls this poller made: listing pages and individual reads."""
        return self.lister.calls + self._reads

    @property
    def http_client(self) -> httpx.AsyncClient | None:
        """The shared pool (``None`` before the first request)."""
        return None if self._client is None else self._client._transport.client

    def active(self) -> list[Waiter]:
        """The waiters still waiting."""
        return [w for w in self.waiters if not w.done]

    def add(self, waiter: Waiter) -> None:
        """Start reading for ``waiter``; starts the poll loop on first use."""
        self.waiters.append(waiter)
        self._by_id.setdefault(waiter.integration_id, []).append(waiter)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"oktopost-poller-{self.config.account_id}"
            )
        elif clock.wall() + waiter.poll_interval < self._wake_at:
            self._wake.set()  # the new waiter wants reading sooner than the poller planned to wake

    async def remove(self, waiter: Waiter) -> None:
        """Stop reading for ``waiter``; the last one out stops the poller and closes its pool."""
        with contextlib.suppress(ValueError):
            self.waiters.remove(waiter)
        same = self._by_id.get(waiter.integration_id, [])
        with contextlib.suppress(ValueError):
            same.remove(waiter)
        if not same:
            self._by_id.pop(waiter.integration_id, None)
        waiter.done = True
        if not self.active() and not self.listeners:
            await self.stop()

    def add_listener(self, listener: Listener) -> None:
        """Subscribe ``listener`` to complete listings; starts the poll loop on first use."""
        self.listeners.append(listener)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"oktopost-poller-{self.config.account_id}"
            )
        else:
            self._wake.set()  # a new watcher wants its first listing now

    async def remove_listener(self, listener: Listener) -> None:
        """Unsubscribe ``listener``; the last waiter or listener out stops the poller."""
        with contextlib.suppress(ValueError):
            self.listeners.remove(listener)
        if not self.active() and not self.listeners:
            await self.stop()

    async def stop(self) -> None:
        """Leave the registry at once (a new waiter gets a new poller), end the task, close the pool."""
        if _pollers.get(self._key) is self:
            del _pollers[self._key]
        self.stopped = True
        task = self._task
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            await asyncio.wait({task})
        await self._close()

    async def _close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    # -- the loop -------------------------------------------------------------------------------------

    def budget_wait(self) -> float:
        """Seconds until the account's budget lets the next read go (0: now), as last learned."""
        return self._gate.wait()

    def _refused(self, error: BaseException) -> bool:
        """Note a rate limit (a 429, or the budget's refusal to send); True when nothing was sent."""
        return self._gate.refused(error, self.active())

    def cadence(self) -> float:
        """Seconds between cycles: the shortest ``poll_interval`` among active waiters and listeners."""
        intervals = [w.poll_interval for w in self.active()] + [x.poll_interval for x in self.listeners]
        return min(intervals, default=60.0)

    def _next_wait(self, failures: int) -> float:
        now = clock.wall()
        active = self.active()
        # Every cadence, or sooner when a waiter falls due sooner (e.g. the fast waiters just left). A waiter
        # that joined since the last cycle waits for the next one (at most its own poll_interval, see add()),
        # so triggers arriving one by one do not each cause a cycle of their own.
        wait = min([self.cadence()] + [w.next_due - now for w in active if w.reads])
        wait = min([wait] + [x.next_due - now for x in self.listeners])
        if failures:
            wait = max(wait, min(MAX_BACKOFF, 2.0**failures))
        wait = max(wait, self._gate.free_at - now)
        pace = self.budget.polling_pace()  # the day's calls run low: spread what is left until midnight
        if pace > 0:
            wait = max(wait, pace * max(1, self.calls - self._calls_before_cycle))
        deadlines = [w.end_time for w in active if w.end_time is not None]
        if deadlines:
            wait = min(wait, min(deadlines) - now)
        return max(wait, 0.0)

    async def _sleep(self, seconds: float) -> None:
        self._wake.clear()
        self._wake_at = clock.wall() + seconds
        sleeper = asyncio.ensure_future(clock.async_sleep(seconds))
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for future in (sleeper, waker):
                future.cancel()
            self._wake_at = math.inf

    async def _gather(self) -> None:
        """Let triggers that start together (a triggerer picking up a batch) join before the first cycle.

        Event-loop time, not the provider clock: this is about scheduling, it waits at most
        ``GATHER_MAX`` seconds and returns as soon as no waiter joined for ``GATHER_QUIET`` seconds.
        """
        loop = asyncio.get_running_loop()
        give_up = loop.time() + GATHER_MAX
        joined = -1
        while len(self.waiters) != joined and loop.time() < give_up:
            joined = len(self.waiters)
            await asyncio.sleep(GATHER_QUIET)

    async def _run(self) -> None:
        failures = 0
        reason: BaseException | None = None
        try:
            await self._gather()
            while self.active() or self.listeners:
                try:
                    async with observe.poll_cycle(self):
                        await self._cycle()
                    failures = 0
                except Exception:
                    failures += 1
                    log.exception("Oktopost poller for account %s: cycle failed", self.config.account_id)
                if not self.active() and not self.listeners:
                    break
                await self._sleep(self._next_wait(failures))
        except BaseException as error:
            reason = error
            raise
        finally:
            if _pollers.get(self._key) is self:
                del _pollers[self._key]
            self.stopped = True
            await self._close()
            if not isinstance(reason, asyncio.CancelledError) or self.active() or self.listeners:
                stopped = RuntimeError(
                    f"The Oktopost poller of account {self.config.account_id} stopped"
                    + (f": {type(reason).__name__}: {reason}" if reason is not None else "")
                )
                for waiter in self.active():
                    waiter.deliver(stopped)
                for listener in self.listeners:
                    listener.deliver(stopped)

    def _due(self) -> list[Waiter]:
        now = clock.wall()
        cadence = self.cadence()
        due = []
        for waiter in self.active():
            if waiter.end_time is not None and now >= waiter.end_time:
                waiter.deliver(WAKE)  # the trigger times out; no read is spent on it
            elif waiter.next_due < now + cadence:
                due.append(waiter)
        return due

    async def _cycle(self) -> None:
        due = self._due()
        listeners = [x for x in self.listeners if x.next_due < clock.wall() + self.cadence()]
        if (not due and not listeners) or await self._gate.ask(self.active()) > 0:
            return
        self.cycles += 1
        self._calls_before_cycle = self.calls
        if self._client is None:
            # In a thread: the import and the httpx pool's TLS set-up held the event loop for tens of ms.
            self._client = await asyncio.to_thread(_polling_client, self.config)
        if listeners:
            seen = await self.lister.for_listeners(self._client, listeners)
            due = [w for w in due if w.integration_id not in seen and not w.done]
            if not due or self.budget_wait() > 0:
                return
        wanted = list(dict.fromkeys(w.integration_id for w in due))
        unread = await self.lister.for_waiters(self._client, due, wanted)
        for integration_id in unread:
            if self.budget_wait() > 0:
                return  # the rest stay due; they are read when the budget allows
            await self._get(integration_id)

    async def _get(self, integration_id: str) -> None:
        assert self._client is not None
        self._reads += 1
        reading: Reading
        try:
            reading = await self._client.get_integration(integration_id)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # each waiter's own verdict, never the others'
            if self._refused(error):
                return  # nothing was sent: the waiters stay due and are read when the budget allows
            reading = error
        self._dispatch(integration_id, reading)

    def _dispatch(self, integration_id: str, reading: Reading) -> None:
        for waiter in self._by_id.get(integration_id, ()):
            if not waiter.done:
                waiter.deliver(reading)


__all__ = ["WAKE", "AccountPoller", "Listener", "Waiter", "active_pollers", "join", "listen"]

"""The call budget of an Oktopost account, shared by every process of the deployment.

Oktopost allows a key 60 calls a minute and 20,000 a day, and blocks the key for about 15 minutes after a
burst, for every tool of the customer's account. Airflow is a fleet of processes (every task try, every
triggerer, the API server), so the budget lives in a *store* they all reach:

- ``local`` (default, zero set-up): a SQLite file on this machine's disk (:mod:`.budget.local_disk`),
  shared by every process of the machine;
- a Redis-compatible server (``budget_store = "redis://..."``, :mod:`.budget.redis_server`), shared by every
  machine, on the server's clock;
- ``memory``: this process only (:mod:`.budget.memory`), the behaviour before the budget was shared.

Every call *reserves* a slot (:meth:`AccountBudget.reserve`) and is told how long to wait for it; a wait
longer than the caller's bound is not reserved, so the caller can defer instead of holding a worker. A 429,
whoever caused it, is recorded as a block that no process sends through (:meth:`AccountBudget.block`).

A store that cannot be reached never fails a task: the budget warns loudly and falls back to this process's
own memory until the store answers again.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from airflow_provider_oktopost import observe
from airflow_provider_oktopost.core import clock
from airflow_provider_oktopost.core.budget.memory import MemoryStore
from airflow_provider_oktopost.core.budget.rules import DAY, Grant
from airflow_provider_oktopost.core.budget.settings import BudgetSettings
from airflow_provider_oktopost.core.budget.snapshot import AccountState

log = logging.getLogger("airflow_provider_oktopost.budget")
HOUR = 3600.0

#: Below the documented 60 calls/minute, leaving room for other clients of the same key.
DEFAULT_PER_MINUTE = 50
#: After a store failed, this process uses its own budget for this long before it asks the store again.
RETRY_STORE_AFTER = 30.0


class Store(Protocol):
    """What a budget store does; every method is atomic across the processes that share the store."""

    shared_across_processes: bool
    blocking: bool

    def reserve(self, key: str, *, limit: int, window: float, day_limit: int, max_wait: float) -> Grant:
        """Take the account's next slot if it comes within ``max_wait`` seconds (see ``budget.rules``)."""
        ...

    def block(self, key: str, seconds: float) -> None:
        """Record that the account is refused for ``seconds`` from now."""
        ...

    def get_listing(self, key: str, max_age: float) -> dict[str, str] | None:
        """A shared listing no older than ``max_age`` seconds, or None."""
        ...

    def put_listing(self, key: str, items: dict[str, str]) -> None:
        """Replace a shared listing, dated now."""
        ...

    def add_to_listing(self, key: str, integration_id: str, cname_id: str) -> None:
        """Add one entry to a shared listing, if there is one."""
        ...

    def forget_listings(self, prefix: str) -> None:
        """Drop every shared listing whose key starts with ``prefix``."""
        ...

    def clear(self) -> None:
        """Forget everything (tests)."""
        ...

    def note_account(self, key: str, fields: dict[str, str]) -> None:
        """Index the account and set non-secret notes about it (see ``budget.snapshot``)."""
        ...

    def account_states(self, window: float, keys: list[str] | None = None) -> list[AccountState]:
        """A read-only picture of every known account, or of ``keys`` (see ``budget.snapshot``)."""
        ...


@dataclass(frozen=True)
class StoreStep:
    """An instruction to the driver: run this budget-store action and send its result back.

    ``blocking`` actions (disk or network) run in a worker thread on the event loop; the in-memory store
    answers inline.
    """

    run: Callable[[], Grant | dict[str, str] | None]
    blocking: bool


class AccountBudget:
    """The budget of one account (API host + Account ID) in one store, with the per-process fallback."""

    def __init__(self, key: str, store: Store, settings: BudgetSettings, per_minute: int) -> None:
        if per_minute < 1:
            raise ValueError(f"rate_limit_per_minute must be >= 1, got {per_minute}")
        self.key = key
        self.store = store
        self.settings = settings
        self.per_minute = per_minute
        self.fallback = MemoryStore()
        self._store_down_until = 0.0
        self._lock = threading.Lock()
        #: The last answer this process got (the poller paces itself on its ``day_used``).
        self.last_grant: Grant | None = None

    def __repr__(self) -> str:
        return f"AccountBudget({self.key!r}, {self.store!r}, per_minute={self.per_minute})"

    @property
    def shared(self) -> bool:
        """True when the budget is shared with other processes right now (not fallen back)."""
        return self.store.shared_across_processes and clock.wall() >= self._store_down_until

    def _use(self) -> Store:
        return self.store if clock.wall() >= self._store_down_until else self.fallback

    def _failed(self, error: BaseException) -> None:
        with self._lock:
            first = clock.wall() >= self._store_down_until
            self._store_down_until = clock.wall() + RETRY_STORE_AFTER
        if first:
            log.warning(
                "The Oktopost call budget store %r cannot be reached (%s: %s). This process now keeps its "
                "own budget, which does NOT protect the account from the other processes of the deployment; "
                "it asks the store again in %.0fs.",
                self.store,
                type(error).__name__,
                error,
                RETRY_STORE_AFTER,
            )

    @property
    def polling_day_limit(self) -> int:
        """Calls a day polling may bring the account to: the daily limit less the share for other tools."""
        return max(1, math.floor(self.settings.daily_limit * (1 - self.settings.share_for_other_tools)))

    def reserve(self, max_wait: float, *, polling: bool = False) -> Grant:
        """Take a slot for one call if it comes within ``max_wait`` seconds (``-1``: only look).

        A ``polling`` call (the triggerer's poller) counts against :attr:`polling_day_limit` instead of the
        daily limit, inside the store's atomic update: once the account's calls of the day reach it, the
        next polling slot is after midnight UTC, whichever process polls, so the share kept for the
        account's other tools is never used by polling (operators' own calls may still use it).
        """
        day_limit = self.polling_day_limit if polling else self.settings.daily_limit
        store = self._use()
        grant: Grant | None = None
        if store is not self.fallback:
            try:
                grant = store.reserve(
                    self.key,
                    limit=self.per_minute,
                    window=self.settings.window,
                    day_limit=day_limit,
                    max_wait=max_wait,
                )
            except Exception as error:
                self._failed(error)
        if grant is None:
            local = self.fallback.reserve(
                self.key,
                limit=self.per_minute,
                window=self.settings.window,
                day_limit=day_limit,
                max_wait=max_wait,
            )
            grant = Grant(local.wait, local.granted, local.day_used, local.blocked_for, shared=False)
        self.last_grant = grant
        observe.reserved(self, grant, polling=polling)
        return grant

    def block(self, seconds: float) -> None:
        """Record that the account is refused for ``seconds`` (after a 429), for every process."""
        log.warning(
            "Oktopost refused account budget %s with 429: no call is sent for %.0fs", self.key, seconds
        )
        self.fallback.block(self.key, seconds)  # this process holds back even if the store is down
        store = self._use()
        if store is not self.fallback:
            try:
                store.block(self.key, seconds)
            except Exception as error:
                self._failed(error)
        observe.blocked(self, seconds)

    def polling_pace(self) -> float:
        """Seconds per call that keeps polling inside the day's calls left for it (0 while plenty).

        Polling may use the day's limit less ``share_for_other_tools``. While more of that is left than an
        hour of calls at the full per-minute rate would use, polling runs at the minute's pace: a burst of
        waits (an onboarding) is not slowed down because the day is young. Below that, the calls left *run
        low* and the pace spreads them over the time left until midnight UTC instead of exhausting them.
        """
        grant = self.last_grant
        if grant is None:
            return 0.0
        left = self.polling_day_limit - grant.day_used
        until_midnight = DAY - clock.wall() % DAY
        if left <= 0:
            return until_midnight
        if left >= self.per_minute * HOUR / self.settings.window:
            return 0.0
        pace = until_midnight / left
        return pace if pace > self.settings.window / self.per_minute else 0.0

    # -- the same, as steps for the sans-IO operations ----------------------------------------------

    def reserve_step(self, max_wait: float, *, polling: bool = False) -> StoreStep:
        """The sans-IO form of :meth:`reserve` (its answer is a :class:`.Grant`)."""
        return StoreStep(lambda: self.reserve(max_wait, polling=polling), self._use().blocking)

    def block_step(self, seconds: float) -> StoreStep:
        """The sans-IO form of :meth:`block`."""
        return StoreStep(lambda: self.block(seconds), self._use().blocking)

    # -- shared listings (connect's look for an existing integration) ---------------------------------

    def _listing_call(self, action: Callable[[Store], dict[str, str] | None]) -> dict[str, str] | None:
        store = self._use()
        if store is not self.fallback:
            try:
                return action(store)
            except Exception as error:
                self._failed(error)
        return action(self.fallback)

    def get_listing(self, type: str) -> dict[str, str] | None:
        """The shared listing of ``type`` (integration Id -> CNAME Id), if one is fresh enough."""
        ttl = self.settings.listing_ttl
        return self._listing_call(lambda store: store.get_listing(f"{self.key}:{type}", ttl))

    def put_listing(self, type: str, items: dict[str, str]) -> None:
        """Share a listing of ``type`` just taken."""
        self._listing_call(lambda store: store.put_listing(f"{self.key}:{type}", items))

    def add_to_listing(self, type: str, integration_id: str, cname_id: str) -> None:
        """Add an integration just created to the shared listing of ``type``."""
        self._listing_call(lambda store: store.add_to_listing(f"{self.key}:{type}", integration_id, cname_id))

    def forget_listings(self) -> None:
        """Drop the account's shared listings (after a delete or a CNAME change)."""
        self._listing_call(lambda store: store.forget_listings(f"{self.key}:"))
        self.fallback.forget_listings(f"{self.key}:")

    def forget_listings_step(self) -> StoreStep:
        """The sans-IO form of :meth:`forget_listings`."""
        return StoreStep(self.forget_listings, self._use().blocking)

    def listing_step(self, type: str) -> StoreStep:
        """The sans-IO form of :meth:`get_listing`."""
        return StoreStep(lambda: self.get_listing(type), self._use().blocking)

    def put_listing_step(self, type: str, items: dict[str, str]) -> StoreStep:
        """The sans-IO form of :meth:`put_listing`."""
        return StoreStep(lambda: self.put_listing(type, items), self._use().blocking)

    def add_to_listing_step(self, type: str, integration_id: str, cname_id: str) -> StoreStep:
        """The sans-IO form of :meth:`add_to_listing`."""
        return StoreStep(lambda: self.add_to_listing(type, integration_id, cname_id), self._use().blocking)


def account_key(base_url: str, account_id: str) -> str:
    """A short, stable name for an account in a store (a digest: stores never see the key)."""
    return hashlib.sha256(f"{base_url}|{account_id}".encode()).hexdigest()[:24]


_stores: dict[str, Store] = {}
_registry: dict[tuple[str, str], AccountBudget] = {}
_registry_lock = threading.Lock()


def _store_for(settings: BudgetSettings) -> tuple[str, Store]:
    if settings.store == "memory":
        name = "memory"
    elif settings.store == "local":
        name = f"local:{settings.local_directory.resolve()}"
    else:
        name = settings.store
    store = _stores.get(name)
    if store is None:
        if settings.store == "memory":
            store = MemoryStore()
        elif settings.store == "local":
            from airflow_provider_oktopost.core.budget.local_disk import LocalDiskStore

            store = LocalDiskStore(settings.local_directory)
        else:
            from airflow_provider_oktopost.core.budget.redis_server import RedisStore

            store = RedisStore(settings.store)
        _stores[name] = store
    return name, store


def budget_for(
    base_url: str,
    account_id: str,
    per_minute: int = DEFAULT_PER_MINUTE,
    settings: BudgetSettings | None = None,
) -> AccountBudget:
    """The budget of one account on one API host in the configured store (one object per process).

    Every connection to the account shares it; when they ask for different budgets, the smallest wins.
    """
    settings = settings or BudgetSettings()
    with _registry_lock:
        name, store = _store_for(settings)
        key = (name, account_key(base_url, account_id))
        budget = _registry.get(key)
        if budget is None:
            budget = _registry[key] = AccountBudget(key[1], store, settings, per_minute)
            observe.opened(budget, base_url, account_id)
        elif per_minute < budget.per_minute:
            budget.per_minute = per_minute
        return budget


def throttle_for(base_url: str, account_id: str, per_minute: int = DEFAULT_PER_MINUTE) -> AccountBudget:
    """The account's budget with default settings (kept for callers of the 0.1 name)."""
    return budget_for(base_url, account_id, per_minute)


def reset_registry() -> None:
    """Forget every budget of this process and empty the stores it opened (tests)."""
    with _registry_lock:
        for store in _stores.values():
            try:
                store.clear()
            except Exception as error:  # an unreachable store has nothing to clear
                log.debug("Could not clear %r: %s", store, error)
        _registry.clear()
        _stores.clear()

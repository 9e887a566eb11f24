"""The call budget of an Oktopost account, shared by every process of the deployment.

Oktopost allows a key 60 calls a minute and 20,000 a day, and blocks the key for about 15 minutes after a
burst, for every tool of the customer's account. Airflow is a fleet of processes (every task try, every
triggerer, the API server), so the budget lives in a *store* they all reach:

- ``auto`` (default, zero set-up): the deployment's own Redis when the CeleryExecutor's broker is one, else
  the machine-wide file (:mod:`.budget.selection` says which and why, once per process);
- ``local``: a SQLite file on this machine's disk (:mod:`.budget.local_disk`), shared by every process of
  the machine;
- a Redis-compatible server (``budget_store = "redis://..."``, :mod:`.budget.redis_server`), shared by every
  machine, on the server's clock;
- ``memory``: this process only (:mod:`.budget.memory`), the behaviour before the budget was shared.

Every call *reserves* a slot (:meth:`AccountBudget.reserve`) and is told how long to wait for it; a wait
longer than the caller's bound is not reserved, so the caller can defer instead of holding a worker. A 429,
whoever caused it, is recorded as a block that no process sends through (:meth:`AccountBudget.block`).

A store that cannot be reached never fails a task: the budget warns loudly, naming the store and the fix,
and steps down until the store answers again: from Redis to the machine-wide file, and from there to this
process's own memory at a *conservative* pace (:data:`CONSERVATIVE_SHARE` of the rate), never at the
account's full rate. Processes that cannot share any store (an *isolated* choice, e.g. the
KubernetesExecutor with no Redis) use that conservative pace too.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from airflow_provider_oktopost._core import clock, observe
from airflow_provider_oktopost._core.budget.memory import MemoryStore
from airflow_provider_oktopost._core.budget.rules import DAY, Grant
from airflow_provider_oktopost._core.budget.selection import ANNOUNCED, announce, choose
from airflow_provider_oktopost._core.budget.settings import BudgetSettings, scrub
from airflow_provider_oktopost._core.budget.snapshot import AccountState

log = logging.getLogger("airflow_provider_oktopost.budget")
HOUR = 3600.0

#: Below the documented 60 calls/minute, leaving room for other clients of the same key.
DEFAULT_PER_MINUTE = 50
#: After a store failed, this process uses the next one down for this long before it asks the store again.
RETRY_STORE_AFTER = 30.0
#: The share of the rate a process keeps to itself when it cannot share the budget with the others (its
#: store is down, or the deployment has none they all reach): a pace, one call every ``window / (rate x
#: share)`` seconds, never the account's whole rate.
CONSERVATIVE_SHARE = 0.1


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

    def now(self) -> float:
        """The store's clock (epoch seconds): what a listing's read is dated by."""
        ...

    def put_listing(self, key: str, items: dict[str, str], began: float) -> None:
        """Share a listing whose read began at ``began`` (:meth:`now`), keeping what was added since."""
        ...

    def add_to_listing(self, key: str, integration_id: str, cname_id: str) -> None:
        """Add one entry to a shared listing, and to any listing being read now."""
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
    """The budget of one account (API host + Account ID) in one store, with the fallbacks below it.

    :param machine: The machine-wide store to step down to when ``store`` (Redis) cannot be reached.
    :param isolated: The deployment's other processes cannot reach ``store``: pace conservatively.
    """

    def __init__(
        self,
        key: str,
        store: Store,
        settings: BudgetSettings,
        per_minute: int,
        *,
        machine: Store | None = None,
        isolated: bool = False,
    ) -> None:
        if per_minute < 1:
            raise ValueError(f"rate_limit_per_minute must be >= 1, got {per_minute}")
        self.key = key
        self.store = store
        self.settings = settings
        self.per_minute = per_minute
        self.machine = machine
        self.isolated = isolated
        self.fallback = MemoryStore()
        self._down_until: dict[int, float] = {}
        self._lock = threading.Lock()
        #: The last answer this process got (the poller paces itself on its ``day_used``).
        self.last_grant: Grant | None = None

    def __repr__(self) -> str:
        return f"AccountBudget({self.key!r}, {self.store!r}, per_minute={self.per_minute})"

    @property
    def shared(self) -> bool:
        """True when the budget is shared with other processes right now (not fallen back, not isolated)."""
        return not self.isolated and self._use().shared_across_processes

    def _chain(self) -> list[Store]:
        return [self.store] if self.machine is None else [self.store, self.machine]

    def _up(self, store: Store) -> bool:
        return clock.wall() >= self._down_until.get(id(store), 0.0)

    def _use(self) -> Store:
        return next((store for store in self._chain() if self._up(store)), self.fallback)

    def _conservative(self, store: Store) -> bool:
        """Whether ``store`` is only this process's (or this pod's) share of the account."""
        if store is self.fallback:  # only used once every store above it failed
            return True
        return self.isolated and store is self.store

    def _failed(self, store: Store, error: BaseException) -> None:
        from airflow_provider_oktopost.exceptions import OktopostConfigError  # imports Airflow: only here

        if isinstance(error, OktopostConfigError):
            raise error  # a store that can never work (Redis Cluster): refused, not fallen back from
        with self._lock:
            first = self._up(store)
            self._down_until[id(store)] = clock.wall() + RETRY_STORE_AFTER
        if not first:
            return
        below = self.machine if store is self.store and self.machine is not None else None
        if below is not None:
            then = (
                f"This process now uses the machine-wide store {below!r}, which protects the account "
                "from this machine's processes only"
            )
        else:
            then = (
                f"This process now paces itself at {self._pace_per_window()} call(s) per "
                f"{self.settings.window:.0f}s, which does NOT protect the account from the other "
                "processes of the deployment"
            )
        log.warning(
            "The Oktopost call budget store %r cannot be reached (%s: %s). %s; it asks the store again in "
            "%.0fs. Fix: %s",
            store,
            type(error).__name__,
            scrub(str(error), str(getattr(store, "url", ""))),
            then,
            RETRY_STORE_AFTER,
            _fix(store),
        )

    def _pace_per_window(self) -> int:
        return max(1, math.floor(self.per_minute * CONSERVATIVE_SHARE))

    def _reserve_in(self, store: Store, max_wait: float, day_limit: int) -> Grant:
        if self._conservative(store):  # a pace: one call per window / (rate x share), no burst
            return store.reserve(
                self.key,
                limit=1,
                window=self.settings.window / self._pace_per_window(),
                day_limit=day_limit,
                max_wait=max_wait,
            )
        return store.reserve(
            self.key,
            limit=self.per_minute,
            window=self.settings.window,
            day_limit=day_limit,
            max_wait=max_wait,
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
        grant: Grant | None = None
        for store in self._chain():
            if grant is None and store is not self.fallback and self._up(store):
                try:
                    grant = self._reserve_in(store, max_wait, day_limit)
                except Exception as error:
                    self._failed(store, error)
                else:
                    if self.isolated or store is not self.store:
                        grant = Grant(
                            grant.wait, grant.granted, grant.day_used, grant.blocked_for, shared=False
                        )
        if grant is None:
            local = self._reserve_in(self.fallback, max_wait, day_limit)
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
        for store in self._chain():  # every store it may step down to keeps the block too
            if store is not self.fallback and self._up(store):
                try:
                    store.block(self.key, seconds)
                except Exception as error:
                    self._failed(store, error)
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

    def _listing_call(
        self, action: Callable[[Store], dict[str, str] | float | None]
    ) -> dict[str, str] | float | None:
        for store in self._chain():
            if store is not self.fallback and self._up(store):
                try:
                    return action(store)
                except Exception as error:
                    self._failed(store, error)
        return action(self.fallback)

    def listing_began(self) -> dict[str, str]:
        """A mark of when a listing's read begins (the store's clock), to pass to :meth:`put_listing`.

        A dict, so that it travels through the sans-IO steps like the other store answers.
        """
        began = self._listing_call(lambda store: store.now())
        return {"began": repr(float(began) if isinstance(began, (int, float)) else clock.wall())}

    def get_listing(self, type: str) -> dict[str, str] | None:
        """The shared listing of ``type`` (integration Id -> CNAME Id), if one is fresh enough."""
        ttl = self.settings.listing_ttl
        found = self._listing_call(lambda store: store.get_listing(f"{self.key}:{type}", ttl))
        return found if isinstance(found, dict) else None

    def put_listing(self, type: str, items: dict[str, str], mark: object = None) -> None:
        """Share a listing of ``type`` whose read began at ``mark`` (:meth:`listing_began`; None: now).

        The listing is dated by when its read began, and integrations added by a connect that finished
        during the read (:meth:`add_to_listing`) are kept in it: a connect is never dropped from it.
        """
        began = float(mark["began"]) if isinstance(mark, dict) and "began" in mark else None
        self._listing_call(
            lambda store: store.put_listing(
                f"{self.key}:{type}", items, store.now() if began is None else began
            )
        )

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

    def listing_began_step(self) -> StoreStep:
        """The sans-IO form of :meth:`listing_began` (its answer is the mark)."""
        return StoreStep(self.listing_began, self._use().blocking)

    def put_listing_step(self, type: str, items: dict[str, str], mark: object = None) -> StoreStep:
        """The sans-IO form of :meth:`put_listing`."""
        return StoreStep(lambda: self.put_listing(type, items, mark), self._use().blocking)

    def add_to_listing_step(self, type: str, integration_id: str, cname_id: str) -> StoreStep:
        """The sans-IO form of :meth:`add_to_listing`."""
        return StoreStep(lambda: self.add_to_listing(type, integration_id, cname_id), self._use().blocking)


def account_key(base_url: str, account_id: str) -> str:
    """A short, stable name for an account in a store (a digest: stores never see the key)."""
    return hashlib.sha256(f"{base_url}|{account_id}".encode()).hexdigest()[:24]


def _fix(store: Store) -> str:
    """What the user does about a store that failed (its ``fix`` when it has one)."""
    fix = getattr(store, "fix", None)
    return str(fix()) if callable(fix) else "check that the store is reachable from every Airflow process"


_stores: dict[str, Store] = {}
_registry: dict[tuple[str, str], AccountBudget] = {}
_registry_lock = threading.Lock()
#: Local-store directories that tests made for themselves: the only files :func:`reset_registry` empties.
_private_directories: set[str] = set()


def _open(spec: str, settings: BudgetSettings) -> tuple[str, Store]:
    if spec == "memory":
        name = "memory"
    elif spec == "local":
        name = f"local:{settings.local_directory.resolve()}"
    else:
        name = spec
    store = _stores.get(name)
    if store is None:
        if spec == "memory":
            store = MemoryStore()
        elif spec == "local":
            from airflow_provider_oktopost._core.budget.local_disk import LocalDiskStore

            store = LocalDiskStore(settings.local_directory)
        else:
            from airflow_provider_oktopost._core.budget.redis_server import RedisStore

            store = RedisStore(spec)
        _stores[name] = store
    return name, store


def _store_for(settings: BudgetSettings) -> tuple[str, Store]:
    return _open(choose(settings).spec, settings)


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
        choice = choose(settings)
        name, store = _open(choice.spec, settings)
        key = (name, account_key(base_url, account_id))
        budget = _registry.get(key)
        if budget is None:
            machine = None
            if choice.spec not in ("local", "memory"):  # Redis: the machine-wide file is the step below
                machine = _open("local", settings)[1]
            budget = _registry[key] = AccountBudget(
                key[1], store, settings, per_minute, machine=machine, isolated=choice.isolated
            )
            announce(choice, store, budget._pace_per_window(), settings.window)
            observe.opened(budget, base_url, account_id)
        elif per_minute < budget.per_minute:
            budget.per_minute = per_minute
        return budget


def throttle_for(base_url: str, account_id: str, per_minute: int = DEFAULT_PER_MINUTE) -> AccountBudget:
    """The account's budget with default settings (kept for callers of the 0.1 name)."""
    return budget_for(base_url, account_id, per_minute)


def use_private_directory(directory: str) -> None:
    """Mark a local-store directory as a test's own: :func:`reset_registry` may empty it (tests)."""
    _private_directories.add(str(Path(directory).expanduser().resolve()))


def _is_private(name: str) -> bool:
    if name == "memory":
        return True
    if not name.startswith("local:"):
        return False
    directory = Path(name.removeprefix("local:"))
    return any(str(d) in _private_directories for d in (directory, *directory.parents))


def reset_registry() -> None:
    """Forget every budget of this process (tests).

    Empties only what belongs to this process or to the test session: in-memory stores and local stores
    in a directory marked with :func:`use_private_directory`. A store other processes share (Redis, the
    deployment's machine-wide file) is never emptied: a live block recorded there must survive a test run.
    """
    with _registry_lock:
        for name, store in _stores.items():
            if not _is_private(name):
                continue
            try:
                store.clear()
            except Exception as error:  # an unreachable store has nothing to clear
                log.debug("Could not clear %r: %s", store, error)
        _registry.clear()
        _stores.clear()
        ANNOUNCED.clear()

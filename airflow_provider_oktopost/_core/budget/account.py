"""The call budget of one Oktopost account, shared by every process of the deployment.

Oktopost allows a key 60 calls a minute and 20,000 a day, and blocks the key for about 15 minutes after a
burst, for every tool of the customer's account. Airflow is a fleet of processes (every task try, every
triggerer, the API server), so the budget lives in a *store* they all reach (:mod:`.registry` opens the one
configured, :mod:`.selection` says which and why):

- ``auto`` (default, zero set-up): the deployment's own Redis when the CeleryExecutor's broker is one, else
  the machine-wide file;
- ``local``: a SQLite file on this machine's disk (:mod:`.local_disk`), shared by every process of the
  machine;
- a Redis-compatible server (``budget_store = "redis://..."``, :mod:`.redis_server`), shared by every
  machine, on the server's clock;
- ``memory``: this process only (:mod:`.memory`), the behaviour before the budget was shared.

Every call *reserves* a slot (:meth:`AccountBudget.reserve`) and is told how long to wait for it: no span of
a window plus its settings' ``arrival_allowance`` holds more than the rate's slots, so calls that reach
Oktopost up to that much later than planned still fit its sliding minute. A wait longer than the caller's
bound is not reserved, so the caller can defer instead of holding a worker. A 429, whoever caused it, is
recorded as a block that no process sends through (:meth:`AccountBudget.block`). The sans-IO operations ask
the budget through :meth:`AccountBudget.step`, which their driver runs.

A store that cannot be reached never fails a task: the budget warns loudly, naming the store and the fix,
and steps down until the store answers again: from Redis to the machine-wide file, and from there to this
process's own memory at a *conservative* pace (:data:`CONSERVATIVE_SHARE` of the rate), never at the
account's full rate. Processes that cannot share any store (an *isolated* choice, e.g. the
KubernetesExecutor with no Redis) use that conservative pace too.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import threading
from collections.abc import Callable
from typing import ParamSpec

from airflow_provider_oktopost._core import clock
from airflow_provider_oktopost._core.budget import report
from airflow_provider_oktopost._core.budget.memory import MemoryStore
from airflow_provider_oktopost._core.budget.rules import DAY, Grant
from airflow_provider_oktopost._core.budget.settings import BudgetSettings, scrub
from airflow_provider_oktopost._core.budget.store import Store
from airflow_provider_oktopost._core.steps import StoreAnswer, StoreStep

log = logging.getLogger("airflow_provider_oktopost.budget")
HOUR = 3600.0

#: After a store failed, this process uses the next one down for this long before it asks the store again.
RETRY_STORE_AFTER = 30.0
#: The share of the rate a process keeps to itself when it cannot share the budget with the others (its
#: store is down, or the deployment has none they all reach): a pace, one call every ``window / (rate x
#: share)`` seconds, never the account's whole rate.
CONSERVATIVE_SHARE = 0.1
#: The arguments of a budget method made into a step.
P = ParamSpec("P")


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
                f"This process now paces itself at {self.pace_per_window()} call(s) per "
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

    def pace_per_window(self) -> int:
        """Calls per window of the conservative pace (:data:`CONSERVATIVE_SHARE` of the rate, at least 1)."""
        return max(1, math.floor(self.per_minute * CONSERVATIVE_SHARE))

    def _reserve_in(self, store: Store, max_wait: float, day_limit: int) -> Grant:
        if self._conservative(store):  # a pace: one call per window / (rate x share), no burst
            return store.reserve(
                self.key,
                limit=1,
                window=self.settings.window / self.pace_per_window(),
                day_limit=day_limit,
                max_wait=max_wait,
            )
        return store.reserve(
            self.key,
            limit=self.per_minute,
            window=self.settings.window + self.settings.arrival_allowance,
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
        report.reserved(self, grant, polling=polling)
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
        report.blocked(self, seconds)

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

    def step(self, action: Callable[P, StoreAnswer], /, *args: P.args, **kwargs: P.kwargs) -> StoreStep:
        """``action(*args, **kwargs)``, one of this budget's methods, as a step of a sans-IO operation.

        The operation yields it (``grant = yield ctx.budget.step(ctx.budget.reserve, max_wait)``) and the
        driver runs it and sends its answer back: in a worker thread on an event loop when the store in
        use blocks (a file, a server), inline when it does not (this process's memory).
        """
        return StoreStep(functools.partial(action, *args, **kwargs), self._use().blocking)

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


def account_key(base_url: str, account_id: str) -> str:
    """A short, stable name for an account in a store (a digest: stores never see the key)."""
    return hashlib.sha256(f"{base_url}|{account_id}".encode()).hexdigest()[:24]


def _fix(store: Store) -> str:
    """What the user does about a store that failed (its ``fix`` when it has one)."""
    fix = getattr(store, "fix", None)
    return str(fix()) if callable(fix) else "check that the store is reachable from every Airflow process"

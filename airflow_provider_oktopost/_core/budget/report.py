"""What an account's budget tells the people who run Airflow as it works: metrics, store notes, waiting words.

:class:`~.account.AccountBudget` calls :func:`reserved` and :func:`blocked` at the moment it answers, and the
registry calls :func:`opened` when it makes a budget; this module turns that into metrics (:mod:`.metrics`),
into notes in the budget store that the Oktopost page reads (:mod:`.snapshot`), and into the one task-log
line that says which account waits, how long, why, and where to look (:func:`waiting_line`,
:func:`why_waiting`; :mod:`airflow_provider_oktopost._core.observe` uses them for deferrals and the
triggerer's pollers). Nothing here may fail or slow down the caller: every function catches its own errors,
and store writes happen only where the caller already talks to the store (never on an event loop).

It reads a budget through :class:`ReportedBudget`, so that the budget can call it without a circle.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import weakref
from typing import Protocol
from urllib.parse import urlsplit

from airflow_provider_oktopost._core import clock, metrics
from airflow_provider_oktopost._core.budget.rules import DAY, Grant, day_of
from airflow_provider_oktopost._core.budget.settings import BudgetSettings
from airflow_provider_oktopost._core.budget.store import Store

log = logging.getLogger("airflow_provider_oktopost.budget")

#: Holds shorter than this are not worth a log line (they happen all the time near the minute's limit).
LOG_HOLDS_FROM = 1.0
#: Where the Oktopost page is, relative to the API server's base URL.
PAGE_ROUTE = "/plugin/oktopost"


class ReportedBudget(Protocol):
    """What this module reads of a budget (an :class:`~.account.AccountBudget`)."""

    @property
    def key(self) -> str:
        """The account's name in the store."""

    @property
    def store(self) -> Store:
        """The store the budget is kept in."""

    @property
    def settings(self) -> BudgetSettings:
        """How the budget behaves."""

    @property
    def per_minute(self) -> int:
        """Calls per window."""

    @property
    def polling_day_limit(self) -> int:
        """Calls a day polling may bring the account to."""

    @property
    def shared(self) -> bool:
        """Whether the budget is shared with the deployment's other processes right now."""


class Account:
    """What this process knows about one account of the budget (by the budget object)."""

    def __init__(self, api_host: str, account_id: str) -> None:
        self.api_host = api_host
        self.account_id = account_id
        self.indexed = False
        self.last_429_at = 0.0
        #: (waits, when) the triggerer's poller last noted in the store (see ``observe.poll_cycle``).
        self.waits_noted: tuple[int, float] = (-1, 0.0)


#: Per budget object (one per store and account in a process; see ``registry.budget_for``).
_accounts: weakref.WeakKeyDictionary[ReportedBudget, Account] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def api_host(base_url: str) -> str:
    """The API base URL without any user or password it may carry (``https://api.oktopost.com/v2``)."""
    parts = urlsplit(base_url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return f"{parts.scheme}://{netloc}{parts.path}".rstrip("/")


def account_of(budget: ReportedBudget) -> Account:
    """What this process knows about the account of ``budget`` (``unknown`` for a budget not opened)."""
    return _accounts.get(budget) or Account("", "unknown")


def known(budget: ReportedBudget) -> Account | None:
    """The account of ``budget`` when the registry opened it, else None."""
    return _accounts.get(budget)


def opened(budget: ReportedBudget, base_url: str, account_id: str) -> None:
    """A budget object was made for an account: remember its identity (no I/O: may run on an event loop)."""
    with _lock:
        _accounts.setdefault(budget, Account(api_host(base_url), account_id))


def reserved(budget: ReportedBudget, grant: Grant, *, polling: bool) -> None:
    """The budget answered a reservation (runs where the store is asked: never on an event loop)."""
    try:
        account = account_of(budget)
        metrics.emit(metrics.DAY_USED, grant.day_used, account=account.account_id)
        if grant.granted and grant.wait > 0:
            metrics.emit(metrics.BUDGET_WAIT, grant.wait, account=account.account_id)
            if grant.wait >= LOG_HOLDS_FROM and not polling:
                what = f"this call waits {grant.wait:.0f}s for the account's call budget"
                log.info(waiting_line(budget, what, why_waiting(budget, grant, polling=polling)))
        if grant.shared and not account.indexed and account.account_id != "unknown":
            budget.store.note_account(budget.key, identity(budget, account))
            account.indexed = True
    except Exception as error:
        log.debug("Could not report a budget reservation: %s", error)


def identity(budget: ReportedBudget, account: Account) -> dict[str, str]:
    """The notes that say which account this is and the limits this process applies to it."""
    return {
        "api_host": account.api_host,
        "account_id": account.account_id,
        "per_minute": str(budget.per_minute),
        "window": repr(budget.settings.window),
        "daily_limit": str(budget.settings.daily_limit),
        "polling_day_limit": str(budget.polling_day_limit),
    }


def blocked(budget: ReportedBudget, seconds: float) -> None:
    """A 429 was recorded as a block (runs where the store is asked: never on an event loop)."""
    try:
        account = account_of(budget)
        account.last_429_at = clock.wall()
        metrics.emit(metrics.BLOCKS, 1, account=account.account_id)
        metrics.emit(metrics.BLOCK_LENGTH, seconds, account=account.account_id)
        if budget.shared:
            notes = {"last_429_at": repr(account.last_429_at), "block_seconds": repr(float(seconds))}
            budget.store.note_account(budget.key, {**identity(budget, account), **notes})
    except Exception as error:
        log.debug("Could not report a budget block: %s", error)


# -- why a call waits ------------------------------------------------------------------------------------


def utc(epoch: float) -> str:
    """``HH:MM:SS UTC`` of ``epoch``."""
    seconds = int(epoch % DAY)
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d} UTC"


def why_waiting(budget: ReportedBudget, grant: Grant, *, polling: bool = False) -> str:
    """Why the budget puts the account's next call ``grant.wait`` seconds away, in words."""
    return reason(budget, grant, polling=polling)[1]


def reason(
    budget: ReportedBudget, grant: Grant, *, polling: bool = False, look_up: bool = True
) -> tuple[str, str]:
    """(``block``, ``day`` or ``minute``; in words). ``look_up``: may ask the store (never on a loop)."""
    now = clock.wall()
    if grant.blocked_for > 0:
        return "block", f"blocked until {utc(now + grant.blocked_for)} {after_429(budget, look_up=look_up)}"
    if day_of(now + grant.wait) > day_of(now):
        if polling:
            what = f"polling's share of the day ({budget.polling_day_limit} calls) is used up"
        else:
            what = f"the day's {budget.settings.daily_limit} calls are used up"
        return "day", f"{what}: the next call is after 00:00 UTC"
    n, window = budget.per_minute, budget.settings.window
    return "minute", f"the minute is full (the budget allows {n} call{'' if n == 1 else 's'} per {window:g}s)"


def after_429(budget: ReportedBudget, *, look_up: bool = True) -> str:
    """``after a 429 at HH:MM:SS UTC`` (this process's, else the store's note), or who else received it."""
    at = account_of(budget).last_429_at
    if not at and look_up and budget.shared:
        with contextlib.suppress(Exception):
            [state] = budget.store.account_states(budget.settings.window, [budget.key])
            at = float(state["notes"].get("last_429_at", 0.0))
    return f"after a 429 at {utc(at)}" if at else "after a 429 (received by another process)"


def page_url() -> str:
    """Where the Oktopost page is: ``[api] base_url`` + ``/plugin/oktopost`` when it is configured."""
    try:
        from airflow.providers.common.compat.sdk import conf

        base = str(conf.get("api", "base_url", fallback="") or "")
    except Exception:
        base = ""
    return base.rstrip("/") + PAGE_ROUTE


def waiting_line(budget: ReportedBudget, what: str, why: str) -> str:
    """The one line a task log gets when the budget holds, defers or fails a try."""
    account = account_of(budget)
    return (
        f"Oktopost account {account.account_id} ({account.api_host}): {what}: {why}. "
        f"Every account's budget: the Oktopost page of the Airflow UI ({page_url()})"
    )

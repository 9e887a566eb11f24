"""What the provider tells the people who run Airflow: metrics, store notes, and "why am I waiting?".

The budget (:mod:`.core.throttle`), the operations (:mod:`.core.operations`), the operators' rate-limit
handling and the triggerer's poller each call one function here at the moment something happens; this module
turns it into metrics (:mod:`.metrics`), into notes in the budget store that the Oktopost page reads
(:mod:`.core.budget.snapshot`), and into one task-log line that says which account waits, how long, why, and
where to look. Nothing here may fail or slow down the caller: every function catches its own errors, and
store writes happen only where the caller already talks to the store (in a worker thread on the triggerer).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import weakref
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from airflow_provider_oktopost._core import clock, metrics
from airflow_provider_oktopost._core.budget.rules import DAY, Grant, day_of
from airflow_provider_oktopost._core.budget.snapshot import WAITS_PREFIX

if TYPE_CHECKING:
    from airflow_provider_oktopost._core.config import ClientConfig
    from airflow_provider_oktopost._core.throttle import AccountBudget
    from airflow_provider_oktopost._core.wire import ApiRequest, ApiResponse, TransportFailure
    from airflow_provider_oktopost.exceptions import OktopostRateLimitError
    from airflow_provider_oktopost.triggers._poller import AccountPoller

log = logging.getLogger("airflow_provider_oktopost.budget")

#: Holds shorter than this are not worth a log line (they happen all the time near the minute's limit).
LOG_HOLDS_FROM = 1.0
#: Where the Oktopost page is, relative to the API server's base URL.
PAGE_ROUTE = "/plugin/oktopost"


class _Account:
    """What this process knows about one account of the budget (by the budget's store key)."""

    def __init__(self, api_host: str, account_id: str) -> None:
        self.api_host = api_host
        self.account_id = account_id
        self.indexed = False
        self.last_429_at = 0.0
        self.waits_noted: tuple[int, float] = (-1, 0.0)


#: Per budget object (one per store and account in a process; see ``throttle.budget_for``).
_accounts: weakref.WeakKeyDictionary[AccountBudget, _Account] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def api_host(base_url: str) -> str:
    """The API base URL without any user or password it may carry (``https://api.oktopost.com/v2``)."""
    parts = urlsplit(base_url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return f"{parts.scheme}://{netloc}{parts.path}".rstrip("/")


def _account(budget: AccountBudget) -> _Account:
    return _accounts.get(budget) or _Account("", "unknown")


# -- the budget ------------------------------------------------------------------------------------------


def opened(budget: AccountBudget, base_url: str, account_id: str) -> None:
    """A budget object was made for an account: remember its identity (no I/O: may run on an event loop)."""
    with _lock:
        _accounts.setdefault(budget, _Account(api_host(base_url), account_id))


def reserved(budget: AccountBudget, grant: Grant, *, polling: bool) -> None:
    """The budget answered a reservation (runs where the store is asked: never on an event loop)."""
    try:
        account = _account(budget)
        metrics.emit(metrics.DAY_USED, grant.day_used, account=account.account_id)
        if grant.granted and grant.wait > 0:
            metrics.emit(metrics.BUDGET_WAIT, grant.wait, account=account.account_id)
            if grant.wait >= LOG_HOLDS_FROM and not polling:
                what = f"this call waits {grant.wait:.0f}s for the account's call budget"
                log.info(waiting_line(budget, what, why_waiting(budget, grant, polling=polling)))
        if grant.shared and not account.indexed and account.account_id != "unknown":
            budget.store.note_account(budget.key, _identity(budget, account))
            account.indexed = True
    except Exception as error:
        log.debug("Could not report a budget reservation: %s", error)


def _identity(budget: AccountBudget, account: _Account) -> dict[str, str]:
    return {
        "api_host": account.api_host,
        "account_id": account.account_id,
        "per_minute": str(budget.per_minute),
        "window": repr(budget.settings.window),
        "daily_limit": str(budget.settings.daily_limit),
        "polling_day_limit": str(budget.polling_day_limit),
    }


def blocked(budget: AccountBudget, seconds: float) -> None:
    """A 429 was recorded as a block (runs where the store is asked: never on an event loop)."""
    try:
        account = _account(budget)
        account.last_429_at = clock.wall()
        metrics.emit(metrics.BLOCKS, 1, account=account.account_id)
        metrics.emit(metrics.BLOCK_LENGTH, seconds, account=account.account_id)
        if budget.shared:
            notes = {"last_429_at": repr(account.last_429_at), "block_seconds": repr(float(seconds))}
            budget.store.note_account(budget.key, {**_identity(budget, account), **notes})
    except Exception as error:
        log.debug("Could not report a budget block: %s", error)


# -- calls -----------------------------------------------------------------------------------------------


def endpoint_kind(request: ApiRequest) -> str:
    """``integration_list``, ``integration_get``, ``cname_create``, ``action_run``, ``me``...: no ids."""
    parts = [p for p in request.path.split("/") if p]
    resource = parts[0].replace("-", "_") if parts else "root"
    if resource == "integration_action":
        return "action_run"
    if resource == "me":
        return "me"
    has_id = len(parts) > 1
    verb = {
        "GET": "get" if has_id else "list",
        "POST": "update" if has_id else "create",
        "DELETE": "delete",
    }.get(request.method, request.method.lower())
    return f"{resource}_{verb}"


def outcome_class(reply: ApiResponse | TransportFailure) -> str:
    """``success``, ``client_error``, ``rate_limited``, ``server_error`` or ``no_response``."""
    status = getattr(reply, "status", None)
    if not isinstance(status, int):
        return "no_response"
    if status == 429:
        return "rate_limited"
    if status < 400:
        return "success"
    return "client_error" if status < 500 else "server_error"


def call_sent(account_id: str, request: ApiRequest, reply: ApiResponse | TransportFailure) -> None:
    """A request was sent and came back (or failed on the way)."""
    try:
        kind, outcome = endpoint_kind(request), outcome_class(reply)
        metrics.emit(metrics.CALLS, 1, account=account_id, kind=kind, outcome=outcome)
        if outcome == "rate_limited":
            metrics.emit(metrics.RATE_LIMITED, 1, account=account_id, kind=kind)
    except Exception as error:
        log.debug("Could not report a call: %s", error)


# -- why a task waits ------------------------------------------------------------------------------------


def _utc(epoch: float) -> str:
    seconds = int(epoch % DAY)
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d} UTC"


def why_waiting(budget: AccountBudget, grant: Grant, *, polling: bool = False) -> str:
    """Why the budget puts the account's next call ``grant.wait`` seconds away, in words."""
    return _reason(budget, grant, polling=polling)[1]


def _reason(
    budget: AccountBudget, grant: Grant, *, polling: bool = False, look_up: bool = True
) -> tuple[str, str]:
    """(``block``, ``day`` or ``minute``; in words). ``look_up``: may ask the store (never on a loop)."""
    now = clock.wall()
    if grant.blocked_for > 0:
        return "block", f"blocked until {_utc(now + grant.blocked_for)} {_after_429(budget, look_up=look_up)}"
    if day_of(now + grant.wait) > day_of(now):
        if polling:
            what = f"polling's share of the day ({budget.polling_day_limit} calls) is used up"
        else:
            what = f"the day's {budget.settings.daily_limit} calls are used up"
        return "day", f"{what}: the next call is after 00:00 UTC"
    n, window = budget.per_minute, budget.settings.window
    return "minute", f"the minute is full (the budget allows {n} call{'' if n == 1 else 's'} per {window:g}s)"


def _after_429(budget: AccountBudget, *, look_up: bool = True) -> str:
    at = _account(budget).last_429_at
    if not at and look_up and budget.shared:
        with contextlib.suppress(Exception):
            [state] = budget.store.account_states(budget.settings.window, [budget.key])
            at = float(state["notes"].get("last_429_at", 0.0))
    return f"after a 429 at {_utc(at)}" if at else "after a 429 (received by another process)"


def page_url() -> str:
    """Where the Oktopost page is: ``[api] base_url`` + ``/plugin/oktopost`` when it is configured."""
    try:
        from airflow.providers.common.compat.sdk import conf

        base = str(conf.get("api", "base_url", fallback="") or "")
    except Exception:
        base = ""
    return base.rstrip("/") + PAGE_ROUTE


def waiting_line(budget: AccountBudget, what: str, why: str) -> str:
    """The one line a task log gets when the budget holds, defers or fails a try."""
    account = _account(budget)
    return (
        f"Oktopost account {account.account_id} ({account.api_host}): {what}: {why}. "
        f"Every account's budget: the Oktopost page of the Airflow UI ({page_url()})"
    )


def _budget_of(config: ClientConfig) -> AccountBudget:
    from airflow_provider_oktopost._core.throttle import budget_for

    return budget_for(config.base_url, config.account_id, config.rate_limit_per_minute, config.budget)


def _why_refused(budget: AccountBudget, error: OktopostRateLimitError) -> tuple[str, str]:
    """(reason tag, words) for a refusal: a block after a 429, or the minute's or the day's calls."""
    grant = budget.last_grant
    if getattr(error, "blocked", True) or grant is None:  # a 429 itself, or a block someone recorded
        return "block", f"blocked until {_utc(clock.wall() + error.retry_after)} {_after_429(budget)}"
    return _reason(budget, grant)


def deferring(config: ClientConfig, error: OktopostRateLimitError) -> None:
    """An operator defers to wait for the budget: count it and say why in the task log."""
    try:
        budget = _budget_of(config)
        reason, words = _why_refused(budget, error)
        metrics.emit(metrics.DEFERRALS, 1, account=config.account_id, reason=reason)
        what = f"the task defers for {error.retry_after:.0f}s (holding no worker slot) for the call budget"
        log.warning(waiting_line(budget, what, words))
    except Exception as failure:
        log.debug("Could not report a deferral: %s", failure)


def failing_try(config: ClientConfig, error: OktopostRateLimitError) -> None:
    """An operator gives up this try because of the budget: say why in the task log."""
    try:
        budget = _budget_of(config)
        _, words = _why_refused(budget, error)
        what = f"this try fails instead of waiting {error.retry_after:.0f}s for the call budget"
        log.warning(waiting_line(budget, what, words))
    except Exception as failure:
        log.debug("Could not report a failed try: %s", failure)


# -- the triggerer's pollers -----------------------------------------------------------------------------


def polling_held(budget: AccountBudget, grant: Grant) -> None:
    """A triggerer's poller waits for the budget before its next reads: say why (no I/O: on the loop).

    Every hold, as the poller's own line does (at most one per poll cycle).
    """
    try:
        if grant.wait > 0:
            what = f"the triggerer's reads for waiting sensors wait {grant.wait:.0f}s for the call budget"
            log.info(waiting_line(budget, what, _reason(budget, grant, polling=True, look_up=False)[1]))
    except Exception as error:
        log.debug("Could not report a polling hold: %s", error)


def _process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@contextlib.asynccontextmanager
async def poll_cycle(poller: AccountPoller) -> AsyncIterator[None]:
    """Around one poll cycle: its duration, the waits the poller holds, and a note of them in the store."""
    start = clock.monotonic()
    try:
        yield
    finally:
        try:
            account_id = poller.config.account_id
            metrics.emit(metrics.POLL_CYCLE, clock.monotonic() - start, account=account_id)
            waits = len(poller.active())
            metrics.emit(metrics.POLLER_WAITS, waits, account=account_id)
            await _note_waits(poller, waits)
        except Exception as error:
            log.debug("Could not report a poll cycle: %s", error)


async def _note_waits(poller: AccountPoller, waits: int) -> None:
    """Tell the store how many waits this triggerer holds, when that changed or a minute went by."""
    import asyncio

    budget = poller.budget
    account = _accounts.get(budget)
    now = clock.wall()
    if account is None or not budget.shared:
        return
    last, noted_at = account.waits_noted
    if waits == last and now - noted_at < 60:
        return
    good_for = 2 * max(poller.cadence(), poller.budget_wait(), budget.polling_pace(), 60.0)
    fields = {**_identity(budget, account), f"{WAITS_PREFIX}{_process()}": f"{waits} {now + good_for!r}"}
    await asyncio.to_thread(budget.store.note_account, budget.key, fields)
    account.waits_noted = (waits, now)

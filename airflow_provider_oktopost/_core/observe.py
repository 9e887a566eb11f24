"""What the provider tells the people who run Airflow about calls, deferrals and the triggerer's pollers.

The operations (:mod:`.operations`), the operators' rate-limit handling and the triggerer's poller each call
one function here at the moment something happens; this module turns it into metrics (:mod:`.metrics`), into
notes in the budget store that the Oktopost page reads (:mod:`.budget.snapshot`), and into one task-log line
that says which account waits, how long, why, and where to look. What the budget itself reports as it
answers (and the words for why a call waits) is :mod:`.budget.report`, below the budget; this module is
above it. Nothing here may fail or slow down the caller: every function catches its own errors, and store
writes happen only where the caller already talks to the store (in a worker thread on the triggerer).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import AsyncIterator, Sized
from typing import TYPE_CHECKING, Protocol

from airflow_provider_oktopost._core import clock, metrics
from airflow_provider_oktopost._core.budget import report
from airflow_provider_oktopost._core.budget.snapshot import WAITS_PREFIX

if TYPE_CHECKING:
    from airflow_provider_oktopost._core.budget.account import AccountBudget
    from airflow_provider_oktopost._core.budget.rules import Grant
    from airflow_provider_oktopost._core.config import ClientConfig
    from airflow_provider_oktopost._core.wire import ApiRequest, ApiResponse, TransportFailure
    from airflow_provider_oktopost.exceptions import OktopostRateLimitError

log = logging.getLogger("airflow_provider_oktopost.budget")


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


def _budget_of(config: ClientConfig) -> AccountBudget:
    from airflow_provider_oktopost._core.budget.registry import budget_for

    return budget_for(config.base_url, config.account_id, config.rate_limit_per_minute, config.budget)


def _why_refused(budget: AccountBudget, error: OktopostRateLimitError) -> tuple[str, str]:
    """(reason tag, words) for a refusal: a block after a 429, or the minute's or the day's calls."""
    grant = budget.last_grant
    if getattr(error, "blocked", True) or grant is None:  # a 429 itself, or a block someone recorded
        until = report.utc(clock.wall() + error.retry_after)
        return "block", f"blocked until {until} {report.after_429(budget)}"
    return report.reason(budget, grant)


def deferring(config: ClientConfig, error: OktopostRateLimitError) -> None:
    """An operator defers to wait for the budget: count it and say why in the task log."""
    try:
        budget = _budget_of(config)
        reason, words = _why_refused(budget, error)
        metrics.emit(metrics.DEFERRALS, 1, account=config.account_id, reason=reason)
        what = f"the task defers for {error.retry_after:.0f}s (holding no worker slot) for the call budget"
        log.warning(report.waiting_line(budget, what, words))
    except Exception as failure:
        log.debug("Could not report a deferral: %s", failure)


def failing_try(config: ClientConfig, error: OktopostRateLimitError) -> None:
    """An operator gives up this try because of the budget: say why in the task log."""
    try:
        budget = _budget_of(config)
        _, words = _why_refused(budget, error)
        what = f"this try fails instead of waiting {error.retry_after:.0f}s for the call budget"
        log.warning(report.waiting_line(budget, what, words))
    except Exception as failure:
        log.debug("Could not report a failed try: %s", failure)


# -- the triggerer's pollers -----------------------------------------------------------------------------


class Poller(Protocol):
    """What :func:`poll_cycle` reads of a triggerer's account poller (``triggers._poller.AccountPoller``)."""

    @property
    def budget(self) -> AccountBudget:
        """The account's budget."""

    @property
    def account_id(self) -> str:
        """The account the poller reads for."""

    def active(self) -> Sized:
        """The waits the poller holds."""

    def cadence(self) -> float:
        """Seconds between its cycles."""

    def budget_wait(self) -> float:
        """Seconds until the budget lets its next read go."""


def polling_held(budget: AccountBudget, grant: Grant) -> None:
    """A triggerer's poller waits for the budget before its next reads: say why (no I/O: on the loop).

    Every hold, as the poller's own line does (at most one per poll cycle).
    """
    try:
        if grant.wait > 0:
            what = f"the triggerer's reads for waiting sensors wait {grant.wait:.0f}s for the call budget"
            words = report.reason(budget, grant, polling=True, look_up=False)[1]
            log.info(report.waiting_line(budget, what, words))
    except Exception as error:
        log.debug("Could not report a polling hold: %s", error)


def _process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@contextlib.asynccontextmanager
async def poll_cycle(poller: Poller) -> AsyncIterator[None]:
    """Around one poll cycle: its duration, the waits the poller holds, and a note of them in the store."""
    start = clock.monotonic()
    try:
        yield
    finally:
        try:
            account_id = poller.account_id
            metrics.emit(metrics.POLL_CYCLE, clock.monotonic() - start, account=account_id)
            waits = len(poller.active())
            metrics.emit(metrics.POLLER_WAITS, waits, account=account_id)
            await _note_waits(poller, waits)
        except Exception as error:
            log.debug("Could not report a poll cycle: %s", error)


async def _note_waits(poller: Poller, waits: int) -> None:
    """Tell the store how many waits this triggerer holds, when that changed or a minute went by."""
    import asyncio

    budget = poller.budget
    account = report.known(budget)
    now = clock.wall()
    if account is None or not budget.shared:
        return
    last, noted_at = account.waits_noted
    if waits == last and now - noted_at < 60:
        return
    good_for = 2 * max(poller.cadence(), poller.budget_wait(), budget.polling_pace(), 60.0)
    fields = {
        **report.identity(budget, account),
        f"{WAITS_PREFIX}{_process()}": f"{waits} {now + good_for!r}",
    }
    await asyncio.to_thread(budget.store.note_account, budget.key, fields)
    account.waits_noted = (waits, now)

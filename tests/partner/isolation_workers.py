"""What the processes of the account-isolation tests run (a module of its own: ``spawn`` imports it)."""

from __future__ import annotations

import os
import time
from multiprocessing.queues import Queue
from typing import Any


def calls_on(conn_json: str, calls: int, start_at: float, out: Queue[Any]) -> None:
    """A task process on one account: ``calls`` calls of ``GET /me``; reports, per call, the wait its
    budget asked for before sending (``wait``), whether the account was blocked, and the outcome."""
    os.environ["AIRFLOW_CONN_OKTOPOST_DEFAULT"] = conn_json
    from airflow_provider_oktopost.exceptions import OktopostError
    from airflow_provider_oktopost.hooks.oktopost import OktopostHook

    hook = OktopostHook()
    budget = hook._context.budget
    time.sleep(max(0.0, start_at - time.time()))
    report: list[dict[str, Any]] = []
    for _ in range(calls):
        try:
            hook.get_me()
            outcome = "ok"
        except OktopostError as error:
            outcome = type(error).__name__
        grant = budget.last_grant
        assert grant is not None
        report.append({"wait": grant.wait, "blocked_for": grant.blocked_for, "outcome": outcome})
    hook.close()
    out.put((hook.config.account_id, report))

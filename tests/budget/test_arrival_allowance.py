"""Calls that reach Oktopost later than the budget planned still fit its sliding minute.

The budget plans *send* times; Oktopost counts *arrivals*. A burst of cold calls (a fresh process's first
call pays for a TCP and TLS handshake) followed one window later by warm ones arrives closer together than
it was planned. Here the sandbox holds the first burst back before counting it (a ``delay`` fault: counted
after the sleep), as a slow first arrival would be, and the second burst goes straight through.

The control runs the same bursts with no allowance (slots exactly one window apart, as before the allowance
existed): both land in one of the sandbox's windows and are refused, so the scenario can fail.

The window is 45 s here, not the other tests' 2.5 s: the allowance is a share of the window (1.5 s of 45), and
on a loaded machine this process's threads and its sandbox need a good part of a second of it.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from budget_support import BUDGET_LIMIT, SANDBOX_LIMIT

from airflow_provider_oktopost._core.budget import settings
from airflow_provider_oktopost._core.budget.settings import ARRIVAL_ALLOWANCE_SHARE, TESTING_WINDOW_ENV
from airflow_provider_oktopost.exceptions import OktopostError
from airflow_provider_oktopost.hooks.oktopost import OktopostHook
from airflow_provider_oktopost.testing import Fault, OktopostSandbox
from airflow_provider_oktopost.testing.budget import reset_budgets

#: Waits on a real clock for most of a minute; the logic does not depend on the Airflow minor.
pytestmark = [pytest.mark.heavy, pytest.mark.waits]

WINDOW = 45.0
#: How much later than planned the first burst is counted: half the allowance, so that each side has half
#: of it for the scheduling of this machine's threads.
LATE = WINDOW * ARRIVAL_ALLOWANCE_SHARE / 2


def _two_bursts(sandbox: OktopostSandbox, directory: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """``BUDGET_LIMIT`` threads (one hook each: a session is not shared between threads; one budget, the
    process's) making two calls each from the same moment; the first burst is counted ``LATE``."""
    conn = sandbox.connection_dict()
    conn["extra"] = {"rate_limit_per_minute": BUDGET_LIMIT, "budget_store": "local", "max_retries": 0}
    monkeypatch.setenv("AIRFLOW_CONN_OKTOPOST_DEFAULT", json.dumps(conn))
    monkeypatch.setenv(TESTING_WINDOW_ENV, str(WINDOW))
    monkeypatch.setenv("AIRFLOW__OKTOPOST__BUDGET_DIR", str(directory))
    sandbox.configure(rate_limit_per_minute=SANDBOX_LIMIT, rate_window_seconds=WINDOW, block_seconds=60.0)
    reset_budgets()
    hooks = [OktopostHook() for _ in range(BUDGET_LIMIT)]
    for hook in hooks:
        _ = hook.config
    sandbox.inject(Fault("delay", method="GET", path="/v2/me", times=BUDGET_LIMIT, delay_seconds=LATE))
    start = threading.Barrier(len(hooks))
    outcomes: list[str] = []

    def two_calls(hook: OktopostHook) -> None:
        start.wait()
        for _ in range(2):
            try:
                hook.get_me()
                outcomes.append("ok")
            except OktopostError as error:
                outcomes.append(type(error).__name__)
        hook.close()

    threads = [threading.Thread(target=two_calls, args=(hook,)) for hook in hooks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=3 * WINDOW)
    return outcomes


def test_a_late_first_burst_and_a_prompt_second_stay_within_the_limit(
    oktopost_sandbox: OktopostSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outcomes = _two_bursts(oktopost_sandbox, tmp_path, monkeypatch)
    assert outcomes == ["ok"] * 2 * BUDGET_LIMIT, oktopost_sandbox.rate_limited_by_account()
    assert oktopost_sandbox.rate_limited_count == 0


def test_control_without_the_allowance_the_same_bursts_are_refused(
    oktopost_sandbox: OktopostSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "ARRIVAL_ALLOWANCE_SHARE", 0.0)
    outcomes = _two_bursts(oktopost_sandbox, tmp_path, monkeypatch)
    # Both bursts in one window: more than the sandbox allows in it.
    assert oktopost_sandbox.rate_limited_count >= 2 * BUDGET_LIMIT - SANDBOX_LIMIT, outcomes

"""Calls that reach Oktopost later than the budget planned still fit its sliding minute.

The budget plans *send* times; Oktopost counts *arrivals*. A burst of cold calls (a fresh process's first
call pays for a TCP and TLS handshake) followed one window later by warm ones arrives closer together than
it was planned. Here the sandbox holds the first burst back before counting it (a ``delay`` fault: counted
after the sleep), as a slow first arrival would be, and the second burst goes straight through.

Two accounts run the same bursts at the same time: one with the budget's arrival allowance, and the control
with none (slots exactly one window apart, as before the allowance existed), whose bursts land in one of the
sandbox's windows and are refused: the scenario can fail.

The window is 45 s here, not the other tests' 2.5 s: the allowance is a share of the window (1.5 s of 45), and
on a loaded machine this process's threads and its sandbox need a good part of a second of it.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from budget_support import BUDGET_LIMIT, SANDBOX_LIMIT

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
CONTROL = ("001sandbox00002", "control-key-2")


def _hooks(conn: dict[str, object], name: str, n: int) -> list[OktopostHook]:
    """``n`` hooks on the connection ``name`` (one per thread: a session is not shared between threads)."""
    conn["extra"] = {"rate_limit_per_minute": BUDGET_LIMIT, "budget_store": "local", "max_retries": 0}
    return [OktopostHook(oktopost_conn_id=name) for _ in range(n)]


def test_a_late_first_burst_and_a_prompt_second_stay_within_the_limit(
    oktopost_sandbox: OktopostSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = oktopost_sandbox
    monkeypatch.setenv(TESTING_WINDOW_ENV, str(WINDOW))
    monkeypatch.setenv("AIRFLOW__OKTOPOST__BUDGET_DIR", str(tmp_path))
    sandbox.configure(rate_limit_per_minute=SANDBOX_LIMIT, rate_window_seconds=WINDOW, block_seconds=60.0)
    sandbox.add_account(*CONTROL)
    reset_budgets()
    conns = {"oktopost_allowed": sandbox.connection_dict(), "oktopost_control": sandbox.connection_dict()}
    conns["oktopost_control"].update(login=CONTROL[0], password=CONTROL[1])
    hooks = {name: _hooks(conn, name, BUDGET_LIMIT) for name, conn in conns.items()}
    for name, conn in conns.items():
        monkeypatch.setenv(f"AIRFLOW_CONN_{name.upper()}", json.dumps(conn))
    for group in hooks.values():
        for hook in group:
            _ = hook.config
    control_budget = hooks["oktopost_control"][0]._context.budget
    assert hooks["oktopost_allowed"][0]._context.budget.arrival_allowance == 2 * LATE
    control_budget.arrival_allowance = 0.0  # the same process-wide budget every control hook uses
    sandbox.inject(Fault("delay", method="GET", path="/v2/me", times=2 * BUDGET_LIMIT, delay_seconds=LATE))

    everyone = [(name, hook) for name, group in hooks.items() for hook in group]
    start = threading.Barrier(len(everyone))
    outcomes: dict[str, list[str]] = {name: [] for name in hooks}

    def two_calls(name: str, hook: OktopostHook) -> None:
        start.wait()
        for _ in range(2):
            try:
                hook.get_me()
                outcomes[name].append("ok")
            except OktopostError as error:
                outcomes[name].append(type(error).__name__)
        hook.close()

    threads = [threading.Thread(target=two_calls, args=pair) for pair in everyone]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=3 * WINDOW)

    refused = sandbox.rate_limited_by_account()
    assert outcomes["oktopost_allowed"] == ["ok"] * 2 * BUDGET_LIMIT, (outcomes, refused)
    assert refused[sandbox.account_id]["refused"] == 0, refused
    # The control: both bursts in one window, more than the sandbox allows in it.
    assert refused[CONTROL[0]]["refused"] >= 2 * BUDGET_LIMIT - SANDBOX_LIMIT, (outcomes, refused)

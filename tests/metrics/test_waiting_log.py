"""Item 3 of issue 21: the task log answers "why am I waiting?".

From the output of a real ``dag.test()`` run (``dags/oktopost_operating.py``): whenever the budget holds a
call, defers a task or fails a try, one line names the account, says how long and why, and where to look.
"""

from __future__ import annotations

import re

import pytest
from operating_support import BLOCK, OperatingRun

from airflow_provider_oktopost.testing import OktopostSandbox

pytestmark = pytest.mark.airflow

PAGE = re.escape(
    "Every account's budget: the Oktopost page of the Airflow UI (http://airflow.example:8080/plugin/oktopost)"
)
CLOCK = r"(\d\d):(\d\d):(\d\d) UTC"


def _lines(run: OperatingRun, sandbox: OktopostSandbox, what: str) -> list[re.Match[str]]:
    account = re.escape(f"Oktopost account {sandbox.account_id} ({sandbox.base_url})")
    pattern = re.compile(f"{account}: {what}. {PAGE}")
    return [m for m in map(pattern.search, run.output.splitlines()) if m]


def _seconds(match: re.Match[str], first: int) -> int:
    h, m, s = (int(match.group(i)) for i in range(first, first + 3))
    return h * 3600 + m * 60 + s


def test_a_held_call_says_the_minute_is_full(
    run_with_metrics: OperatingRun, oktopost_sandbox_server: OktopostSandbox
) -> None:
    held = _lines(
        run_with_metrics,
        oktopost_sandbox_server,
        r"this call waits (\d+)s for the account's call budget: the minute is full "
        r"\(the budget allows 1 call per 2s\)",
    )
    assert len(held) >= 2, run_with_metrics.output[-5000:]  # pages 2 and 3
    assert all(1 <= int(m.group(1)) <= 2 for m in held)


def test_a_poller_held_by_the_budget_says_why(
    run_with_metrics: OperatingRun, oktopost_sandbox_server: OktopostSandbox
) -> None:
    held = _lines(
        run_with_metrics,
        oktopost_sandbox_server,
        r"the triggerer's reads for waiting sensors wait (\d+)s for the call budget: the minute is full "
        r"\(the budget allows 1 call per 2s\)",
    )
    # The poller's own line ("lets the next read go in ...") and the why-line come together, every time.
    polls = [line for line in run_with_metrics.output.splitlines() if "lets the next read go in" in line]
    assert len(held) == len(polls) >= 1, run_with_metrics.output[-5000:]


def test_a_deferral_says_until_when_and_after_which_429(
    run_with_metrics: OperatingRun, oktopost_sandbox_server: OktopostSandbox
) -> None:
    [deferred] = _lines(
        run_with_metrics,
        oktopost_sandbox_server,
        rf"the task defers for (\d+)s \(holding no worker slot\) for the call budget: blocked until {CLOCK} "
        rf"after a 429 at {CLOCK}",
    )
    assert int(deferred.group(1)) in (BLOCK - 1, BLOCK)
    assert (_seconds(deferred, 2) - _seconds(deferred, 5)) % 86400 in (BLOCK - 1, BLOCK, BLOCK + 1)


def test_a_failed_try_says_why(
    run_with_metrics: OperatingRun, oktopost_sandbox_server: OktopostSandbox
) -> None:
    [failed] = _lines(
        run_with_metrics,
        oktopost_sandbox_server,
        rf"this try fails instead of waiting (\d+)s for the call budget: blocked until {CLOCK} "
        rf"after a 429 at {CLOCK}",
    )
    assert int(failed.group(1)) in (BLOCK - 1, BLOCK)
    assert oktopost_sandbox_server.api_key not in run_with_metrics.output


def test_the_run_left_its_notes_for_the_oktopost_page(
    run_with_metrics: OperatingRun, oktopost_sandbox_server: OktopostSandbox
) -> None:
    """What the page reads after the run: who the account is, its last 429, the waits the poller held."""
    from airflow_provider_oktopost._core.budget.local_disk import LocalDiskStore

    [state] = LocalDiskStore(run_with_metrics.budget_dir).account_states(2.0)
    notes = state["notes"]
    assert (notes["account_id"], notes["api_host"]) == (
        oktopost_sandbox_server.account_id,
        oktopost_sandbox_server.base_url,
    )
    assert (notes["per_minute"], notes["window"]) == ("1", "2.0")
    assert float(notes["last_429_at"]) > 0 and float(notes["block_seconds"]) == BLOCK
    waits = [value for name, value in notes.items() if name.startswith("waits@")]
    assert waits, notes  # the deferred sensor's poller reported the waits it held
    assert state["today"] >= 8

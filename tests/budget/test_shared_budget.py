"""One call budget for every process of a deployment, tested with real processes against the sandbox.

Each scenario starts fresh interpreters (``spawn``) that make calls through ``OktopostHook`` at the same
moment, while the sandbox enforces its limit (``SANDBOX_LIMIT`` calls per ``WINDOW`` seconds, then a
block). The per-process budget (``memory``, the 0.1 behaviour) runs the same scenario as the control: it
must trip the limit, or the scenario would prove nothing.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import time
from pathlib import Path
from typing import Any

import pytest
from budget_support import BUDGET_LIMIT, SANDBOX_LIMIT, WINDOW, busiest_window, free_port
from budget_workers import call_me

from airflow_provider_oktopost.exceptions import OktopostRateLimitError
from airflow_provider_oktopost.hooks.oktopost import OktopostHook
from airflow_provider_oktopost.testing import OktopostSandbox
from airflow_provider_oktopost.testing.budget import reset_budgets

#: Real processes; the logic does not depend on the Airflow minor (see the `heavy` marker).
pytestmark = pytest.mark.heavy

PROCESSES = 4
CALLS = 8


def _connection(sandbox: OktopostSandbox, store: str, directory: Path, **extra: Any) -> str:
    conn = sandbox.connection_dict()
    conn["extra"] = {
        "rate_limit_per_minute": BUDGET_LIMIT,
        "budget_store": store,
        "budget_dir": str(directory),
        "max_retries": 0,
        **extra,
    }
    return json.dumps(conn)


def _run(
    conn_json: str, processes: int, calls: int, skews: tuple[float, ...] = ()
) -> tuple[list[str], float]:
    """Start ``processes`` real processes together: every call's outcome (in no particular order), and the
    seconds from the moment they started together to the last call's return."""
    spawn = multiprocessing.get_context("spawn")
    out = spawn.Queue()
    start_at = time.time() + 6.0  # after every interpreter has imported the provider
    workers = [
        spawn.Process(target=call_me, args=(conn_json, calls, start_at, out, skew))
        for skew in (skews or (0.0,) * processes)
    ]
    for worker in workers:
        worker.start()
    outcomes: list[str] = []
    ended = start_at
    for _ in workers:
        _pid, theirs, their_end = out.get(timeout=120)
        outcomes += theirs
        ended = max(ended, their_end)
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    return outcomes, ended - start_at


#: How late a call may arrive at the sandbox after the time its budget slot gave it (sleep overshoot and
#: the request itself, on a busy machine).
LATENESS = 1.0


def _arrivals(sandbox: OktopostSandbox) -> list[float]:
    return [r.time for r in sandbox.requests if r.status == 200]


@pytest.mark.parametrize("store", ["local", "redis"])
def test_processes_sharing_the_store_never_trip_the_limit(
    fast_sandbox: OktopostSandbox, store: str, redis_url: str, tmp_path: Path
) -> None:
    conn = _connection(fast_sandbox, redis_url if store == "redis" else "local", tmp_path)
    outcomes, elapsed = _run(conn, PROCESSES, CALLS)
    assert outcomes == ["ok"] * (PROCESSES * CALLS), outcomes
    assert fast_sandbox.rate_limited_count == 0
    # The budget fixes when calls are *sent*; the sandbox counts when they *arrive*. On a busy machine a
    # call can arrive a few hundred milliseconds late, which in a 2.5-second "minute" moves it into the
    # next window; the margin (8 of 12) absorbs that, and the sandbox never saw more than 12.
    assert busiest_window(_arrivals(fast_sandbox)) <= SANDBOX_LIMIT
    # The budget's own count: two slots BUDGET_LIMIT apart are a full WINDOW apart, so however late each
    # call arrives (up to LATENESS), no span of WINDOW - LATENESS holds more than BUDGET_LIMIT arrivals.
    # (Four processes each with a budget of their own would put all 32 in the first instant.)
    assert busiest_window(_arrivals(fast_sandbox), WINDOW - LATENESS) <= BUDGET_LIMIT
    # They waited for each other, from the moment they started together: 32 calls at 8 per window are
    # four windows' worth, the last batch no earlier than three windows after the start.
    assert elapsed >= (PROCESSES * CALLS / BUDGET_LIMIT - 1) * WINDOW * 0.95, elapsed


def test_the_per_process_budget_trips_the_limit(fast_sandbox: OktopostSandbox, tmp_path: Path) -> None:
    """The control: the same processes, each with its own budget (the 0.1 behaviour), get 429s."""
    outcomes, _elapsed = _run(_connection(fast_sandbox, "memory", tmp_path), PROCESSES, CALLS)
    assert fast_sandbox.rate_limited_count > 0
    assert any("OktopostRateLimitError" in outcome for outcome in outcomes)
    assert PROCESSES * CALLS > SANDBOX_LIMIT  # the scenario asks for more than one window allows


@pytest.mark.parametrize("store", ["local", "redis"])
def test_a_429_from_another_client_blocks_every_process(
    fast_sandbox: OktopostSandbox, store: str, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import requests

    conn = _connection(fast_sandbox, redis_url if store == "redis" else "local", tmp_path)
    # Another tool of the customer's account bursts with the same key and gets the key blocked.
    other = requests.Session()
    other.auth = (fast_sandbox.account_id, fast_sandbox.api_key)
    while other.get(f"{fast_sandbox.base_url}/me", timeout=5).status_code != 429:
        pass
    tool_429s = fast_sandbox.rate_limited_count
    # The first provider call meets the block and records it (no Retry-After: the documented 15 minutes).
    monkeypatch.setenv("AIRFLOW_CONN_OKTOPOST_DEFAULT", conn)
    reset_budgets()
    with pytest.raises(OktopostRateLimitError) as first:
        OktopostHook().get_me()
    assert first.value.status == 429 and first.value.retry_after == 900
    assert fast_sandbox.rate_limited_count == tool_429s + 1
    # Every other process now holds back: nothing more reaches the sandbox.
    outcomes, _elapsed = _run(conn, 3, 2)
    assert all("OktopostBudgetWaitError" in o and "blocked after a 429" in o for o in outcomes), outcomes
    assert fast_sandbox.rate_limited_count == tool_429s + 1
    assert fast_sandbox.count() == len(fast_sandbox.requests)  # sanity: the log holds every request


@pytest.mark.parametrize("unreachable", ["redis", "local"])
def test_an_unreachable_store_warns_and_falls_back(
    fast_sandbox: OktopostSandbox,
    unreachable: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    if unreachable == "redis":
        store, directory = f"redis://127.0.0.1:{free_port()}/0", tmp_path  # nothing listens there
    else:
        (tmp_path / "a-file").write_text("not a directory")
        store, directory = "local", tmp_path / "a-file"
    monkeypatch.setenv("AIRFLOW_CONN_OKTOPOST_DEFAULT", _connection(fast_sandbox, store, directory))
    reset_budgets()
    hook = OktopostHook()
    with caplog.at_level(logging.WARNING, logger="airflow_provider_oktopost.budget"):
        for _ in range(3):
            assert hook.get_me().account_id == fast_sandbox.account_id
    warnings = [r.getMessage() for r in caplog.records if "cannot be reached" in r.getMessage()]
    assert len(warnings) == 1, warnings  # loud, but once, not on every call
    if unreachable == "redis":  # one step down: this machine's processes still share the file
        assert "now uses the machine-wide store" in warnings[0] and str(directory) in warnings[0]
        assert hook._context.budget.shared
    else:  # nothing shared is left: a conservative pace
        assert "does NOT protect the account" in warnings[0] and "paces itself at" in warnings[0]
        assert not hook._context.budget.shared
    assert hook._context.budget.last_grant is not None and not hook._context.budget.last_grant.shared


def test_skewed_clocks_agree_via_the_redis_servers_time(
    fast_sandbox: OktopostSandbox, redis_url: str, tmp_path: Path
) -> None:
    """Two "machines" whose clocks are 20 s apart share one Redis: every window is counted on the server's
    clock (``TIME`` inside the scripts), so together they stay inside the budget."""
    conn = _connection(fast_sandbox, redis_url, tmp_path)
    outcomes, _elapsed = _run(conn, 2, BUDGET_LIMIT, skews=(0.0, 20.0))
    assert outcomes == ["ok"] * (2 * BUDGET_LIMIT), outcomes
    assert fast_sandbox.rate_limited_count == 0
    assert busiest_window(_arrivals(fast_sandbox), WINDOW - LATENESS) <= BUDGET_LIMIT


@pytest.mark.parametrize("store", ["redis", "local"])
def test_a_block_lasts_as_long_for_every_clock_on_redis(
    store: str, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A machine whose clock is 20 s ahead records a 30 s block; a machine on the right time sees 30 s
    left on Redis (the server's clock decides). The control: a store that dates the block by the writer's
    clock (the machine-wide file) shows the skew, 50 s."""
    from airflow_provider_oktopost._core import clock
    from airflow_provider_oktopost._core.budget.local_disk import LocalDiskStore
    from airflow_provider_oktopost._core.budget.redis_server import RedisStore

    shared = RedisStore(redis_url) if store == "redis" else LocalDiskStore(tmp_path)
    true_wall = clock.wall
    monkeypatch.setattr(clock, "wall", lambda: true_wall() + 20.0)
    shared.block("skewed", 30.0)
    monkeypatch.setattr(clock, "wall", true_wall)
    seen = shared.reserve("skewed", limit=50, window=60, day_limit=100, max_wait=-1).blocked_for
    assert seen == pytest.approx(30.0 if store == "redis" else 50.0, abs=3.0)

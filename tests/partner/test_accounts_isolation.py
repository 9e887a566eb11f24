"""Accounts do not slow each other down: one account's 429 block, or its backlog of waits, never delays
another account's calls, in one process, in the triggerer's event loop, or across real processes that
share the budget store.

Every account's budget and poller are keyed by Base URL + Account ID (+ key digest for pollers): these tests
show that what one account's budget holds back never reaches another's. They assert on what each call had
to wait (the budget's grants, the simulated clock), never on elapsed real time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import time
from pathlib import Path
from typing import Any

import pytest
from isolation_workers import calls_on
from support import SimClock

from airflow_provider_oktopost._core.budget.account import account_key
from airflow_provider_oktopost._core.budget.local_disk import LocalDiskStore
from airflow_provider_oktopost._core.budget.registry import budget_for
from airflow_provider_oktopost._core.budget.settings import TESTING_WINDOW_ENV, BudgetSettings
from airflow_provider_oktopost.exceptions import OktopostRateLimitError
from airflow_provider_oktopost.hooks.oktopost import OktopostHook
from airflow_provider_oktopost.testing import OktopostSandbox
from airflow_provider_oktopost.testing.budget import reset_budgets
from airflow_provider_oktopost.triggers.oktopost import OktopostIntegrationTrigger

A, B = ("001accounta0001", "key-a"), ("001accountb0001", "key-b")


def _conn(sandbox: OktopostSandbox, account: tuple[str, str], directory: Path, **extra: Any) -> str:
    conn = json.loads(sandbox.account_connection_json(*account))
    conn["extra"] = {"budget_dir": str(directory), **extra}
    return json.dumps(conn)


@pytest.fixture
def two_accounts(
    oktopost_sandbox: OktopostSandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> OktopostSandbox:
    """Accounts A and B in the sandbox, as connections ``oktopost_a`` / ``oktopost_b`` (one store file)."""
    for account in (A, B):
        oktopost_sandbox.add_account(*account)
    monkeypatch.setenv(
        "AIRFLOW_CONN_OKTOPOST_A", _conn(oktopost_sandbox, A, tmp_path, rate_limit_per_minute=5)
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_OKTOPOST_B", _conn(oktopost_sandbox, B, tmp_path, rate_limit_per_minute=5)
    )
    reset_budgets()
    return oktopost_sandbox


def test_a_429_block_on_one_account_never_delays_another(
    two_accounts: OktopostSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = two_accounts
    clock = SimClock(sandbox, start=1_800_000_000.0).install(monkeypatch)
    sandbox.block_account(A[0], 900)
    a, b = OktopostHook("oktopost_a", max_retries=0), OktopostHook("oktopost_b")
    with pytest.raises(OktopostRateLimitError):
        a.get_me()  # the sandbox's 429: A's budget now holds A back for 15 minutes
    assert a._context.budget.reserve(-1).blocked_for > 800
    before = list(clock.slept)
    for _ in range(5):
        assert b.get_me().account_id == B[0]
    assert clock.slept == before  # B never waited
    assert b._context.budget.last_grant is not None and b._context.budget.last_grant.blocked_for == 0
    assert [r.status for r in sandbox.requests if r.account == B[0]] == [200] * 5
    assert sandbox.rate_limited_by_account()[B[0]] == {"refused": 0, "over_limit": 0}


def test_one_accounts_backlog_never_delays_another(
    two_accounts: OktopostSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = two_accounts
    clock = SimClock(sandbox, start=1_800_000_000.0).install(monkeypatch)
    a, b = OktopostHook("oktopost_a"), OktopostHook("oktopost_b")
    for _ in range(5):
        a.get_me()  # A's budget of 5 a minute is used up: A's next call has to wait
    backlog = a._context.budget.reserve(-1)
    assert backlog.wait > 30
    before = list(clock.slept)
    for _ in range(5):
        b.get_me()
    assert clock.slept == before  # B's five calls waited for nothing
    a.get_me()
    assert clock.slept[len(before) :] and sum(clock.slept[len(before) :]) > 30  # A's sixth did wait
    assert sandbox.rate_limited_count == 0


async def test_two_accounts_pollers_in_one_triggerer(two_accounts: OktopostSandbox, tmp_path: Path) -> None:
    """A's poller sits out a 10-minute block another process recorded; on the same event loop, B's wait
    ends while A's is still held (real time: a simulated clock jumps for every coroutine at once)."""
    sandbox = two_accounts
    in_a = sandbox.add_integration(account_id=A[0])["Id"]
    in_b = sandbox.add_integration(account_id=B[0])["Id"]
    LocalDiskStore(tmp_path).block(account_key(sandbox.base_url, A[0]), 600)

    async def wait(integration_id: str, conn_id: str) -> str:
        trigger = OktopostIntegrationTrigger(
            integration_id, conn_id, poll_interval=60, end_time=time.time() + 3600
        )
        [event] = [e.payload async for e in trigger.run()]
        return str(event["status"])

    wait_a = asyncio.ensure_future(wait(in_a, "oktopost_a"))
    wait_b = asyncio.ensure_future(wait(in_b, "oktopost_b"))
    # 120 s is only a backstop against a hang: B needs one read, A's block lasts 600 s.
    done, _ = await asyncio.wait({wait_a, wait_b}, timeout=120, return_when=asyncio.FIRST_COMPLETED)
    try:
        assert done == {wait_b} and wait_b.result() == "success"
        assert not wait_a.done()
        assert [r.status for r in sandbox.requests if r.account == B[0]] == [200]
        assert [r for r in sandbox.requests if r.account == A[0]] == []  # A sent nothing into its block
    finally:
        wait_a.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await wait_a


def test_processes_sharing_the_store_keep_accounts_apart(
    oktopost_sandbox: OktopostSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real processes, one store (the machine-wide SQLite file, the default): A's processes are held back
    by a 429 block another process recorded; B's process, at the same time, never waits and never sees a
    block. (The Redis store keys accounts the same way: ``_core.budget`` keys every entry by account.)"""
    sandbox = oktopost_sandbox
    for account in (A, B):
        sandbox.add_account(*account)
    extra = {
        "budget_store": "local",
        "rate_limit_per_minute": 4,
        "max_retries": 0,
    }
    monkeypatch.setenv(TESTING_WINDOW_ENV, "3")  # a 3-second "minute" here and in the processes (test-only)
    conn_a, conn_b = _conn(sandbox, A, tmp_path, **extra), _conn(sandbox, B, tmp_path, **extra)
    # A is blocked by a 429 that another process met: recorded in the shared store, and in the sandbox.
    sandbox.block_account(A[0], 600)
    reset_budgets()
    blocked = json.loads(conn_a)["extra"]
    settings = BudgetSettings(store=blocked["budget_store"], directory=blocked["budget_dir"], window=3)
    budget_for(sandbox.base_url, A[0], 4, settings).block(600)
    spawn = multiprocessing.get_context("spawn")
    out = spawn.Queue()
    start_at = time.time() + 6.0  # after every interpreter has imported the provider
    workers = [spawn.Process(target=calls_on, args=(conn_a, 3, start_at, out)) for _ in range(2)]
    workers.append(spawn.Process(target=calls_on, args=(conn_b, 4, start_at, out)))
    for worker in workers:
        worker.start()
    reports = [out.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    [b_report] = [report for account, report in reports if account == B[0]]
    a_reports = [call for account, report in reports if account == A[0] for call in report]
    assert [c["outcome"] for c in b_report] == ["ok"] * 4, b_report
    assert all(c["wait"] == 0 and c["blocked_for"] == 0 for c in b_report), b_report
    assert a_reports and all(c["outcome"] != "ok" and c["blocked_for"] > 0 for c in a_reports), a_reports
    assert sandbox.rate_limited_by_account()[B[0]] == {"refused": 0, "over_limit": 0}
    assert not [r for r in sandbox.requests if r.account == A[0]]  # A's processes sent nothing into the block

"""The triggerer's poller takes its turns from the shared budget and has no pause of its own."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from support import SimClock

from airflow_provider_oktopost._core.budget.account import account_key
from airflow_provider_oktopost._core.budget.local_disk import LocalDiskStore
from airflow_provider_oktopost.testing import OktopostSandbox
from airflow_provider_oktopost.testing.budget import reset_budgets
from airflow_provider_oktopost.triggers.oktopost import OktopostIntegrationTrigger


@pytest.fixture
def fake(oktopost_sandbox: OktopostSandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> SimClock:
    conn = oktopost_sandbox.connection_dict()
    conn["extra"] = {"budget_dir": str(tmp_path)}
    monkeypatch.setenv("AIRFLOW_CONN_OKTOPOST_DEFAULT", json.dumps(conn))
    reset_budgets()
    return SimClock(oktopost_sandbox, start=1_800_000_000.0).install(monkeypatch)


async def _events(*triggers: OktopostIntegrationTrigger) -> list[dict[str, Any]]:
    async def one(t: OktopostIntegrationTrigger) -> dict[str, Any]:
        [event] = [e.payload async for e in t.run()]
        return dict(event)

    return list(await asyncio.gather(*(one(t) for t in triggers)))


async def test_a_block_another_process_recorded_holds_every_read(
    oktopost_sandbox: OktopostSandbox, fake: SimClock, tmp_path: Path
) -> None:
    sandbox = oktopost_sandbox
    ready = [sandbox.add_integration()["Id"] for _ in range(3)]
    # Another process (its own connection to the same file) met a 429 and recorded a 10-minute block.
    other = LocalDiskStore(tmp_path)
    other.block(account_key(sandbox.base_url, sandbox.account_id), 600)
    triggers = [OktopostIntegrationTrigger(i, poll_interval=60, end_time=fake.now + 3600) for i in ready]
    started = sandbox.state.now()
    events = await _events(*triggers)
    assert [e["status"] for e in events] == ["success"] * 3
    first = min(r.time for r in sandbox.requests)
    assert first - started >= 600  # nothing was sent into the block
    assert fake.sleeps[0] == pytest.approx(600, abs=1)  # one pause: the budget's
    assert sandbox.count() == 1  # then one listing page read all three


async def test_a_block_longer_than_the_deadline_times_out_on_time(
    oktopost_sandbox: OktopostSandbox, fake: SimClock, tmp_path: Path
) -> None:
    sandbox = oktopost_sandbox
    ready = sandbox.add_integration()["Id"]
    LocalDiskStore(tmp_path).block(account_key(sandbox.base_url, sandbox.account_id), 900)
    [event] = await _events(OktopostIntegrationTrigger(ready, poll_interval=60, end_time=fake.now + 300))
    assert event["status"] == "timeout"
    assert sandbox.count() == 0
    assert sum(fake.sleeps) == pytest.approx(300, abs=1)

"""The day's budget is one count for every process: when it runs low, every poller slows down together and
none of them uses the share kept for the account's other tools.

Real processes (``spawn``) share the machine-wide SQLite store or a real ``redis-server``. Each process
patches the provider's clock to one simulated timeline (``daily_workers.Timeline``: the last hour before
midnight UTC, run 250 times faster than real time; time, not the network: every call reaches the sandbox).
Three task-like processes spend 24 of a 40-call day; then three triggerer-like processes each wait for an
integration that never turns valid, polling every 5 s (simulated) for 57 minutes. Polling may bring the day to
30 (``daily_share_for_other_tools`` 0.25); afterwards an operator's call still gets the kept share.

If the store counted per process, each process would see its own small count: the spenders' counts would
repeat (1..8 in each) and this test fails (shown once with ``budget_store = memory``). Pacing alone, without
the store's polling cap, let the pollers bring the day to 31 (shown once too).
"""

from __future__ import annotations

import itertools
import json
import multiprocessing
import time
from pathlib import Path
from typing import Any

import pytest
from daily_workers import Answer, spend, wait

from airflow_provider_oktopost._core.budget.rules import DAY
from airflow_provider_oktopost.testing import OktopostSandbox

#: Real processes; the logic does not depend on the Airflow minor (see the `heavy` marker).
pytestmark = [pytest.mark.heavy, pytest.mark.waits]

DAILY_LIMIT = 40
SHARE = 0.25
POLLING_LIMIT = 30  # DAILY_LIMIT * (1 - SHARE)
SPENDERS, SPENT_EACH = 3, 8
POLLERS = 3
POLL_INTERVAL = 5.0


def _connection(sandbox: OktopostSandbox, store: str, directory: Path) -> str:
    conn = sandbox.connection_dict()
    conn["extra"] = {
        "budget_store": store,
        "budget_dir": str(directory),
        "daily_limit": DAILY_LIMIT,
        "daily_share_for_other_tools": SHARE,
        "rate_limit_per_minute": 50,
        "max_retries": 0,
    }
    return json.dumps(conn)


def _collect(out: Any, processes: list[Any]) -> list[Any]:
    results = [out.get(timeout=180) for _ in processes]
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0
    return results


@pytest.mark.parametrize("kind", ["local", "redis"])
def test_pollers_in_many_processes_slow_down_together_and_keep_the_share(
    kind: str, oktopost_sandbox: OktopostSandbox, redis_url: str, tmp_path: Path
) -> None:
    sandbox = oktopost_sandbox
    conn = _connection(sandbox, redis_url.rsplit("/", 1)[0] + "/5" if kind == "redis" else "local", tmp_path)
    # One simulated hour before midnight UTC of today (the Redis store counts days on its own clock: today).
    midnight = (time.time() // DAY + 1) * DAY
    t0 = midnight - 3600
    spawn = multiprocessing.get_context("spawn")
    out = spawn.Queue()

    # 1. Task-like processes spend 24 of the day's 40 calls, all at once.
    start_at = time.time() + 6.0
    spenders = [
        spawn.Process(target=spend, args=(conn, t0, SPENT_EACH, start_at, out)) for _ in range(SPENDERS)
    ]
    for process in spenders:
        process.start()
    spent: list[Answer] = [a for _pid, answers in _collect(out, spenders) for a in answers]
    # One count for the machine (or the deployment): every call got its own number of the day.
    assert sorted(a[2] for a in spent) == list(range(1, SPENDERS * SPENT_EACH + 1))

    # 2. Triggerer-like processes poll for integrations that never turn valid.
    ids = [sandbox.add_integration(status="invalid")["Id"] for _ in range(POLLERS)]
    end_time = t0 + 3500  # 100 simulated seconds before midnight, 6 or more paced reads after t0 + 60
    start_at = time.time() + 6.0
    pollers = [
        spawn.Process(target=wait, args=(conn, t0 + 60, start_at, i, POLL_INTERVAL, end_time, out))
        for i in ids
    ]
    for process in pollers:
        process.start()
    results = _collect(out, pollers)
    assert [[e["status"] for e in events] for _pid, _answers, events in results] == [["timeout"]] * POLLERS
    polled = [a for _pid, answers, _events in results for a in answers]
    assert all(polling for polling, *_ in polled)
    granted = sorted(a[2] for a in polled if a[1])
    # Together the pollers used exactly what polling may use of the day, one count, never the kept share.
    assert granted == list(range(SPENDERS * SPENT_EACH + 1, POLLING_LIMIT + 1))
    assert sandbox.count("GET", r"/v2/integration/\w+") == POLLING_LIMIT - SPENDERS * SPENT_EACH
    # Each poller slowed down on the shared count: after a read that brought the day to ``used`` at time
    # ``at``, its next read came no sooner than the pace (time to midnight / calls left for polling), far
    # slower than its 5 s poll interval.
    for _pid, answers, _events in results:
        reads = [(used, at) for _polling, ok, used, at in answers if ok]
        assert reads, "every poller read at least once"
        for (used, at), (_next_used, next_at) in itertools.pairwise(reads):
            assert next_at - at >= (midnight - at) / (POLLING_LIMIT - used) - 1.0
            assert next_at - at > 20 * POLL_INTERVAL

    # 3. The kept share is still there for an operator's (or another tool's) calls.
    other_tool = spawn.Process(target=spend, args=(conn, end_time + 10, 5, time.time() + 3.0, out))
    other_tool.start()
    [(_pid, other)] = _collect(out, [other_tool])
    assert [a[1:3] for a in other] == [(True, n) for n in range(POLLING_LIMIT + 1, POLLING_LIMIT + 6)]

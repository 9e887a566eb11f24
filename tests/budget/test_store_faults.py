"""A budget store that is down, broken or unshareable degrades safely, loudly, and never fails a task.

Real processes (``spawn``: fresh interpreters, as task tries are) against the sandbox enforcing its limit
over a short window (see ``conftest``); real ``redis-server``s started here; real SQLite files made
read-only (``chattr +i``: the suite may run as root, whom file modes do not stop) or overwritten with
garbage. Each scenario checks what a user would see: every task succeeds, the account gets no 429, and
each process says once what went wrong, naming the store and the fix.
"""

from __future__ import annotations

import itertools
import json
import multiprocessing
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from budget_support import BUDGET_LIMIT, SANDBOX_LIMIT, WINDOW, busiest_window, free_port, start_redis, stop
from budget_workers import task_process

from airflow_provider_oktopost._core.budget.local_disk import FILE_NAME, LocalDiskStore
from airflow_provider_oktopost.testing import OktopostSandbox

#: Real processes; the logic does not depend on the Airflow minor (see the `heavy` marker).
pytestmark = pytest.mark.heavy

#: What the session's pytest plugin sets; the processes here choose their own store.
UNSET_PLUGIN_STORE: dict[str, str | None] = {
    "AIRFLOW__OKTOPOST__BUDGET_STORE": None,
    "AIRFLOW__OKTOPOST__BUDGET_DIR": None,
}
#: One call per WINDOW per process (or pod): floor(BUDGET_LIMIT x 0.1) is below one.
CONSERVATIVE_GAP = WINDOW / max(1, int(BUDGET_LIMIT * 0.1))


def _connection(sandbox: OktopostSandbox, **extra: Any) -> str:
    conn = sandbox.connection_dict()
    conn["extra"] = {
        "rate_limit_per_minute": BUDGET_LIMIT,
        "max_retries": 2,  # a connection dropped by the loaded sandbox is retried, as in production
        **extra,
    }
    return json.dumps(conn)


def _together(conn: str, envs: list[dict[str, str | None]], calls: int) -> list[dict[str, Any]]:
    """One process per ``envs`` entry, all making their calls from the same moment."""
    spawn = multiprocessing.get_context("spawn")
    start_at = time.time() + 8.0  # after every interpreter has imported the provider
    with spawn.Pool(len(envs)) as pool:
        return pool.starmap(task_process, [(conn, calls, env, start_at) for env in envs], chunksize=1)


def _all_ok(results: list[dict[str, Any]], sandbox: OktopostSandbox) -> None:
    outcomes = [o for r in results for o in r["outcomes"]]
    assert outcomes == ["ok"] * len(outcomes), outcomes
    assert sandbox.rate_limited_count == 0
    assert busiest_window([r.time for r in sandbox.requests if r.status == 200]) <= SANDBOX_LIMIT


def _paced(result: dict[str, Any]) -> None:
    """The process's calls were at least the conservative pace apart (being slower can only widen it)."""
    returned = result["returned"]
    gaps = [b - a for a, b in itertools.pairwise(returned)]
    assert all(gap >= CONSERVATIVE_GAP * 0.9 for gap in gaps), gaps


def test_redis_down_steps_down_to_the_machine_wide_store(
    fast_sandbox: OktopostSandbox, tmp_path: Path
) -> None:
    """Six task processes making 4 calls each from the same moment, the configured Redis down: 24 calls,
    twice what the sandbox allows in one window (per-process budgets trip it: the control in
    ``test_shared_budget``). The machine-wide file keeps them under the limit together; each process says
    once that Redis cannot be reached and what it uses instead.

    The budget is half the sandbox's limit: each process's first call is cold (a new connection, on a
    loaded machine) and may arrive up to a second late, its next ones do not, so the first two windows'
    calls may be counted in one of the sandbox's. A CI run with six cold calls and a budget of 8 of 12
    showed that; in production the arrival allowance covers it (``test_arrival_allowance``)."""
    password = "pw-never-shown-1"
    url = f"redis://:{password}@127.0.0.1:{free_port()}/0"  # nothing listens there
    conn = _connection(
        fast_sandbox, budget_store=url, budget_dir=str(tmp_path), rate_limit_per_minute=SANDBOX_LIMIT // 2
    )
    results = _together(conn, [UNSET_PLUGIN_STORE] * 6, calls=4)
    _all_ok(results, fast_sandbox)
    assert fast_sandbox.count() >= 24 == 2 * SANDBOX_LIMIT
    for result in results:
        down = [w for w in result["warnings"] if "cannot be reached" in w]
        assert len(down) == 1, result["warnings"]
        assert "machine-wide store" in down[0] and str(tmp_path / FILE_NAME) in down[0]
        assert "Fix: check that the Redis server redis://:***@127.0.0.1" in down[0]
        assert password not in result["all_logs"] + "".join(result["warnings"])


@pytest.mark.parametrize("damage", ["read-only", "corrupted"])
def test_a_broken_local_file_warns_with_its_path_and_the_fix_and_paces_conservatively(
    fast_sandbox: OktopostSandbox, tmp_path: Path, damage: str
) -> None:
    path = tmp_path / FILE_NAME
    LocalDiskStore(tmp_path).reserve("x", limit=1, window=1, day_limit=1, max_wait=0)  # a valid file
    if damage == "corrupted":
        path.write_bytes(b"this is not a database, it was overwritten" * 100)
        for side in tmp_path.glob(f"{FILE_NAME}-*"):
            side.unlink()
    else:
        subprocess.run(["chattr", "+i", str(path)], check=True)
    try:
        conn = _connection(fast_sandbox, budget_store="local", budget_dir=str(tmp_path))
        results = _together(conn, [UNSET_PLUGIN_STORE] * 4, calls=3)
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=False)
    _all_ok(results, fast_sandbox)
    for result in results:
        broken = [w for w in result["warnings"] if "cannot be reached" in w]
        assert len(broken) == 1, result["warnings"]
        assert str(path) in broken[0] and "paces itself at 1 call(s) per" in broken[0]
        assert f"Fix: make {str(tmp_path)!r} a directory on a local disk" in broken[0]
        assert f"or delete {str(path)!r} if it is corrupted" in broken[0]
        _paced(result)


def test_two_homes_without_a_shared_store_warn_and_pace_conservatively(
    fast_sandbox: OktopostSandbox, tmp_path: Path
) -> None:
    """Two pods of a KubernetesExecutor deployment (two AIRFLOW_HOMEs, no Redis, nothing set for the
    budget), two task processes each. The control: the same with each home's machine-wide store at the
    full rate (``budget_store = local``) trips the limit."""
    conn = _connection(fast_sandbox)
    homes = [tmp_path / "pod-a", tmp_path / "pod-b"]
    envs: list[dict[str, str | None]] = [
        {**UNSET_PLUGIN_STORE, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__EXECUTOR": "KubernetesExecutor"}
        for home in homes
        for _ in range(2)
    ]
    results = _together(conn, envs, calls=4)
    _all_ok(results, fast_sandbox)
    for result in results:
        loud = [w for w in result["warnings"] if "cannot be shared" in w]
        assert len(loud) == 1, result["warnings"]
        assert (
            "KubernetesExecutor" in loud[0]
            and "Fix: set [oktopost] budget_store to a redis:// URL" in loud[0]
        )
        _paced(result)

    fast_sandbox.reset()
    fast_sandbox.configure(
        rate_limit_per_minute=SANDBOX_LIMIT, rate_window_seconds=WINDOW, block_seconds=30.0
    )
    full_rate = [{**env, "AIRFLOW__OKTOPOST__BUDGET_STORE": "local"} for env in envs]
    control = _together(_connection(fast_sandbox, max_retries=0), full_rate, calls=4)  # 429s show
    assert fast_sandbox.rate_limited_count > 0
    assert any("OktopostRateLimitError" in o for r in control for o in r["outcomes"])


def test_a_redis_cluster_is_refused_with_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, oktopost_sandbox: OktopostSandbox
) -> None:
    from airflow_provider_oktopost._core.budget.redis_server import RedisClusterRefusedError
    from airflow_provider_oktopost.hooks.oktopost import OktopostHook
    from airflow_provider_oktopost.testing.budget import reset_budgets

    cluster = (
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        "nodes.conf",
        "--requirepass",
        "pw-cluster",
    )
    process, port = start_redis(tmp_path, *cluster)
    try:
        conn = json.loads(
            _connection(oktopost_sandbox, budget_store=f"redis://:pw-cluster@127.0.0.1:{port}/0")
        )
        monkeypatch.setenv("AIRFLOW_CONN_OKTOPOST_DEFAULT", json.dumps(conn))
        reset_budgets()
        with pytest.raises(RedisClusterRefusedError, match="is a Redis Cluster node") as refused:
            OktopostHook().get_me()
        assert "redis://:***@127.0.0.1" in str(refused.value) and "pw-cluster" not in str(refused.value)
        assert oktopost_sandbox.count() == 0  # refused before any call
    finally:
        stop(process)


def test_a_file_locked_too_long_by_another_process_warns_with_its_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Another process holds the file's write lock past the busy timeout: the reservation does not fail,
    it paces conservatively, and the warning names the file and the fix."""
    import logging

    from airflow_provider_oktopost._core.budget import local_disk
    from airflow_provider_oktopost._core.budget.registry import budget_for
    from airflow_provider_oktopost._core.budget.settings import BudgetSettings
    from airflow_provider_oktopost.testing.budget import reset_budgets

    monkeypatch.setattr(local_disk, "BUSY_TIMEOUT", 0.5)
    LocalDiskStore(tmp_path).reserve("x", limit=1, window=1, day_limit=1, max_wait=0)  # the file exists
    holder = subprocess.Popen(  # a real other process, holding the write lock
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1], isolation_level=None); "
            "c.execute('BEGIN IMMEDIATE'); print('locked', flush=True); time.sleep(60)",
            str(tmp_path / FILE_NAME),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        reset_budgets()
        settings = BudgetSettings(store="local", directory=str(tmp_path), window=WINDOW)
        budget = budget_for("https://api", "001locked", per_minute=BUDGET_LIMIT, settings=settings)
        with caplog.at_level(logging.WARNING, logger="airflow_provider_oktopost.budget"):
            grant = budget.reserve(max_wait=60)
    finally:
        holder.kill()
        holder.wait()
    assert grant.granted and not grant.shared
    warnings = [r.getMessage() for r in caplog.records if "cannot be reached" in r.getMessage()]
    assert len(warnings) == 1 and "database is locked" in warnings[0], warnings
    assert str(tmp_path / FILE_NAME) in warnings[0] and "paces itself at 1 call(s) per" in warnings[0]

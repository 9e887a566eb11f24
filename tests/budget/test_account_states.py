"""Issue 21: what each budget store tells the Oktopost page (``note_account`` / ``account_states``).

Every store keeps an index of the accounts that used it, with non-secret notes, and answers a read-only
picture of each: calls in the window and on the UTC day, the block, the notes. Another connection to the same
store (another process, in a deployment) sees the same picture. Redis finds its accounts in one set, never
with SCAN.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from budget_support import empty

from airflow_provider_oktopost._core.budget.local_disk import LocalDiskStore
from airflow_provider_oktopost._core.budget.memory import MemoryStore
from airflow_provider_oktopost._core.budget.redis_server import RedisStore
from airflow_provider_oktopost._core.budget.registry import budget_for
from airflow_provider_oktopost._core.budget.settings import BudgetSettings
from airflow_provider_oktopost._core.budget.snapshot import INDEX_NAME
from airflow_provider_oktopost.testing.budget import reset_budgets

KINDS = ["memory", "local", "redis"]


def _store(kind: str, redis_url: str, directory: Path) -> Any:
    if kind == "memory":
        return MemoryStore()
    return LocalDiskStore(directory) if kind == "local" else RedisStore(redis_url)


@pytest.mark.parametrize("kind", KINDS)
def test_a_store_describes_the_accounts_it_knows(kind: str, redis_url: str, tmp_path: Path) -> None:
    store = _store(kind, redis_url, tmp_path)
    empty(store)
    for _ in range(3):
        assert store.reserve("acct-a", limit=50, window=60, day_limit=100, max_wait=1).granted
    store.reserve("acct-unnoted", limit=50, window=60, day_limit=100, max_wait=1)
    store.block("acct-a", 60)
    store.note_account("acct-a", {"api_host": "https://api.oktopost.com/v2", "account_id": "001a"})
    store.note_account("acct-a", {"last_429_at": "1.5", "waits@host:1": "4 99"})
    store.note_account("acct-b", {"account_id": "001b"})
    before = time.time()

    states = {state["key"]: state for state in store.account_states(60)}
    assert set(states) == {"acct-a", "acct-b"}  # only accounts someone noted: the index, not a scan
    a = states["acct-a"]
    assert (a["minute"], a["today"]) == (3, 3)
    assert before + 55 < a["blocked_until"] <= before + 61
    assert a["notes"] == {
        "api_host": "https://api.oktopost.com/v2",
        "account_id": "001a",
        "last_429_at": "1.5",
        "waits@host:1": "4 99",
    }
    assert (states["acct-b"]["minute"], states["acct-b"]["today"], states["acct-b"]["blocked_until"]) == (
        0,
        0,
        0,
    )
    assert [s["key"] for s in store.account_states(60, ["acct-b", "nobody"])] == ["acct-b"]
    if kind != "memory":  # another connection (another process of the deployment) sees the same
        other = _store(kind, redis_url, tmp_path)
        assert {s["key"]: s["minute"] for s in other.account_states(60)} == {"acct-a": 3, "acct-b": 0}


@pytest.mark.parametrize("kind", KINDS)
def test_a_store_refuses_notes_it_does_not_know(kind: str, redis_url: str, tmp_path: Path) -> None:
    store = _store(kind, redis_url, tmp_path)
    with pytest.raises(ValueError, match="password"):
        store.note_account("acct-a", {"password": "x"})


def test_redis_keeps_its_accounts_in_one_set(redis_url: str) -> None:
    import redis

    store = RedisStore(redis_url)
    empty(store)
    store.note_account("acct-z", {"account_id": "001z"})
    client = redis.Redis.from_url(redis_url)
    assert client.smembers(INDEX_NAME) == {b"acct-z"}
    assert client.hgetall("oktopost:{acct-z}:notes") == {b"account_id": b"001z"}


def test_the_budget_notes_who_the_account_is_on_first_use(tmp_path: Path) -> None:
    reset_budgets()
    settings = BudgetSettings(directory=str(tmp_path))
    budget = budget_for("https://user:pa55@proxy.example:8443/v2", "001x", 7, settings)
    assert budget.store.account_states(60) == []  # nothing written before a call
    budget.reserve(60)
    budget.block(30)
    [state] = budget.store.account_states(60)
    notes = state["notes"]
    assert notes["api_host"] == "https://proxy.example:8443/v2"  # never the URL's user or password
    assert (notes["account_id"], notes["per_minute"], notes["daily_limit"]) == ("001x", "7", "20000")
    assert notes["polling_day_limit"] == "18000"
    assert float(notes["block_seconds"]) == 30 and float(notes["last_429_at"]) <= time.time()
    assert "pa55" not in repr(state)
    reset_budgets()

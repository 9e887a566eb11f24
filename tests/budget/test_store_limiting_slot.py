"""The local store reads one slot per reservation (the ``limit``-th most recent), not the whole window:
the waits it hands out are still those of the sliding-window rules, as the in-memory store computes them."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_oktopost._core.budget.local_disk import LocalDiskStore
from airflow_provider_oktopost._core.budget.memory import MemoryStore


@pytest.mark.parametrize("limit", [1, 3, 7])
def test_local_store_waits_match_the_rules(tmp_path: Path, limit: int) -> None:
    local, memory = LocalDiskStore(tmp_path), MemoryStore()
    waits = []
    for _ in range(3 * limit + 2):
        a = local.reserve("acct", limit=limit, window=60, day_limit=10_000, max_wait=1_000)
        b = memory.reserve("acct", limit=limit, window=60, day_limit=10_000, max_wait=1_000)
        assert a.granted and b.granted and a.day_used == b.day_used
        assert a.wait == pytest.approx(b.wait, abs=0.5)
        waits.append(round(a.wait / 60))
    # limit calls now, the next limit a window later, and so on: never more than limit in any window
    assert waits == [n // limit for n in range(3 * limit + 2)]
    refused = local.reserve("acct", limit=limit, window=60, day_limit=10_000, max_wait=1)
    assert not refused.granted and refused.wait == pytest.approx((3 * limit + 2) // limit * 60, abs=1)


def test_a_full_window_below_a_large_limit_does_not_wait(tmp_path: Path) -> None:
    store = LocalDiskStore(tmp_path)
    for _ in range(500):
        assert store.reserve("acct", limit=1_000, window=60, day_limit=10_000, max_wait=0).wait == 0
    assert store.reserve("acct", limit=500, window=60, day_limit=10_000, max_wait=0).granted is False


def test_slots_written_without_the_count_are_counted(tmp_path: Path) -> None:
    """A file from before ``slot_counts`` existed, and a writer that knows nothing of it (an older provider
    version on the same machine): the count still covers every slot, so the limit still holds."""
    import sqlite3
    import time

    path = tmp_path / "budget.sqlite3"
    old = sqlite3.connect(path, isolation_level=None)
    old.executescript(
        "CREATE TABLE slots (key TEXT NOT NULL, at REAL NOT NULL);"
        "CREATE INDEX slots_key_at ON slots (key, at);"
    )
    now = time.time()
    old.executemany("INSERT INTO slots (key, at) VALUES ('acct', ?)", [(now,)] * 3)
    store = LocalDiskStore(tmp_path)
    assert store.reserve("acct", limit=3, window=60, day_limit=10_000, max_wait=1).granted is False
    old.executemany("INSERT INTO slots (key, at) VALUES ('other', ?)", [(now,)] * 2)  # after the upgrade
    assert store.reserve("other", limit=3, window=60, day_limit=10_000, max_wait=1).granted
    assert store.reserve("other", limit=3, window=60, day_limit=10_000, max_wait=1).granted is False
    old.close()

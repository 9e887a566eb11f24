"""The shared stores themselves: the UTC day, and the shared listings connects use."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from airflow_provider_oktopost.core.budget.local_disk import LocalDiskStore
from airflow_provider_oktopost.core.budget.redis_server import RedisStore
from airflow_provider_oktopost.core.budget.rules import DAY


def clear_of_midnight(margin: float = 10.0) -> None:
    """Sleep past midnight UTC when it is under ``margin`` s away: the checks below must not straddle it."""
    left = DAY - time.time() % DAY
    if left < margin:
        time.sleep(left + 1)


@pytest.mark.parametrize("kind", ["local", "redis"])
def test_the_day_ends_at_midnight_utc_for_every_process(kind: str, redis_url: str, tmp_path: Path) -> None:
    store = LocalDiskStore(tmp_path) if kind == "local" else RedisStore(redis_url)
    store.clear()
    key = f"day-{kind}"
    clear_of_midnight()
    for n in range(3):
        grant = store.reserve(key, limit=50, window=60, day_limit=3, max_wait=1)
        assert grant.granted and grant.wait == 0 and grant.day_used == n + 1
    # A max_wait shorter than the time left to midnight (clear_of_midnight): the day's budget is spent.
    refused = store.reserve(key, limit=50, window=60, day_limit=3, max_wait=1)
    until_midnight = DAY - time.time() % DAY
    assert not refused.granted
    assert refused.wait == pytest.approx(until_midnight, abs=2)  # this machine's clock and the server's agree
    # Another process (another connection to the same store) sees the same day.
    other = LocalDiskStore(tmp_path) if kind == "local" else RedisStore(redis_url)
    assert not other.reserve(key, limit=50, window=60, day_limit=3, max_wait=1).granted
    granted = other.reserve(key, limit=50, window=60, day_limit=3, max_wait=DAY)
    assert granted.granted and granted.day_used == 1  # the first call of the next day


@pytest.mark.parametrize("kind", ["local", "redis"])
def test_shared_listings(kind: str, redis_url: str, tmp_path: Path) -> None:
    store = LocalDiskStore(tmp_path) if kind == "local" else RedisStore(redis_url)
    store.clear()
    assert store.get_listing("acct:cd", 600) is None
    store.add_to_listing("acct:cd", "014new", "0CNnew")  # no listing yet: nothing to add to
    assert store.get_listing("acct:cd", 600) is None
    store.put_listing("acct:cd", {"014a": "0CNa"})
    store.put_listing("acct:ga", {"014g": "0CNg"})
    store.add_to_listing("acct:cd", "014new", "0CNnew")
    assert store.get_listing("acct:cd", 600) == {"014a": "0CNa", "014new": "0CNnew"}
    time.sleep(0.05)
    assert store.get_listing("acct:cd", 0.01) is None  # too old for this caller
    store.forget_listings("acct:")
    assert store.get_listing("acct:cd", 600) is None and store.get_listing("acct:ga", 600) is None

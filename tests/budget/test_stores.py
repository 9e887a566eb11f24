"""The shared stores themselves: the UTC day, and the shared listings connects use."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from budget_support import empty

from airflow_provider_oktopost._core.budget.local_disk import LocalDiskStore
from airflow_provider_oktopost._core.budget.memory import MemoryStore
from airflow_provider_oktopost._core.budget.redis_server import RedisStore
from airflow_provider_oktopost._core.budget.rules import DAY
from airflow_provider_oktopost._core.budget.store import Store

KINDS = ["memory", "local", "redis"]


def clear_of_midnight(margin: float = 10.0) -> None:
    """Sleep past midnight UTC when it is under ``margin`` s away: the checks below must not straddle it."""
    left = DAY - time.time() % DAY
    if left < margin:
        time.sleep(left + 1)


@pytest.mark.parametrize("kind", ["local", "redis"])
def test_the_day_ends_at_midnight_utc_for_every_process(kind: str, redis_url: str, tmp_path: Path) -> None:
    store = LocalDiskStore(tmp_path) if kind == "local" else RedisStore(redis_url)
    empty(store)
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


def _store(kind: str, redis_url: str, tmp_path: Path) -> Store:
    store: Store = {
        "memory": MemoryStore,
        "local": lambda: LocalDiskStore(tmp_path),
        "redis": lambda: RedisStore(redis_url),
    }[kind]()
    empty(store)  # a store this test made (its own file, its own server)
    return store


@pytest.mark.parametrize("kind", KINDS)
def test_shared_listings(kind: str, redis_url: str, tmp_path: Path) -> None:
    store = _store(kind, redis_url, tmp_path)
    assert store.get_listing("acct:cd", 600) is None
    store.add_to_listing("acct:cd", "014new", "0CNnew")  # no listing yet: remembered for reads running
    assert store.get_listing("acct:cd", 600) is None
    began = store.now()
    store.put_listing("acct:cd", {"014a": "0CNa"}, began)
    store.put_listing("acct:ga", {"014g": "0CNg"}, store.now())
    assert store.get_listing("acct:cd", 600) == {"014a": "0CNa", "014new": "0CNnew"}
    store.add_to_listing("acct:cd", "014two", "0CNtwo")
    assert store.get_listing("acct:cd", 600) == {"014a": "0CNa", "014new": "0CNnew", "014two": "0CNtwo"}
    time.sleep(0.05)
    assert store.get_listing("acct:cd", 0.01) is None  # too old for this caller
    store.forget_listings("acct:")
    assert store.get_listing("acct:cd", 600) is None and store.get_listing("acct:ga", 600) is None


@pytest.mark.parametrize("kind", KINDS)
def test_a_connect_during_a_listing_read_is_kept_and_the_listing_is_dated_by_the_reads_start(
    kind: str, redis_url: str, tmp_path: Path
) -> None:
    """The lost update: process A starts reading the pages, process B connects (its integration on a page
    A has already read), A shares what it read. B's integration must stay in the shared listing."""
    store = _store(kind, redis_url, tmp_path)
    began = store.now()  # A begins its read
    time.sleep(0.3)
    store.add_to_listing("acct:cd", "014b", "0CNb")  # B's connect finishes during the read
    time.sleep(0.3)
    store.put_listing("acct:cd", {"014a": "0CNa"}, began)  # A's pages did not show 014b
    assert store.get_listing("acct:cd", 600) == {"014a": "0CNa", "014b": "0CNb"}
    # Dated by when the read began, not when it was shared: its age counts the read.
    assert store.get_listing("acct:cd", 0.45) is None
    # An older read that finishes later does not replace a newer listing.
    store.put_listing("acct:cd", {"014old": "0CNold"}, began - 10)
    assert store.get_listing("acct:cd", 600) == {"014a": "0CNa", "014b": "0CNb"}


@pytest.mark.parametrize("kind", KINDS)
def test_a_read_that_began_before_a_delete_is_not_shared(kind: str, redis_url: str, tmp_path: Path) -> None:
    store = _store(kind, redis_url, tmp_path)
    began = store.now()  # the read may still show the integration deleted below
    time.sleep(0.05)
    store.forget_listings("acct:")  # a delete (or a CNAME change) during the read
    store.put_listing("acct:cd", {"014gone": "0CNa"}, began)
    assert store.get_listing("acct:cd", 600) is None
    store.put_listing("acct:cd", {"014a": "0CNa"}, store.now())  # a read that began after it is shared
    assert store.get_listing("acct:cd", 600) == {"014a": "0CNa"}


def test_no_task_path_scans_the_keyspace_or_touches_other_keys(redis_url: str) -> None:
    """Reservations, blocks and every listing action, as tasks use them: no SCAN/KEYS on the server, and
    the keys of others sharing the server (Celery's broker keys) are never touched."""
    import redis

    client = redis.Redis.from_url(redis_url)
    client.set("_kombu.binding.celery", "celery-owned")
    client.lpush("celery", "a queued task")
    before = {k for k in client.keys("*") if not k.startswith(b"oktopost:")}
    client.config_resetstat()
    store = RedisStore(redis_url)
    key = "scan-check"
    store.reserve(key, limit=5, window=60, day_limit=100, max_wait=1)
    store.block(key, 0.1)
    store.put_listing(f"{key}:cd", {"014a": "0CNa"}, store.now())
    store.add_to_listing(f"{key}:cd", "014b", "0CNb")
    assert store.get_listing(f"{key}:cd", 600) == {"014a": "0CNa", "014b": "0CNb"}
    store.forget_listings(f"{key}:")
    stats = client.info("commandstats")
    assert not [name for name in stats if name in ("cmdstat_scan", "cmdstat_keys")], sorted(stats)
    assert {k for k in client.keys("*") if not k.startswith(b"oktopost:")} == before
    assert client.get("_kombu.binding.celery") == b"celery-owned" and client.llen("celery") == 1
    client.delete("_kombu.binding.celery", "celery")

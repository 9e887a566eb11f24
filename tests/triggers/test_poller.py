"""The coalesced per-account poller, driven through real triggers against the sandbox over HTTP.

Time is the test's: ``clock.wall``/``monotonic``/``async_sleep`` are patched (the poller is the only thing
that sleeps, and every sleep also moves the sandbox clock), so a run of many simulated minutes takes a
fraction of a second and the call counts are exact.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from typing import Any

import pytest
from support import SimClock

from airflow_provider_oktopost.testing import Fault, OktopostSandbox
from airflow_provider_oktopost.triggers import _poller as poller_mod
from airflow_provider_oktopost.triggers.oktopost import OktopostIntegrationTrigger

GET_ONE = r"/v2/integration/[^/]+"
LIST = r"/v2/integration"


@pytest.fixture
def fake(oktopost_connection_env: OktopostSandbox, monkeypatch: pytest.MonkeyPatch) -> SimClock:
    """Time moves only when the poller sleeps; scheduled sandbox changes run as it passes them."""
    return SimClock(oktopost_connection_env, start=1_800_000_000.0).install(monkeypatch)


@pytest.fixture
def reads(fake: SimClock, monkeypatch: pytest.MonkeyPatch) -> dict[str, list[float]]:
    """When each integration was read (by a listing or individually), in fake seconds from the start."""
    seen: dict[str, list[float]] = {}
    real = poller_mod.Waiter.deliver

    def deliver(self: poller_mod.Waiter, reading: Any) -> None:
        if reading is not poller_mod.WAKE and not self.done:
            seen.setdefault(self.integration_id, []).append(fake.now - fake.start)
        real(self, reading)

    monkeypatch.setattr(poller_mod.Waiter, "deliver", deliver)
    return seen


def trigger(integration_id: str, fake: SimClock, **kwargs: Any) -> OktopostIntegrationTrigger:
    kwargs.setdefault("poll_interval", 60)
    kwargs.setdefault("end_time", fake.now + 3600)
    return OktopostIntegrationTrigger(integration_id, **kwargs)


async def events_of(*triggers: OktopostIntegrationTrigger) -> list[dict[str, Any]]:
    async def one(t: OktopostIntegrationTrigger) -> dict[str, Any]:
        [event] = [e.payload async for e in t.run()]
        return dict(event)

    return list(await asyncio.gather(*(one(t) for t in triggers)))


async def run_all(*triggers: OktopostIntegrationTrigger) -> list[dict[str, Any]]:
    events = await events_of(*triggers)
    assert poller_mod.active_pollers() == []  # the last waiter to leave stopped the poller
    return list(events)


def requests_for(sandbox: OktopostSandbox, integration_id: str) -> list[float]:
    return [r.time for r in sandbox.requests if r.method == "GET" and r.path.endswith("/" + integration_id)]


def lists(sandbox: OktopostSandbox) -> list[dict[str, str]]:
    return [r.query for r in sandbox.requests if r.method == "GET" and re.fullmatch(LIST, r.path)]


def add(sandbox: OktopostSandbox, n: int, **kwargs: Any) -> list[str]:
    return [sandbox.add_integration(**kwargs)["Id"] for _ in range(n)]


async def test_many_waiters_share_listing_pages_filtered_by_their_type(
    oktopost_connection_env: OktopostSandbox, fake: SimClock
) -> None:
    sandbox = oktopost_connection_env
    add(sandbox, 500, type="cd")
    waited = add(sandbox, 30, type="ga", status="invalid")
    fake.at(150, lambda: [sandbox.set_status(i, "valid") for i in waited])
    events = await run_all(*(trigger(i, fake) for i in waited))
    assert [e["status"] for e in events] == ["success"] * 30
    # Cycles at t=0, 60, 120 (invalid) and 180 (valid): 30 waiters, never 30 calls a cycle.
    assert fake.sleeps == [60, 60, 60]
    assert sandbox.count("GET", GET_ONE) == 0
    queries = lists(sandbox)
    # Cycle 1: type unknown, 530 integrations: all 6 unfiltered pages (fewer than 30 reads).
    assert [q.get("type") for q in queries[:6]] == [None] * 6
    # Then every waiter is known to be "ga": one filtered page per cycle.
    assert [(q.get("type"), q["_page"], q["_count"]) for q in queries[6:]] == [("ga", "0", "100")] * 3
    assert sandbox.rate_limited_count == 0


async def test_few_waiters_are_read_one_by_one(
    oktopost_connection_env: OktopostSandbox, fake: SimClock
) -> None:
    sandbox = oktopost_connection_env
    add(sandbox, 500)
    a, b = add(sandbox, 2, status="invalid")
    fake.at(250, lambda: [sandbox.set_status(i, "valid") for i in (a, b)])
    events = await run_all(trigger(a, fake), trigger(b, fake))
    assert [e["status"] for e in events] == ["success", "success"]
    # At most two cycles probe one listing page each (unknown Total, then unknown Total of type "cd");
    # once 6 pages are known to cost more than 2 reads, every cycle is exactly the 2 individual reads.
    assert len(lists(sandbox)) == 2
    last_list = max(i for i, r in enumerate(sandbox.requests) if re.fullmatch(LIST, r.path))
    cycles: dict[int, list[str]] = {}
    for r in sandbox.requests[last_list + 1 :]:
        cycles.setdefault(round(r.time - sandbox.requests[0].time), []).append(r.path)
    assert len(cycles) >= 2
    assert all(
        sorted(paths) == sorted([f"/v2/integration/{a}", f"/v2/integration/{b}"]) for paths in cycles.values()
    )


async def test_a_single_waiter_behaves_like_the_old_trigger(
    oktopost_connection_env: OktopostSandbox, fake: SimClock
) -> None:
    sandbox = oktopost_connection_env
    [one] = add(sandbox, 1, status="invalid")
    fake.at(100, lambda: sandbox.set_status(one, "valid"))
    [event] = await run_all(trigger(one, fake, poll_interval=45))
    assert event["status"] == "success"
    assert fake.sleeps == [45, 45, 45]
    assert sandbox.count() == sandbox.count("GET", GET_ONE) == 4


async def test_waiters_that_leave_are_no_longer_read_and_the_last_closes_the_pool(
    oktopost_connection_env: OktopostSandbox, fake: SimClock, reads: dict[str, list[float]]
) -> None:
    sandbox = oktopost_connection_env
    done, late, cancelled = add(sandbox, 3, status="invalid")
    fake.at(90, lambda: sandbox.set_status(done, "valid"))
    seen: dict[str, Any] = {}

    async def observe() -> None:
        while not poller_mod.active_pollers():
            await asyncio.sleep(0)
        [p] = poller_mod.active_pollers()
        seen["poller"] = p
        while fake.now < fake.start + 400:
            await asyncio.sleep(0)
        task.cancel()

    task = asyncio.ensure_future(events_of(trigger(cancelled, fake)))
    watcher = asyncio.ensure_future(observe())
    ok, timed_out = await events_of(trigger(done, fake), trigger(late, fake, end_time=fake.now + 200))
    assert ok["status"] == "success"
    assert timed_out["status"] == "timeout"
    await watcher
    with pytest.raises(asyncio.CancelledError):
        await task
    p = seen["poller"]
    assert p.stopped and p.http_client is None and poller_mod.active_pollers() == []
    # Success at t=120 (read at 0, 60, 120); the timed-out one is not read at or after its deadline
    # (t=200); the cancelled one is read until it is cancelled at t=400 (the cycle that woke the late one
    # at its deadline read it too, as it would have been overdue before the next cycle).
    assert reads[done] == [0, 60, 120]
    assert reads[late] == [0, 60, 120, 180]
    assert reads[cancelled] == [0, 60, 120, 180, 200, 260, 320, 380]
    count = sandbox.count()
    await asyncio.sleep(0)
    assert sandbox.count() == count  # nothing polls any more


async def test_cancelled_last_waiter_closes_the_shared_pool(
    oktopost_connection_env: OktopostSandbox, fake: SimClock
) -> None:
    sandbox = oktopost_connection_env
    [one] = add(sandbox, 1, status="invalid")
    gen = trigger(one, fake).run()
    first = asyncio.ensure_future(gen.__anext__())
    while not poller_mod.active_pollers() or poller_mod.active_pollers()[0].http_client is None:
        await asyncio.sleep(0)
    [p] = poller_mod.active_pollers()
    pool = p.http_client
    assert pool is not None
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert pool.is_closed
    assert poller_mod.active_pollers() == []


async def test_one_waiters_error_does_not_fail_the_others(
    oktopost_connection_env: OktopostSandbox, fake: SimClock
) -> None:
    sandbox = oktopost_connection_env
    ids = add(sandbox, 120, status="invalid")
    fake.at(100, lambda: [sandbox.set_status(i, "valid") for i in ids])
    triggers = [trigger(i, fake) for i in ids] + [trigger("014doesnotexist", fake)]
    events = await run_all(*triggers)
    assert [e["status"] for e in events[:-1]] == ["success"] * 120
    missing = events[-1]
    assert missing["status"] == "error" and "404" in missing["message"]
    assert missing["integration_id"] == "014doesnotexist"
    # Missing from a complete listing: confirmed with one read, once; the others kept being listed.
    assert requests_for(sandbox, "014doesnotexist") == requests_for(sandbox, "014doesnotexist")[:1]
    assert sandbox.count("GET", GET_ONE) == 1


async def test_a_429_pauses_the_whole_accounts_polling(
    oktopost_connection_env: OktopostSandbox, fake: SimClock
) -> None:
    sandbox = oktopost_connection_env
    a, b, c = add(sandbox, 3, status="invalid")
    fake.at(700, lambda: [sandbox.set_status(i, "valid") for i in (a, b, c)])
    # Another client used up the key: the first listing answers 429 with a 10-minute block.
    sandbox.inject(Fault(kind="status", status=429, method="GET", path=LIST, headers={"Retry-After": "600"}))
    events = await run_all(trigger(a, fake), trigger(b, fake), trigger(c, fake))
    assert [e["status"] for e in events] == ["success"] * 3
    times = sorted(r.time for r in sandbox.requests)
    t429 = next(r.time for r in sandbox.requests if r.status == 429)
    after = [t for t in times if t > t429]
    assert after and after[0] - t429 >= 600  # nothing at all was sent during the block, c included
    assert fake.sleeps[0] == 600


async def test_deadline_during_a_pause_still_times_out_on_time(
    oktopost_connection_env: OktopostSandbox, fake: SimClock
) -> None:
    sandbox = oktopost_connection_env
    [one] = add(sandbox, 1, status="invalid")
    sandbox.inject(
        Fault(kind="status", status=429, method="GET", path=GET_ONE, headers={"Retry-After": "900"})
    )
    [event] = await run_all(trigger(one, fake, end_time=fake.now + 100))
    assert event["status"] == "timeout"
    assert fake.now == fake.start + 100


async def test_accounts_stay_apart(
    oktopost_connection_env: OktopostSandbox, fake: SimClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = oktopost_connection_env
    sandbox.add_account("001otheraccount", "other-key-0123456789")
    conn = dict(sandbox.connection_dict(), login="001otheraccount", password="other-key-0123456789")
    monkeypatch.setenv("AIRFLOW_CONN_OKTOPOST_OTHER", json.dumps(conn))
    mine = add(sandbox, 2)
    theirs = [sandbox.add_integration(account_id="001otheraccount")["Id"] for _ in range(2)]
    pollers: set[int] = set()
    finished = asyncio.Event()

    async def observe() -> None:
        while not finished.is_set():
            pollers.update(id(p) for p in poller_mod.active_pollers())
            await asyncio.sleep(0)

    watcher = asyncio.ensure_future(observe())
    events = await run_all(
        *(trigger(i, fake) for i in mine),
        *(trigger(i, fake, oktopost_conn_id="oktopost_other") for i in theirs),
    )
    finished.set()
    await watcher
    # Each account read its own integrations with its own key (a mixed-up key would get 404s).
    assert [e["status"] for e in events] == ["success"] * 4
    assert len(pollers) == 2


async def test_no_waiter_starves_and_each_poll_interval_is_honoured(
    oktopost_connection_env: OktopostSandbox, fake: SimClock, reads: dict[str, list[float]]
) -> None:
    sandbox = oktopost_connection_env
    fast, slow = add(sandbox, 2, status="invalid")
    fake.at(1000, lambda: [sandbox.set_status(i, "valid") for i in (fast, slow)])
    await run_all(trigger(fast, fake, poll_interval=30), trigger(slow, fake, poll_interval=120))
    fast_gaps = [b - a for a, b in itertools.pairwise(reads[fast])]
    slow_gaps = [b - a for a, b in itertools.pairwise(reads[slow])]
    assert fast_gaps and all(g == 30 for g in fast_gaps)
    # The slow waiter is read at least every 120 s, and individually not more often than that: the reads
    # it gets in between come for free with a listing page that was fetched anyway.
    assert slow_gaps and all(g <= 120 for g in slow_gaps)
    solo = requests_for(sandbox, slow)
    assert all(b - a >= 90 for a, b in itertools.pairwise(solo))
    assert reads[fast][-1] == 1020 and reads[slow][-1] >= 1020


async def test_a_failing_cycle_is_logged_and_polling_continues(
    oktopost_connection_env: OktopostSandbox, fake: SimClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = oktopost_connection_env
    [one] = add(sandbox, 1)
    real = poller_mod.AccountPoller._cycle
    calls = {"n": 0}

    async def flaky(self: poller_mod.AccountPoller) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("bug in a cycle")
        await real(self)

    monkeypatch.setattr(poller_mod.AccountPoller, "_cycle", flaky)
    [event] = await run_all(trigger(one, fake))
    assert event["status"] == "success"
    assert calls["n"] == 2


async def test_a_dead_poller_gives_its_waiters_an_error(
    oktopost_connection_env: OktopostSandbox, fake: SimClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = oktopost_connection_env
    ids = add(sandbox, 2, status="invalid")

    class Fatal(BaseException):
        pass

    async def fatal(self: poller_mod.AccountPoller) -> None:
        raise Fatal("poller killed")

    monkeypatch.setattr(poller_mod.AccountPoller, "_cycle", fatal)

    async def one(t: OktopostIntegrationTrigger) -> dict[str, Any]:
        [event] = [dict(e.payload) async for e in t.run()]
        return event

    events = await asyncio.wait_for(asyncio.gather(*(one(trigger(i, fake)) for i in ids)), timeout=10)
    assert [e["status"] for e in events] == ["failed", "failed"]  # retryable (issue 10)
    assert "poller" in events[0]["message"]

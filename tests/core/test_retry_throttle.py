"""Backoff and the per-account budget, with time controlled by the test."""

from __future__ import annotations

import random

import pytest

from airflow_provider_oktopost.core import clock, throttle
from airflow_provider_oktopost.core.retry import RetryPolicy


def test_backoff_is_capped_exponential_with_jitter() -> None:
    policy = RetryPolicy(max_retries=6, base_delay=1, max_delay=8, rng=random.Random(1))
    delays = [policy.delay(n) for n in range(6)]
    ceilings = [1, 2, 4, 8, 8, 8]
    for delay, ceiling in zip(delays, ceilings, strict=True):
        assert delay is not None and ceiling / 2 <= delay <= ceiling
    assert policy.delay(6) is None


def test_server_hint_wins_but_long_hints_are_not_slept() -> None:
    policy = RetryPolicy(max_retries=3, max_wait=60)
    assert policy.delay(0, hint=12) == 12
    assert policy.delay(0, hint=900) is None
    with pytest.raises(ValueError, match="max_retries"):
        RetryPolicy(max_retries=-1)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(clock, "monotonic", fake.monotonic)
    return fake


def test_throttle_never_allows_more_than_the_budget_in_any_window(fake_clock: FakeClock) -> None:
    bucket = throttle.Throttle(per_minute=5)
    sent: list[float] = []
    for _ in range(23):
        wait = bucket.reserve()
        sent.append(fake_clock.now + wait)
        fake_clock.now += 0.5
    for start in sent:
        assert sum(1 for t in sent if start <= t < start + 60) <= 5
    assert sent[:5] == [1000.0, 1000.5, 1001.0, 1001.5, 1002.0]
    assert sent[5] == 1060.0


def test_throttle_pause_holds_everyone(fake_clock: FakeClock) -> None:
    bucket = throttle.Throttle(per_minute=50)
    bucket.pause(30)
    assert bucket.reserve() == 30
    assert bucket.paused_for == 30
    fake_clock.now += 31
    assert bucket.reserve() == 0


def test_registry_shares_per_account() -> None:
    throttle.reset_registry()
    a = throttle.throttle_for("https://api", "001a")
    assert throttle.throttle_for("https://api", "001a") is a
    assert throttle.throttle_for("https://api", "001b") is not a
    assert throttle.throttle_for("https://eu", "001a") is not a
    assert throttle.throttle_for("https://api", "001a", per_minute=20) is a
    assert a.per_minute == 20
    assert throttle.throttle_for("https://api", "001a", per_minute=40) is a
    assert a.per_minute == 20
    with pytest.raises(ValueError):
        throttle.Throttle(0)

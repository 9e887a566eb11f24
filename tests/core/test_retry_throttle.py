"""Backoff and the per-account budget, with time controlled by the test."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from airflow_provider_oktopost._core import clock
from airflow_provider_oktopost._core.budget.account import AccountBudget
from airflow_provider_oktopost._core.budget.registry import budget_for
from airflow_provider_oktopost._core.budget.settings import ARRIVAL_ALLOWANCE_SHARE, BudgetSettings
from airflow_provider_oktopost._core.retry import RetryPolicy
from airflow_provider_oktopost.testing.budget import reset_budgets


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

    def wall(self) -> float:
        return self.now


#: Seconds a call may arrive late (the budget's arrival allowance in a real minute).
ALLOWANCE = 60 * ARRIVAL_ALLOWANCE_SHARE


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(clock, "wall", fake.wall)
    return fake


@pytest.fixture(params=["memory", "local"])
def budget(request: pytest.FixtureRequest, tmp_path: Path) -> AccountBudget:
    """One account's budget in each in-machine store (the cross-process tests live in tests/budget)."""
    reset_budgets()
    settings = BudgetSettings(store=request.param, directory=str(tmp_path))
    return budget_for("https://api", "001a", per_minute=5, settings=settings)


def test_budget_never_allows_more_than_the_limit_in_any_window(
    fake_clock: FakeClock, budget: AccountBudget
) -> None:
    sent: list[float] = []
    for _ in range(23):
        grant = budget.reserve(max_wait=1e9)
        assert grant.granted
        sent.append(fake_clock.now + grant.wait)
        fake_clock.now += 0.5
    # Oktopost's minute plus the 2 s a call may arrive late: no such span holds more than the rate.
    for start in sent:
        assert sum(1 for t in sent if start <= t < start + 60 + ALLOWANCE) <= 5
    assert sent[:5] == [1000.0, 1000.5, 1001.0, 1001.5, 1002.0]
    assert sent[5] == 1000.0 + 60 + ALLOWANCE == 1062.0


def test_a_wait_beyond_the_bound_takes_no_slot(fake_clock: FakeClock, budget: AccountBudget) -> None:
    for _ in range(5):
        assert budget.reserve(max_wait=60).wait == 0
    refused = budget.reserve(max_wait=30)
    assert not refused.granted and refused.wait == 62
    # Nothing was recorded for the refused call: the next caller with a longer bound gets the same slot.
    assert budget.reserve(max_wait=62).wait == 62
    assert budget.reserve(max_wait=62).wait == 62.0 + 0  # the second-oldest slot frees at the same time


def test_a_block_holds_everyone(fake_clock: FakeClock, budget: AccountBudget) -> None:
    budget.block(30)
    grant = budget.reserve(max_wait=60)
    assert grant.wait == 30 and grant.blocked_for == 30
    fake_clock.now += 31
    assert budget.reserve(max_wait=60).wait == 0


def test_the_day_limit_moves_calls_past_midnight_utc(fake_clock: FakeClock, tmp_path: Path) -> None:
    reset_budgets()
    settings = BudgetSettings(store="local", directory=str(tmp_path), daily_limit=3)
    budget = budget_for("https://api", "001a", per_minute=50, settings=settings)
    fake_clock.now = 86_400 * 20_000 - 10  # ten seconds before midnight UTC
    assert [budget.reserve(max_wait=60).wait for _ in range(3)] == [0, 0, 0]
    grant = budget.reserve(max_wait=3600)
    assert grant.granted and grant.wait == 10 and grant.day_used == 1


def test_polling_slows_down_when_the_day_runs_low(fake_clock: FakeClock, tmp_path: Path) -> None:
    reset_budgets()
    settings = BudgetSettings(store="memory", daily_limit=100, share_for_other_tools=0.5)
    budget = budget_for("https://api", "001a", per_minute=50, settings=settings)
    fake_clock.now = 86_400 * 20_000  # midnight: a whole day ahead
    budget.reserve(max_wait=60)
    assert budget.polling_pace() == pytest.approx(86_400 / 49)  # 50 for polling, 1 used
    for _ in range(49):
        budget.reserve(max_wait=1e9)
    assert budget.polling_pace() == pytest.approx(86_400)  # polling's share is spent: until midnight


def test_polling_runs_at_the_minutes_pace_while_more_than_an_hour_of_calls_is_left(
    fake_clock: FakeClock,
) -> None:
    reset_budgets()
    settings = BudgetSettings(store="memory", daily_limit=20_000, share_for_other_tools=0.1)
    budget = budget_for("https://api", "001a", per_minute=50, settings=settings)
    fake_clock.now = 86_400 * 20_000 + 2 * 3600  # 02:00 UTC: 22 hours to midnight
    budget.reserve(max_wait=60)
    # 17,999 left for polling: more than an hour at 50 a minute (3,000), so no slow-down, although spreading
    # them evenly until midnight would allow only one call every 4.4 s.
    assert budget.polling_pace() == 0.0
    settings = BudgetSettings(store="memory", daily_limit=3_300, share_for_other_tools=0.0)
    budget = budget_for("https://api", "001b", per_minute=50, settings=settings)
    for _ in range(301):
        budget.reserve(max_wait=1e9)
    # 2,999 left: less than an hour's worth, so they are spread over the 22 hours to midnight.
    assert budget.polling_pace() == pytest.approx(22 * 3600 / 2_999, rel=0.01)


def test_registry_shares_per_account() -> None:
    reset_budgets()
    a = budget_for("https://api", "001a")
    assert budget_for("https://api", "001a") is a
    assert budget_for("https://api", "001b") is not a
    assert budget_for("https://eu", "001a") is not a
    assert budget_for("https://api", "001a", per_minute=20) is a
    assert a.per_minute == 20
    assert budget_for("https://api", "001a", per_minute=40) is a
    assert a.per_minute == 20
    with pytest.raises(ValueError):
        budget_for("https://api", "001c", per_minute=0)

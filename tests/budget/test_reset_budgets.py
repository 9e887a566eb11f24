"""The testing tools' budget resets (``testing.budget``) and the test-only window of the budget."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_oktopost._core.budget.local_disk import LocalDiskStore
from airflow_provider_oktopost._core.budget.registry import budget_for
from airflow_provider_oktopost._core.budget.settings import TESTING_WINDOW_ENV, BudgetSettings
from airflow_provider_oktopost._core.config import budget_settings
from airflow_provider_oktopost.testing.budget import reset_budgets, use_private_directory

HOST = "https://api.oktopost.com/v2"


def _used(directory: Path, account: str) -> None:
    budget = budget_for(HOST, account, 50, BudgetSettings(store="local", directory=str(directory)))
    assert budget.reserve(60).granted
    budget.block(600)  # a live block, and notes about the account


def test_a_reset_empties_the_sessions_own_files_and_nothing_else(tmp_path: Path) -> None:
    own, deployment = tmp_path / "own", tmp_path / "deployment"
    use_private_directory(own)
    reset_budgets()
    _used(own, "001own")
    _used(deployment, "001live")
    before = budget_for(HOST, "001own", 50, BudgetSettings(store="local", directory=str(own)))

    reset_budgets()

    assert LocalDiskStore(own).account_states(60) == []  # the account notes too
    peek = LocalDiskStore(own).reserve("any", limit=50, window=60, day_limit=100, max_wait=-1)
    assert peek.blocked_for == 0
    [live] = LocalDiskStore(deployment).account_states(60)  # a store the session did not make: untouched
    assert live["notes"]["account_id"] == "001live" and live["blocked_until"] > live["now"] + 500
    assert live["minute"] == 1
    after = budget_for(HOST, "001own", 50, BudgetSettings(store="local", directory=str(own)))
    assert after is not before  # every budget of the process is forgotten
    assert after.reserve(-1).blocked_for == 0


def test_the_budget_counts_over_a_minute_unless_a_test_shortens_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TESTING_WINDOW_ENV, raising=False)
    assert BudgetSettings().window == 60.0
    # Not an Airflow option, not a connection extra: a deployment cannot shorten its minute.
    monkeypatch.setenv("AIRFLOW__OKTOPOST__BUDGET_WINDOW_SECONDS", "5")
    assert budget_settings("oktopost_default", {"budget_window_seconds": "5"}).window == 60.0
    monkeypatch.setenv(TESTING_WINDOW_ENV, "2.5")
    assert BudgetSettings().window == 2.5
    assert budget_settings("oktopost_default", {}).window == 2.5
    for wrong in ("0", "-1", "soon"):
        monkeypatch.setenv(TESTING_WINDOW_ENV, wrong)
        with pytest.raises(ValueError, match=TESTING_WINDOW_ENV):
            BudgetSettings()

"""A task never holds its worker slot for long waiting for its turn in the shared budget."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import TaskDeferred

from airflow_provider_oktopost._core import clock
from airflow_provider_oktopost._core.budget.settings import TESTING_WINDOW_ENV
from airflow_provider_oktopost.exceptions import OktopostBudgetWaitError, OktopostRateLimitError
from airflow_provider_oktopost.hooks.oktopost import OktopostHook
from airflow_provider_oktopost.operators.oktopost import OktopostListIntegrationsOperator
from airflow_provider_oktopost.testing import OktopostSandbox
from airflow_provider_oktopost.testing.budget import reset_budgets
from airflow_provider_oktopost.triggers.oktopost import OktopostWaitTrigger


class _TI:
    try_number = 1

    def xcom_push(self, key: str, value: Any) -> None:
        pass


@pytest.fixture
def spent_budget(
    oktopost_sandbox: OktopostSandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> OktopostSandbox:
    """A connection whose budget (2 calls a minute, wait bound 5 s) other processes just used up."""
    conn = oktopost_sandbox.connection_dict()
    conn["extra"] = {"rate_limit_per_minute": 2, "budget_max_wait": 5, "budget_dir": str(tmp_path)}
    monkeypatch.setenv("AIRFLOW_CONN_OKTOPOST_DEFAULT", json.dumps(conn))
    reset_budgets()
    budget = OktopostHook()._context.budget
    assert budget.reserve(max_wait=0).granted and budget.reserve(max_wait=0).granted
    return oktopost_sandbox


def test_without_deferral_the_try_fails_retryably_with_the_time(spent_budget: OktopostSandbox) -> None:
    op = OktopostListIntegrationsOperator(task_id="l", deferrable=False)
    with pytest.raises(OktopostRateLimitError, match=r"not sent.*no free call for (61|62)s") as caught:
        op.execute({"ti": _TI()})
    assert 57 <= caught.value.retry_after <= 62  # a minute and the arrival allowance
    assert isinstance(caught.value.__cause__, OktopostBudgetWaitError)
    assert spent_budget.count() == 0


def test_deferrable_defers_until_its_turn_without_counting_a_block(spent_budget: OktopostSandbox) -> None:
    op = OktopostListIntegrationsOperator(task_id="l", deferrable=True)
    before = clock.wall()
    with pytest.raises(TaskDeferred) as caught:
        op.execute({"ti": _TI()})
    trigger = caught.value.trigger
    assert isinstance(trigger, OktopostWaitTrigger)
    assert before + 57 <= trigger.moment <= clock.wall() + 62
    assert trigger.payload["deferrals"] == 0  # a turn in the queue is not a rate-limit block
    assert spent_budget.count() == 0


def test_a_short_wait_is_waited_in_the_worker(
    oktopost_sandbox: OktopostSandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from support import SimClock

    conn = oktopost_sandbox.connection_dict()
    conn["extra"] = {"rate_limit_per_minute": 2, "budget_dir": str(tmp_path)}
    monkeypatch.setenv("AIRFLOW_CONN_OKTOPOST_DEFAULT", json.dumps(conn))
    monkeypatch.setenv(TESTING_WINDOW_ENV, "4")  # a 4-second "minute" (test-only)
    reset_budgets()
    sim = SimClock(oktopost_sandbox).install(monkeypatch)
    hook = OktopostHook()
    for _ in range(3):
        hook.get_me()
    assert oktopost_sandbox.count() == 3
    assert [round(s) for s in sim.slept if s > 0] == [4]

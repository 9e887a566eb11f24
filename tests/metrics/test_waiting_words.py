"""The words of the "why am I waiting?" line for each reason, from a real budget (a memory store).

The end-to-end run (test_waiting_log.py) sees a minute hold and a 429 block; here the day's limit and a
deferral for a turn (no block) as well, with the reason each deferral is counted under.
"""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from airflow_provider_oktopost._core import observe
from airflow_provider_oktopost._core.budget import report
from airflow_provider_oktopost._core.budget.registry import budget_for
from airflow_provider_oktopost._core.budget.settings import BudgetSettings
from airflow_provider_oktopost._core.config import ClientConfig
from airflow_provider_oktopost.exceptions import OktopostBudgetWaitError
from airflow_provider_oktopost.testing.budget import reset_budgets

HOST = "https://api.oktopost.com/v2"


@pytest.fixture(autouse=True)
def _fresh_budgets() -> None:
    reset_budgets()


def test_a_full_minute_and_a_used_up_day_in_words() -> None:
    minute = budget_for(HOST, "001minute", 1, BudgetSettings(store="memory"))
    assert minute.reserve(60).granted
    peek = minute.reserve(-1)
    assert report.why_waiting(minute, peek) == "the minute is full (the budget allows 1 call per 60s)"

    day = budget_for(HOST, "001day", 50, BudgetSettings(store="memory", daily_limit=2))
    for _ in range(2):
        assert day.reserve(60).granted
    peek = day.reserve(-1)
    assert report.why_waiting(day, peek) == "the day's 2 calls are used up: the next call is after 00:00 UTC"
    polled = day.reserve(-1, polling=True)
    assert report.why_waiting(day, polled, polling=True).startswith(
        "polling's share of the day (1 calls) is used up"
    )


def test_a_deferral_for_a_turn_says_the_minute_is_full(caplog: pytest.LogCaptureFixture) -> None:
    config = ClientConfig(
        HOST, "001turn", "KEY-never-logged", rate_limit_per_minute=1, budget=BudgetSettings(store="memory")
    )
    budget = budget_for(HOST, "001turn", 1, config.budget)
    budget.reserve(60)
    budget.reserve(-1)  # the turn the task was refused
    error = OktopostBudgetWaitError("not sent", retry_after=58, blocked=False)
    with caplog.at_level(logging.WARNING, logger="airflow_provider_oktopost.budget"):
        observe.deferring(config, error)
    [line] = [r.getMessage() for r in caplog.records if "Oktopost account 001turn" in r.getMessage()]
    assert re.fullmatch(
        r"Oktopost account 001turn \(https://api\.oktopost\.com/v2\): the task defers for 58s "
        r"\(holding no worker slot\) for the call budget: the minute is full "
        r"\(the budget allows 1 call per 60s\)\. "
        r"Every account's budget: the Oktopost page of the Airflow UI \(.*/plugin/oktopost\)",
        line,
    ), line
    assert observe._why_refused(budget, error)[0] == "minute"  # the deferrals metric's reason tag
    assert "KEY-never-logged" not in caplog.text


def test_a_block_another_process_recorded_says_when_its_429_came(tmp_path: Path) -> None:
    code = (
        "import sys; from airflow_provider_oktopost._core.budget.settings import BudgetSettings; "
        "from airflow_provider_oktopost._core.budget.registry import budget_for; "
        f"b = budget_for({HOST!r}, '001other', 50, BudgetSettings(directory=sys.argv[1])); "
        "b.reserve(60); b.block(600); import time; print(time.time())"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True
    )
    at = float(result.stdout.strip().splitlines()[-1])
    budget = budget_for(HOST, "001other", 50, BudgetSettings(directory=str(tmp_path)))
    words = report.why_waiting(budget, budget.reserve(-1))
    hhmmss = time.strftime("%H:%M:%S", time.gmtime(at))
    assert re.fullmatch(r"blocked until \d\d:\d\d:\d\d UTC after a 429 at (\d\d:\d\d:\d\d) UTC", words), words
    assert abs(_seconds(words.rsplit(" at ", 1)[1][:8]) - _seconds(hhmmss)) <= 1


def _seconds(hhmmss: str) -> int:
    h, m, s = map(int, hhmmss.split(":"))
    return h * 3600 + m * 60 + s

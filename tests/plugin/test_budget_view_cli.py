"""Issue 21, item 4: the same picture on the command line (``python -m ....budget_view``).

The store is filled by this process through the budget, as tasks fill it; the command runs in a new process
that only knows Airflow's ``[oktopost] budget_dir``, as an operator's shell would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from airflow_provider_oktopost._core.budget.registry import budget_for
from airflow_provider_oktopost._core.budget.settings import BudgetSettings
from airflow_provider_oktopost.testing.budget import reset_budgets


def _run(budget_dir: Path, *args: str) -> str:
    env = {**os.environ, "AIRFLOW__OKTOPOST__BUDGET_DIR": str(budget_dir)}
    result = subprocess.run(
        [sys.executable, "-m", "airflow_provider_oktopost.budget_view", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_the_command_line_shows_every_account(tmp_path: Path) -> None:
    reset_budgets()
    budget = budget_for(
        "https://api.oktopost.com/v2", "001000000000009", 50, BudgetSettings(directory=str(tmp_path))
    )
    for _ in range(5):
        budget.reserve(60)
    budget.block(900)

    text = _run(tmp_path)
    [row] = [line for line in text.splitlines() if line.startswith("001000000000009")]
    cells = row.split()
    assert cells[:4] == ["001000000000009", "https://api.oktopost.com/v2", "5/50", "5/20000"]
    assert cells[4] == "until" and cells[-2:] == ["normal", "-"]

    data = json.loads(_run(tmp_path, "--json"))
    [account] = data["accounts"]
    assert account["account_id"] == "001000000000009" and account["block"] is not None
    reset_budgets()  # this process's budgets (it empties the store too)

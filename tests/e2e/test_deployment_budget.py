"""A bulk onboarding of 50 CNAMEs on a real deployment, with the sandbox enforcing Oktopost's limit.

LocalExecutor with a parallelism of 4 runs the connects as separate task processes, and two triggerers run
the waits: every one of these processes takes its turn from the one machine-wide budget (the SQLite store
under the deployment's ``AIRFLOW_HOME``), which is what keeps the account at 0 x 429. Oktopost's real
limits apply here: 60 calls a minute, then a 15-minute block.

The control restarts the scheduler (the parent of the LocalExecutor's task processes) with the budget
forced per process (``budget_store = memory``): the same onboarding gets 429s.

Run with ``pytest tests/e2e/test_deployment_budget.py -m e2e``; it takes about six minutes (5 min 35 s
measured: onboarding 245 s, control 33 s).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from e2e_deployment import Deployment
from e2e_processes import free_port
from e2e_runs import (
    BULK,
    assert_each_cname_onboarded_once,
    assert_the_control_gets_429s,
    onboard_at_the_limits,
)

from airflow_provider_oktopost.testing.client import SandboxClient

pytestmark = pytest.mark.e2e

CNAMES = [f"0CNe2ebudget{n:03d}" for n in range(50)]
CONTROL_CNAMES = [f"0CNe2ebudgetcontrol{n:03d}" for n in range(50)]


def test_fifty_cnames_onboard_inside_the_limit_with_two_triggerers(
    deployment: Deployment, sandbox: SandboxClient
) -> None:
    env = {**deployment.airflow_env(), "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port())}
    deployment._spawn("triggerer-2", deployment._airflow("triggerer"), env)
    before = sandbox.count()
    watch = onboard_at_the_limits(deployment, sandbox, CNAMES)
    run_id = watch.run_id

    assert_each_cname_onboarded_once(deployment, sandbox, watch, CNAMES)
    # The connects ran as task processes side by side (two or more at once), never more than the pool's 4.
    connects = [ti for ti in watch.last if ti["task_id"] == "connect"]
    assert 2 <= _most_at_once(connects) <= 4, _most_at_once(connects)
    # Both triggerers ran waits: the trigger logs come from two triggerer jobs.
    folder = deployment.home / "logs" / f"dag_id={BULK}" / f"run_id={run_id}" / "task_id=wait_until_ready"
    jobs = {path.name.rsplit(".", 2)[-2] for path in folder.rglob("attempt=*.log.trigger.*.log")}
    assert len(jobs) >= 2, jobs
    assert deployment.components["triggerer"].running()
    assert deployment.components["triggerer-2"].running()
    calls = sandbox.count() - before
    per = calls / len(CNAMES)
    print(f"\n{len(CNAMES)} CNAMEs onboarded with {calls} calls ({per:.2f} per CNAME), 0 x 429")
    assert per <= 3 + 1  # connect + read-back (+ a shared listing), plus the amortised waits


def _most_at_once(tis: list[dict[str, Any]]) -> int:
    """The most task instances that were running at the same moment (from their start and end dates)."""
    spans = [
        (datetime.fromisoformat(ti["start_date"]), datetime.fromisoformat(ti["end_date"]))
        for ti in tis
        if ti.get("start_date") and ti.get("end_date")
    ]
    return max((sum(1 for start, end in spans if start <= moment < end) for moment, _ in spans), default=0)


def test_the_control_with_the_budget_per_process_gets_429s(
    deployment: Deployment, sandbox: SandboxClient
) -> None:
    """The same onboarding with each task process keeping its own budget: the account is refused."""
    deployment.overrides = {"AIRFLOW__OKTOPOST__BUDGET_STORE": "memory"}
    deployment.restart_component("scheduler")  # the LocalExecutor's task processes are its children
    deployment.wait_healthy()
    assert_the_control_gets_429s(deployment, sandbox, CONTROL_CNAMES)

"""Issue 10: the right outcome on every try, after a retry and after a Clear.

A later try acts on an integration only with evidence that an earlier try of the same task instance sent
the create (or the delete): a record written through the Task SDK before the request. Runs are real
``dag.test()`` runs; running the same DAG again for the same logical date is Airflow's own Clear of that run
(see ``_run``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from airflow.sdk import DAG
from operator_support import CNAME, LIST, ONE

from airflow_provider_oktopost.operators.oktopost import (
    OktopostConnectIntegrationOperator,
    OktopostDeleteIntegrationOperator,
)
from airflow_provider_oktopost.testing import Fault, OktopostSandbox
from airflow_provider_oktopost.testing.dagrun import run_dag, task_states, xcom

with DAG("oktopost_tries_connect_fail", schedule=None) as connect_fail_dag:
    OktopostConnectIntegrationOperator(task_id="connect", integration_type="cd", cname_id=CNAME)

with DAG("oktopost_tries_connect_once", schedule=None) as connect_once_dag:
    OktopostConnectIntegrationOperator(
        task_id="connect", integration_type="cd", cname_id=CNAME, retries=1, retry_delay=timedelta(0)
    )

with DAG("oktopost_tries_delete", schedule=None) as delete_dag:
    OktopostDeleteIntegrationOperator(
        task_id="delete",
        integration_id="{{ dag_run.conf['id'] }}",
        retries=1,
        retry_delay=timedelta(0),
    )

with DAG("oktopost_tries_delete_no_retry", schedule=None) as delete_no_retry_dag:
    OktopostDeleteIntegrationOperator(task_id="delete", integration_id="{{ dag_run.conf['id'] }}")


def _try_number(dag_run: Any, task_id: str) -> int:
    [ti] = [ti for ti in dag_run.get_task_instances() if ti.task_id == task_id]
    return int(ti.try_number)


def _run(dag: Any, minute: int, conf: dict[str, Any] | None = None) -> Any:
    """Run ``dag`` for a fixed date per test: running it again for the same date is a Clear of that run.

    ``dag.test()`` clears the task instances of the run for that date (Airflow 3.0 deletes and re-creates the
    run) and runs them again under the same run_id: for the task, what a Clear is (a new process, its XComs
    gone, the same task instance identity), though ``dag.test`` does not count it as a new try number.
    """
    when = datetime(2026, 1, 1, 0, minute, tzinfo=UTC)
    return run_dag(dag, conf, logical_date=when, run_after=when)


def test_clear_after_already_exists_fails_again_with_the_same_message(
    airflow_db: Any, oktopost_connection_env: OktopostSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox = oktopost_connection_env
    foreign = sandbox.add_integration(type="cd", cname_id=CNAME)
    first = _run(connect_fail_dag, 1)
    assert task_states(first) == {"connect": "failed"}
    cleared = _run(connect_fail_dag, 1)  # Clear: the same run, the next try
    assert cleared.run_id == first.run_id
    assert task_states(cleared) == {"connect": "failed"}
    assert xcom(cleared, "connect") is None
    assert [item["Id"] for item in sandbox.integrations] == [foreign["Id"]]
    assert sandbox.count("POST") == 0 and sandbox.count("DELETE") == 0


def test_retry_adopts_a_create_whose_answer_was_lost_for_the_whole_try(
    airflow_db: Any, oktopost_connection_env: OktopostSandbox, no_backoff: list[float]
) -> None:
    sandbox = oktopost_connection_env
    # Try 1: the create commits but its answer is lost, and every look for it fails (listing 503s), so the
    # try ends not knowing. Try 2 finds it and adopts it, because try 1 recorded that it sent the create.
    sandbox.inject(
        Fault(kind="lost_response", method="POST", path=LIST),
        Fault(kind="status", status=503, method="GET", path=LIST, times=4),
    )
    dag_run = _run(connect_once_dag, 2)
    assert task_states(dag_run) == {"connect": "success"}
    assert _try_number(dag_run, "connect") == 2
    [only] = sandbox.integrations
    assert xcom(dag_run, "connect") == only["Id"]
    assert sandbox.count("POST", LIST) == 1


def test_clear_does_not_adopt_a_replacement_of_what_the_task_created(
    airflow_db: Any, oktopost_connection_env: OktopostSandbox, no_backoff: list[float]
) -> None:
    sandbox = oktopost_connection_env
    # Both tries connect, then fail reading the new integration back: the task fails having created one.
    sandbox.inject(Fault(kind="status", status=500, method="GET", path=ONE, times=8))
    first = _run(connect_once_dag, 3)
    assert task_states(first) == {"connect": "failed"}
    [created] = sandbox.integrations
    # Somebody deletes it and connects their own on the same type and CNAME; then the user clicks Clear.
    sandbox.reset()
    foreign = sandbox.add_integration(type="cd", cname_id=CNAME)
    cleared = _run(connect_once_dag, 3)
    assert task_states(cleared) == {"connect": "failed"}
    assert [item["Id"] for item in sandbox.integrations] == [foreign["Id"]]
    assert foreign["Id"] != created["Id"]
    assert sandbox.count("POST") == 0


def test_retried_delete_whose_first_answer_was_lost_succeeds(
    airflow_db: Any, oktopost_connection_env: OktopostSandbox, no_backoff: list[float]
) -> None:
    sandbox = oktopost_connection_env
    target = sandbox.add_integration(type="cd", cname_id=CNAME)
    # Try 1: the delete commits but its answer is lost, and every re-send fails with 503: the try ends not
    # knowing. Try 2 gets a 404, which after try 1's recorded delete means "deleted".
    sandbox.inject(
        Fault(kind="lost_response", method="DELETE", path=ONE),
        Fault(kind="status", status=503, method="DELETE", path=ONE, times=3),
    )
    dag_run = _run(delete_dag, 5, {"id": target["Id"]})
    assert task_states(dag_run) == {"delete": "success"}
    assert _try_number(dag_run, "delete") == 2
    assert xcom(dag_run, "delete") == target["Id"]
    assert sandbox.integrations == []


def test_delete_of_a_missing_integration_fails_on_the_first_try_and_after_clear(
    airflow_db: Any, oktopost_connection_env: OktopostSandbox
) -> None:
    missing = "014missing00000"
    first = _run(delete_no_retry_dag, 6, {"id": missing})
    assert task_states(first) == {"delete": "failed"}
    cleared = _run(delete_no_retry_dag, 6, {"id": missing})
    assert task_states(cleared) == {"delete": "failed"}

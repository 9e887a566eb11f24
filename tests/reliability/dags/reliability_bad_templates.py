"""A DAG whose templated Oktopost arguments render to bad values (run by tests/reliability/test_templates.py).

Kept alone in this folder: ``dag.test`` parses the DAG file's whole folder. Every task's failure callback
appends the task's id and its exception to the JSON-lines file named by ``OKTOPOST_TEST_FAILURES``, so the
test ties each message to the task that raised it, whatever a given Airflow version prints to the console
(3.1's ``dag.test`` prints no task exception at all).
"""

from __future__ import annotations

import json
import os
from typing import Any

import pendulum
from airflow.sdk import DAG

from airflow_provider_oktopost.operators.oktopost import (
    OktopostConnectIntegrationOperator,
    OktopostDeleteIntegrationOperator,
    OktopostListIntegrationsOperator,
    OktopostUpdateIntegrationOperator,
)
from airflow_provider_oktopost.sensors.oktopost import OktopostIntegrationSensor

C = "{{ dag_run.conf['%s'] }}"


def record_failure(context: Any) -> None:
    """Append ``{"task_id", "error_type", "error"}`` for the failed task (runs in the task's process)."""
    path = os.environ.get("OKTOPOST_TEST_FAILURES")
    if not path:
        return
    error = context.get("exception")
    line = {"task_id": context["ti"].task_id, "error_type": type(error).__name__, "error": str(error)}
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(line) + "\n")


with DAG(
    dag_id="reliability_bad_templates",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    default_args={"retries": 2, "on_failure_callback": record_failure},  # AirflowFailException skips retries
) as dag:
    OktopostConnectIntegrationOperator(
        task_id="connect_bad_type", integration_type=C % "type", cname_id="0CN1"
    )
    OktopostConnectIntegrationOperator(
        task_id="connect_bad_cname", integration_type="cd", cname_id=C % "path"
    )
    OktopostConnectIntegrationOperator(
        task_id="connect_bad_settings", integration_type="cd", cname_id="0CN1", settings=C % "settings"
    )
    OktopostUpdateIntegrationOperator(task_id="update_bad_id", integration_id=C % "path", state="active")
    OktopostUpdateIntegrationOperator(task_id="update_bad_state", integration_id="014abc", state=C % "state")
    OktopostDeleteIntegrationOperator(task_id="delete_bad_id", integration_id=C % "query")
    OktopostListIntegrationsOperator(task_id="list_bad_status", status=C % "state")
    OktopostIntegrationSensor(
        task_id="sensor_bad_id", integration_id=C % "unicode", poke_interval=1, timeout=5
    )
    OktopostIntegrationSensor(
        task_id="sensor_bad_id_deferrable",
        integration_id=C % "empty",
        deferrable=True,
        poke_interval=1,
        timeout=5,
    )

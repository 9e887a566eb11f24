"""A DAG whose templated Oktopost arguments render to bad values (run by tests/reliability/test_templates.py).

Kept alone in this folder: ``dag.test`` parses the DAG file's whole folder.
"""

from __future__ import annotations

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

with DAG(
    dag_id="reliability_bad_templates",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    default_args={"retries": 2},  # AirflowFailException must skip these
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

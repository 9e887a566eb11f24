"""An integration's whole lifecycle: connect, wait, disable, confirm, enable, confirm, delete.

Each change is confirmed by a sensor before the next one, the way a maintenance window would pause and
resume an integration without guessing how long Oktopost takes to apply it.

It changes and deletes only the integration this run connected: ``if_exists="fail"`` stops the run at
``connect`` when the account already has a ``cd`` integration on that CNAME (somebody else's, which must not
be disabled or deleted), and a retry or a Clear of ``connect`` adopts an integration only when this task
itself created it (see ``OktopostConnectIntegrationOperator``).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param, chain

from airflow_provider_oktopost.operators.oktopost import (
    OktopostConnectIntegrationOperator,
    OktopostDeleteIntegrationOperator,
    OktopostUpdateIntegrationOperator,
)
from airflow_provider_oktopost.sensors.oktopost import OktopostIntegrationSensor

with DAG(
    dag_id="example_oktopost_lifecycle",
    description="Disable, confirm, enable, confirm and delete an Oktopost integration",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"cname_id": Param("0CN000000000002", type="string", description="CNAME ID for the integration")},
    default_args={"poke_interval": 15, "timeout": 30 * 60},
    tags=["example", "oktopost"],
) as dag:
    connect = OktopostConnectIntegrationOperator(
        task_id="connect", integration_type="cd", cname_id="{{ params.cname_id }}", if_exists="fail"
    )
    integration_id = connect.output

    ready = OktopostIntegrationSensor(task_id="wait_until_ready", integration_id=integration_id)
    disable = OktopostUpdateIntegrationOperator(
        task_id="disable", integration_id=integration_id, state="disabled"
    )
    disabled = OktopostIntegrationSensor(
        task_id="confirm_disabled", integration_id=integration_id, target_state="disabled"
    )
    enable = OktopostUpdateIntegrationOperator(
        task_id="enable", integration_id=integration_id, state="active"
    )
    enabled = OktopostIntegrationSensor(task_id="confirm_enabled", integration_id=integration_id)
    delete = OktopostDeleteIntegrationOperator(task_id="delete", integration_id=integration_id)

    chain(connect, ready, disable, disabled, enable, enabled, delete)

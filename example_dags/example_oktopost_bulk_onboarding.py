"""Onboard many custom domains at once with dynamic task mapping, inside Oktopost's rate limit.

One mapped ``connect`` and one mapped wait per CNAME. Two things keep a batch of hundreds under the API's
60 calls a minute: the ``oktopost_api`` pool caps how many Oktopost tasks run at the same time across all
workers (create it first: ``airflow pools set oktopost_api 4 "Oktopost API calls"``), and the deferred waits
share one poller per account in the triggerer, so waiting on 500 domains costs a handful of list calls a
minute instead of 500.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import DAG, Param, get_current_context, task

from airflow_provider_oktopost.operators.oktopost import OktopostConnectIntegrationOperator
from airflow_provider_oktopost.sensors.oktopost import OktopostIntegrationSensor

POOL = "oktopost_api"

with DAG(
    dag_id="example_oktopost_bulk_onboarding",
    description="Connect and wait for one custom-domain integration per CNAME, mapped",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={
        "cname_ids": Param(
            ["0CN000000000011", "0CN000000000012", "0CN000000000013"],
            type="array",
            description="CNAME IDs to onboard",
        )
    },
    tags=["example", "oktopost"],
) as dag:

    @task
    def cname_ids() -> list[str]:
        """The batch, from the run's params (mapping needs a task output, not a template)."""
        return list(get_current_context()["params"]["cname_ids"])

    connect = OktopostConnectIntegrationOperator.partial(
        task_id="connect", integration_type="cd", if_exists="reuse", pool=POOL
    ).expand(cname_id=cname_ids())

    wait = OktopostIntegrationSensor.partial(
        task_id="wait_until_ready", deferrable=True, poke_interval=30, timeout=2 * 60 * 60, pool=POOL
    ).expand(integration_id=connect.output)

    @task
    def summary(integrations: list[dict[str, Any]]) -> dict[str, Any]:
        """How many came up ready, by CNAME."""
        ready = sorted(i["cname_id"] for i in integrations if i["is_ready"])
        print(f"{len(ready)} of {len(integrations)} integrations are valid and active: {', '.join(ready)}")
        return {"ready": len(ready), "total": len(integrations), "ids": sorted(i["id"] for i in integrations)}

    summary(wait.output)

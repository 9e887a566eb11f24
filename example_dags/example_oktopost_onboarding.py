"""Onboard a custom domain: connect a ``cd`` integration, wait until Oktopost reports it ready, report.

Run it with a CNAME ID as a DAG param (the ``0CN…`` ID of a CNAME record from Oktopost's CNAME API)::

    airflow dags trigger example_oktopost_onboarding --conf '{"cname_id": "0CN000000000001"}'

The sensor defers: while Oktopost validates the domain the wait costs no worker slot, only a few cheap
status reads in the triggerer.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import DAG, AssetAlias, Param, task

from airflow_provider_oktopost.operators.oktopost import OktopostConnectIntegrationOperator
from airflow_provider_oktopost.sensors.oktopost import OktopostIntegrationSensor

with DAG(
    dag_id="example_oktopost_onboarding",
    description="Connect a custom-domain integration and wait until it is valid and active",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"cname_id": Param("0CN000000000001", type="string", description="CNAME ID to onboard")},
    tags=["example", "oktopost"],
) as dag:
    # Returns the new integration's Id; "reuse" makes re-running the DAG for the same domain harmless.
    connect = OktopostConnectIntegrationOperator(
        task_id="connect",
        integration_type="cd",
        cname_id="{{ params.cname_id }}",
        if_exists="reuse",
    )

    # Waits (deferred, in the triggerer) until the integration is valid and active.
    wait = OktopostIntegrationSensor(
        task_id="wait_until_ready",
        integration_id=connect.output,
        deferrable=True,
        poke_interval=15,
        timeout=60 * 60,
        outlets=[AssetAlias("oktopost_onboarded")],  # example_oktopost_onboarded_downstream runs on it
    )

    @task
    def read_back(integration_id: str) -> dict[str, Any]:
        """Read the integration again, with its social credentials and boards (TaskFlow + the hook)."""
        from airflow_provider_oktopost.hooks.oktopost import OktopostHook

        integration = OktopostHook().get_integration(integration_id, with_assets=True)
        assets = integration.assets or {}
        return {
            **integration.to_dict(),
            "credentials": len(assets.get("Credentials", [])),
            "boards": len(assets.get("Boards", [])),
        }

    @task
    def report(details: dict[str, Any]) -> str:
        """One line for the task log (and XCom): what was onboarded."""
        line = (
            f"Integration {details['id']} ({details['type']}) on CNAME {details['cname_id']} is "
            f"{details['status']} and {details['state']}, with {details['credentials']} credential(s) "
            f"and {details['boards']} board(s)"
        )
        print(line)
        return line

    details = read_back(connect.output)
    wait >> details
    report(details)

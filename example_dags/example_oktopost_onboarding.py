"""Onboard a custom domain from its host name: register the CNAME, connect a ``cd`` integration on it,
wait until Oktopost reports it ready, report.

Run it with the host name as a DAG param (the name must already be a DNS CNAME pointing to ``okt.to`` at
your registrar)::

    airflow dags trigger example_oktopost_onboarding --conf '{"host_name": "links.example.com"}'

Running it again for the same host creates nothing new: the CNAME and the integration that exist are
reused (``if_exists="reuse"``). The sensor defers: while Oktopost validates the domain the wait costs no
worker slot, only a few cheap status reads in the triggerer.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import DAG, AssetAlias, Param, task

from airflow_provider_oktopost.operators.cname import OktopostCreateCnameOperator
from airflow_provider_oktopost.operators.oktopost import OktopostConnectIntegrationOperator
from airflow_provider_oktopost.sensors.oktopost import OktopostIntegrationSensor

with DAG(
    dag_id="example_oktopost_onboarding",
    description="Register a host name, connect a custom-domain integration on it, wait until it is ready",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={
        "host_name": Param(
            "links.example.com",
            type="string",
            description="Host name to onboard (a DNS CNAME to okt.to), without scheme, path or port",
        )
    },
    tags=["example", "oktopost"],
) as dag:
    # Returns the CNAME's Id (0CN...); an existing CNAME for the host is reused.
    create_cname = OktopostCreateCnameOperator(
        task_id="create_cname", host_name="{{ params.host_name }}", if_exists="reuse"
    )

    # Returns the new integration's Id; "reuse" makes re-running the DAG for the same host harmless.
    connect = OktopostConnectIntegrationOperator(
        task_id="connect",
        integration_type="cd",
        cname_id=create_cname.output,
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
    def report(details: dict[str, Any], host_name: str) -> str:
        """One line for the task log (and XCom): what was onboarded."""
        line = (
            f"Integration {details['id']} ({details['type']}) on {host_name} (CNAME {details['cname_id']}) "
            f"is {details['status']} and {details['state']}, with {details['credentials']} credential(s) "
            f"and {details['boards']} board(s)"
        )
        print(line)
        return line

    details = read_back(connect.output)
    wait >> details
    report(details, "{{ params.host_name }}")

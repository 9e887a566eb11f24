"""DAGs of the deployment test of task tries (``tests/e2e/test_deployment_tries.py``).

A DAGs folder of their own, so the deployment parses only these. The CNAME comes from the run's conf. The
two connect different types: a first try may use the deployment's shared listing of its type (taken within
``listing_ttl``), which would not show an integration the test adds behind the provider's back.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import DAG

from airflow_provider_oktopost.operators.oktopost import OktopostConnectIntegrationOperator

with DAG("e2e_tries_connect_retried", schedule=None, is_paused_upon_creation=False):
    OktopostConnectIntegrationOperator(
        task_id="connect",
        integration_type="cd",
        cname_id="{{ dag_run.conf['cname_id'] }}",
        retries=1,
        retry_delay=timedelta(seconds=1),
    )

with DAG("e2e_tries_connect_once", schedule=None, is_paused_upon_creation=False):
    OktopostConnectIntegrationOperator(
        task_id="connect", integration_type="ga", cname_id="{{ dag_run.conf['cname_id'] }}"
    )

"""DAGs whose tasks the per-process try tests run, one try per process (see ``try_process.py``).

Kept in a folder of their own: ``dag.test()`` parses the DAGs folder it runs from, and this one holds only
these. No task retries: every try is a Clear of the task instance, run in a new process.
"""

from __future__ import annotations

from airflow.sdk import DAG

from airflow_provider_oktopost.operators.action import OktopostRunIntegrationActionOperator
from airflow_provider_oktopost.operators.cname import (
    OktopostCreateCnameOperator,
    OktopostDeleteCnameOperator,
)
from airflow_provider_oktopost.operators.oktopost import (
    OktopostConnectIntegrationOperator,
    OktopostDeleteIntegrationOperator,
)

CNAME = "0CNsandbox00001"
HOST = "links.example.com"

with DAG("tries_connect", schedule=None) as connect_dag:
    OktopostConnectIntegrationOperator(task_id="task", integration_type="cd", cname_id=CNAME)

with DAG("tries_delete", schedule=None) as delete_dag:
    OktopostDeleteIntegrationOperator(task_id="task", integration_id="{{ dag_run.conf['id'] }}")

with DAG("tries_cname_create", schedule=None) as cname_create_dag:
    OktopostCreateCnameOperator(task_id="task", host_name=HOST)

with DAG("tries_cname_delete", schedule=None) as cname_delete_dag:
    OktopostDeleteCnameOperator(task_id="task", cname_id="{{ dag_run.conf['id'] }}")

with DAG("tries_action", schedule=None) as action_dag:
    OktopostRunIntegrationActionOperator(
        task_id="task",
        integration_id="{{ dag_run.conf['id'] }}",
        action_name="lead.create",
        payload={"email": "someone@example.com"},
    )

"""The DAG the operating tests run in a fresh process: calls, a wait for the budget, a 429 and a deferral.

- ``list_all`` lists every integration in three pages; the connection allows one call per two seconds
  (``rate_limit_per_minute=1`` with the test-only ``OKTOPOST_TESTING_BUDGET_WINDOW_SECONDS=2``), so the
  second and third page wait for their turn in the budget;
- ``delete`` gets a 429 with ``Retry-After: 6``, longer than ``[oktopost] budget_max_wait`` (3): the block
  is recorded and the task defers until it ends, then deletes;
- ``disable`` is not deferrable and gets a 429 too: its first try fails (saying why), its retry, after the
  block, disables the integration;
- ``wait_ready`` is a deferrable sensor whose integration the test turns valid once the trigger's poller
  has read it (``dag.test`` runs triggers inline).

Run as a script (``python oktopost_operating.py``), it runs the DAG with ``dag.test`` and prints each task's
state as ``STATE <task_id> <state>``.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import DAG

from airflow_provider_oktopost.operators.oktopost import (
    OktopostDeleteIntegrationOperator,
    OktopostListIntegrationsOperator,
    OktopostUpdateIntegrationOperator,
)
from airflow_provider_oktopost.sensors.oktopost import OktopostIntegrationSensor

with DAG("oktopost_operating", schedule=None) as dag:
    listed = OktopostListIntegrationsOperator(task_id="list_all")
    delete = OktopostDeleteIntegrationOperator(
        task_id="delete", integration_id="{{ dag_run.conf['delete'] }}", deferrable=True
    )
    disable = OktopostUpdateIntegrationOperator(
        task_id="disable",
        integration_id="{{ dag_run.conf['disable'] }}",
        state="disabled",
        deferrable=False,
        retries=1,
        retry_delay=timedelta(seconds=7),
    )
    ready = OktopostIntegrationSensor(
        task_id="wait_ready",
        integration_id="{{ dag_run.conf['wait'] }}",
        deferrable=True,
        poke_interval=1,
        timeout=120,
    )
    listed >> delete >> disable >> ready

if __name__ == "__main__":
    import json
    import sys

    from airflow_provider_oktopost.testing.dagrun import run_dag, task_states

    run = run_dag(dag, run_conf=json.loads(sys.argv[1]))
    for task_id, state in sorted(task_states(run).items()):
        print(f"STATE {task_id} {state}", flush=True)

"""Smoke-test a CRM integration: wait until it is ready, run one read-only action, report what came back.

Run it with the integration's Id; the action and its payload are params too::

    airflow dags trigger example_oktopost_smoke_test --conf '{"integration_id": "014000000000001"}'
    airflow dags trigger example_oktopost_smoke_test --conf \\
        '{"integration_id": "014000000000001", "action_name": "lead.search", "payload": {"query": "x"}}'

With ``action_name`` left at ``auto`` the action is chosen from the integration's type (a lookup by e-mail
address, which reads and changes nothing). The report gives the shape of the answer (field names, how many
records), never its values: they may be personal data from the CRM.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import DAG, Param, task

from airflow_provider_oktopost.operators.action import OktopostRunIntegrationActionOperator
from airflow_provider_oktopost.sensors.oktopost import OktopostIntegrationSensor

#: A read-only action per integration type, with a payload that matches no real person.
DEFAULT_ACTIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "salesforce": ("contact.getByEmail", {"email": "smoke-test@example.com"}),
    "hubspot": ("contact.getByEmail", {"email": "smoke-test@example.com"}),
    "marketo": ("lead.getByEmail", {"email": "smoke-test@example.com"}),
}

with DAG(
    dag_id="example_oktopost_smoke_test",
    description="Wait until an integration is ready, then prove it works with one read-only action",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={
        "integration_id": Param("014000000000001", type="string", description="Integration to test (014...)"),
        "action_name": Param(
            "auto", type="string", description="Action to run, e.g. lead.search; 'auto' picks one by type"
        ),
        "payload": Param(
            None,
            type=["null", "object"],
            description="The action's input; null uses the default for the action",
        ),
    },
    tags=["example", "oktopost"],
) as dag:
    # Waits (deferred, in the triggerer) until the integration is valid and active; returns it as a dict.
    wait = OktopostIntegrationSensor(
        task_id="wait_until_ready",
        integration_id="{{ params.integration_id }}",
        deferrable=True,
        poke_interval=15,
        timeout=60 * 60,
    )

    # The payload may name a real person: keep it out of the task log.
    @task(multiple_outputs=True, show_return_value_in_logs=False)
    def choose_action(integration: dict[str, Any], params: dict[str, Any] | None = None) -> dict[str, Any]:
        """The action to run: the param's, or a read-only lookup chosen from the integration's type."""
        action_name, payload = (params or {}).get("action_name", "auto"), (params or {}).get("payload")
        default = DEFAULT_ACTIONS.get(integration["type"])
        if action_name == "auto":
            if default is None:
                raise ValueError(
                    f"No default action for integration type {integration['type']!r}: set the action_name "
                    f"param (types with a default: {', '.join(sorted(DEFAULT_ACTIONS))})"
                )
            action_name = default[0]
        if payload is None:
            payload = default[1] if default and default[0] == action_name else {}
        return {"action_name": action_name, "payload": payload}

    chosen = choose_action(wait.output)

    # Only the shape of the answer goes to XCom and the log (push_result=False is the default).
    run_action = OktopostRunIntegrationActionOperator(
        task_id="run_action",
        integration_id="{{ params.integration_id }}",
        action_name=chosen["action_name"],
        payload=chosen["payload"],
    )

    @task
    def report(summary: dict[str, Any]) -> str:
        """One line for the task log (and XCom): the action answered, and with what shape."""
        line = (
            f"Smoke test passed: integration {summary['integration_id']} ran {summary['action_name']} and "
            f"answered a {summary['result_type']} with {summary['records']} record(s) "
            f"(fields: {', '.join(summary['fields']) or 'none'})"
        )
        print(line)
        return line

    report(run_action.output)

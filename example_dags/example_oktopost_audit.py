"""Daily audit: list every integration and fail, naming them, when any is broken or unexpectedly off.

``invalid`` means Oktopost can no longer use the connection (expired credentials, a domain that stopped
resolving); ``disabled`` is fine only for the integrations listed in the ``expected_disabled`` param. A
failed run is the alert: route it with ``on_failure_callback``, email or your usual Airflow notifier.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import AirflowFailException
from airflow.sdk import DAG, Param, get_current_context, task

from airflow_provider_oktopost.operators.oktopost import OktopostListIntegrationsOperator

with DAG(
    dag_id="example_oktopost_audit",
    description="Flag Oktopost integrations that are invalid or unexpectedly disabled",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={
        "expected_disabled": Param([], type="array", description="Integration Ids allowed to be disabled"),
    },
    tags=["example", "oktopost", "audit"],
) as dag:
    integrations = OktopostListIntegrationsOperator(task_id="list_integrations")

    @task
    def check(items: list[dict[str, Any]]) -> dict[str, int]:
        """Fail with every problem named, or return counts for the record."""
        allowed = set(get_current_context()["params"]["expected_disabled"])
        invalid = [i for i in items if i["status"] != "valid"]
        off = [i for i in items if i["state"] == "disabled" and i["id"] not in allowed]
        problems = [f"{i['id']} ({i['type']}, CNAME {i['cname_id']}) is {i['status']}" for i in invalid]
        problems += [f"{i['id']} ({i['type']}, CNAME {i['cname_id']}) is disabled" for i in off]
        if problems:
            raise AirflowFailException(
                f"{len(problems)} Oktopost integration problem(s): " + "; ".join(problems)
            )
        print(f"All {len(items)} Oktopost integrations are healthy")
        return {"checked": len(items), "invalid": 0, "unexpectedly_disabled": 0}

    check(integrations.output)

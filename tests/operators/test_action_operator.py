"""The integration-action operator against the sandbox: results summarised (no personal data in logs or
XCom unless asked), reads retried, writes never sent twice unless declared safe."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException
from airflow.sdk import DAG
from operator_support import ctx

from airflow_provider_oktopost.operators.action import OktopostRunIntegrationActionOperator
from airflow_provider_oktopost.testing import Fault, OktopostSandbox
from airflow_provider_oktopost.testing.dagrun import run_dag, task_states, xcom

ACTION = r"/v2/integration-action"
EMAIL = "jane.personal@example.com"

with DAG("oktopost_action_read_retry", schedule=None) as read_retry_dag:
    OktopostRunIntegrationActionOperator(
        task_id="action",
        integration_id="{{ dag_run.conf['id'] }}",
        action_name="lead.getByEmail",
        payload='{"email": "{{ dag_run.conf.email }}"}',
        retries=1,
        retry_delay=timedelta(0),
    )

with DAG("oktopost_action_write_retry", schedule=None) as write_retry_dag:
    OktopostRunIntegrationActionOperator(
        task_id="action",
        integration_id="{{ dag_run.conf['id'] }}",
        action_name="lead.create",
        payload={"email": "{{ dag_run.conf.email }}"},
        retries=1,
        retry_delay=timedelta(0),
    )


def test_summary_only_and_nothing_personal_in_logs(
    oktopost_connection_env: OktopostSandbox, capfd: pytest.CaptureFixture[str]
) -> None:
    integration = oktopost_connection_env.add_integration("salesforce", "0CN000000000001")
    op = OktopostRunIntegrationActionOperator(
        task_id="a",
        integration_id=integration["Id"],
        action_name="contact.getByEmail",
        payload={"email": EMAIL},
    )
    summary = op.execute(ctx())
    assert summary == {
        "integration_id": integration["Id"],
        "action_name": "contact.getByEmail",
        "result_type": "dict",
        "fields": ["Company", "Email", "FirstName", "Id", "LastName"],
        "records": 1,
    }
    out = "".join(capfd.readouterr())
    assert "contact.getByEmail" in out and "1 record(s)" in out
    assert EMAIL not in out and "Sandbox" not in out and "Example Inc" not in out


def test_whole_result_only_when_asked(oktopost_connection_env: OktopostSandbox) -> None:
    integration = oktopost_connection_env.add_integration("marketo", "0CN000000000001")
    op = OktopostRunIntegrationActionOperator(
        task_id="a",
        integration_id=integration["Id"],
        action_name="lead.search",
        payload='{"query": "acme"}',
        push_result=True,
    )
    result = op.execute(ctx())
    assert result["records"] == len(result["data"]["Items"]) >= 1
    assert result["data"]["Total"] == result["records"]


def test_refusal_fails_without_retry(oktopost_connection_env: OktopostSandbox) -> None:
    integration = oktopost_connection_env.add_integration("hubspot", "0CN000000000001", status="invalid")
    op = OktopostRunIntegrationActionOperator(
        task_id="a",
        integration_id=integration["Id"],
        action_name="contact.getByEmail",
        payload={"email": EMAIL},
    )
    with pytest.raises(AirflowFailException, match="valid status and be enabled"):
        op.execute(ctx())


def test_read_is_retried_by_airflow(
    airflow_db: Any, oktopost_connection_env: OktopostSandbox, no_backoff: list[float]
) -> None:
    sandbox = oktopost_connection_env
    integration = sandbox.add_integration("marketo", "0CN000000000001")
    sandbox.inject(Fault(kind="status", status=503, method="POST", path=ACTION, times=3))
    run = run_dag(read_retry_dag, {"id": integration["Id"], "email": EMAIL})
    assert task_states(run) == {"action": "success"}
    assert xcom(run, "action")["records"] == 1
    assert sandbox.count("POST", ACTION) == 4  # try 1: 3 attempts; try 2: 1


def test_write_with_unknown_outcome_is_not_sent_again(
    airflow_db: Any, oktopost_connection_env: OktopostSandbox, no_backoff: list[float]
) -> None:
    sandbox = oktopost_connection_env
    integration = sandbox.add_integration("marketo", "0CN000000000001")
    sandbox.inject(Fault(kind="lost_response", method="POST", path=ACTION))
    run = run_dag(write_retry_dag, {"id": integration["Id"], "email": EMAIL})
    assert task_states(run) == {"action": "failed"}
    assert sandbox.count("POST", ACTION) == 1  # neither re-sent by the hook nor by a task retry


def test_a_try_number_alone_never_keeps_an_action_from_running(
    oktopost_connection_env: OktopostSandbox,
) -> None:
    # Only evidence that an earlier try may have sent it does (test_tries_in_processes.py): a later try
    # whose earlier tries left none (refused, held by the budget, never reached the send) runs the action.
    sandbox = oktopost_connection_env
    integration = sandbox.add_integration("marketo", "0CN000000000001")
    args = {"task_id": "a", "integration_id": integration["Id"], "action_name": "lead.create"}
    unsafe = OktopostRunIntegrationActionOperator(**args, payload={"email": EMAIL})
    assert unsafe.execute(ctx(try_number=2))["fields"] == ["Created", "Id"]
    assert sandbox.count("POST", ACTION) == 1


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"integration_id": "a/b", "action_name": "lead.search"}, "integration_id"),
        ({"integration_id": "014a", "action_name": "search"}, "action_name"),
        ({"integration_id": "014a", "action_name": "lead.search", "payload": "[1]"}, "payload"),
        ({"integration_id": "014a", "action_name": "lead.search", "payload": "{bad"}, "payload"),
        ({"integration_id": "014a", "action_name": "lead.search", "safe_to_resend": "yes"}, "safe_to_resend"),
        ({"integration_id": "014a", "action_name": "lead.search", "push_result": 1}, "push_result"),
    ],
)
def test_literal_arguments_are_checked_at_parse_time(
    kwargs: dict[str, Any], argument: str, oktopost_connection_env: OktopostSandbox
) -> None:
    with pytest.raises(ValueError, match=re.escape(argument)):
        OktopostRunIntegrationActionOperator(task_id="t", **kwargs)
    assert oktopost_connection_env.count() == 0


def test_templated_arguments_are_checked_after_rendering(oktopost_connection_env: OktopostSandbox) -> None:
    op = OktopostRunIntegrationActionOperator(
        task_id="t", integration_id="014a", action_name="{{ value }}", payload="{{ payload }}"
    )
    op.render_template_fields({"value": "lead.search", "payload": "not json"})
    with pytest.raises(AirflowFailException, match="payload"):
        op.execute(ctx())
    assert oktopost_connection_env.count() == 0

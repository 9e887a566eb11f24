"""``OktopostCreateAccountOperator`` in real ``dag.test()`` runs against the sandbox's partner API.

Running a DAG again for the same logical date is Airflow's Clear of that run (see tests/operators); a task
with ``retries=1`` and no retry delay is retried in the same ``dag.test()``.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from airflow.sdk import DAG
from partner_support import PASSWORD, fields

from airflow_provider_oktopost.operators.partner import OktopostCreateAccountOperator
from airflow_provider_oktopost.testing import Fault, OktopostSandbox
from airflow_provider_oktopost.testing.dagrun import run_dag, task_states, xcom

pytestmark = pytest.mark.airflow

#: The password comes from a secrets backend (here Airflow's environment-variable backend for Variables).
PASSWORD_VAR = "AIRFLOW_VAR_ACME_OWNER_PASSWORD"

with DAG("oktopost_partner_create", schedule=None) as create_dag:
    OktopostCreateAccountOperator(
        task_id="create_account",
        **fields(
            external_id="{{ dag_run.conf.get('external_id', 'crm-0001') }}",
            owner_password="{{ var.value.acme_owner_password }}",
        ),
        retries=1,
        retry_delay=timedelta(0),
        hook_params={"max_retries": 0},
    )

with DAG("oktopost_partner_create_literal", schedule=None) as literal_dag:
    OktopostCreateAccountOperator(task_id="create_account", **fields(external_id="crm-lit"))


def _run(dag: Any, minute: int, conf: dict[str, Any] | None = None) -> Any:
    when = datetime(2026, 1, 1, 0, minute, tzinfo=UTC)
    return run_dag(dag, conf, logical_date=when, run_after=when)


@pytest.fixture
def partner(
    airflow_db: Any, partner_env: OktopostSandbox, monkeypatch: pytest.MonkeyPatch
) -> OktopostSandbox:
    monkeypatch.setenv(PASSWORD_VAR, PASSWORD)
    return partner_env


def _all_xcoms(dag_run: Any) -> list[Any]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(XComModel).filter(XComModel.run_id == dag_run.run_id).all()
        return [(row.key, row.value) for row in rows]


def _rendered(dag_run: Any) -> list[Any]:
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(RenderedTaskInstanceFields).filter(  # other DAGs' runs may share a run id
            RenderedTaskInstanceFields.dag_id == dag_run.dag_id,
            RenderedTaskInstanceFields.run_id == dag_run.run_id,
        )
        return [row.rendered_fields for row in rows]


def test_creates_once_and_returns_the_id(partner: OktopostSandbox) -> None:
    run = _run(create_dag, 1)
    assert task_states(run) == {"create_account": "success"}
    [account] = partner.managed_accounts
    assert xcom(run, "create_account") == account["Id"]
    pushed = xcom(run, "create_account", key="account")
    assert pushed["id"] == account["Id"] and pushed["external_id"] == "crm-0001"
    assert pushed["name"] == "Acme Inc" and "password" not in json.dumps(pushed).lower()
    # A second run (a Clear of the same run, then a new run) ends with the same one account.
    again = _run(create_dag, 1)
    other = _run(create_dag, 2)
    assert xcom(again, "create_account") == xcom(other, "create_account") == account["Id"]
    assert len(partner.managed_accounts) == 1 and partner.count("POST", "/account") == 1


def test_retry_after_a_lost_answer_finds_the_account(partner: OktopostSandbox) -> None:
    """Try 1: Oktopost makes the account, the answer is lost, and (max_retries=0) the try fails.
    Try 2 looks the external id up first and finds it: nothing is sent again."""
    partner.inject(Fault("lost_response", method="POST", path="/account"))
    run = _run(create_dag, 3)
    assert task_states(run) == {"create_account": "success"}
    [ti] = run.get_task_instances()
    assert ti.try_number == 2
    [account] = partner.managed_accounts
    assert xcom(run, "create_account") == account["Id"]
    assert partner.count("POST", "/account") == 1


def test_duplicate_external_id_ends_with_the_existing_account(partner: OktopostSandbox) -> None:
    from airflow_provider_oktopost.testing._accounts import DEFAULT_PARTNER_ID

    existing = partner.add_managed_account(DEFAULT_PARTNER_ID, "Acme Inc", external_id="crm-0001")
    run = _run(create_dag, 4)
    assert xcom(run, "create_account") == existing["Id"]
    assert partner.count("POST", "/account") == 0 and len(partner.managed_accounts) == 1


def test_refuses_without_external_id() -> None:
    for missing in (None, "", "  "):
        with pytest.raises(ValueError, match="external_id is required: it is how a second run"):
            OktopostCreateAccountOperator(task_id="t", **fields(external_id=missing))
    with pytest.raises(ValueError, match="company is required"):
        OktopostCreateAccountOperator(task_id="t", **fields(company=""))
    with pytest.raises(ValueError, match="owner_email must be an e-mail"):
        OktopostCreateAccountOperator(task_id="t", **fields(owner_email="nobody"))


def test_rendered_empty_external_id_fails_before_any_request(partner: OktopostSandbox) -> None:
    run = _run(create_dag, 5, {"external_id": ""})
    assert task_states(run) == {"create_account": "failed"}
    [ti] = run.get_task_instances()
    assert ti.try_number == 1  # a bad argument is not retried
    assert partner.count() == 0


def test_password_is_in_no_output(
    partner: OktopostSandbox, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    # An error that echoes the password (try 1), then a lost answer (try 2, found by its external id).
    partner.inject(
        Fault(
            "status",
            method="POST",
            path="/account",
            status=500,
            body=json.dumps({"Result": False, "Errors": [f"cannot use {PASSWORD}"]}),
        ),
    )
    run = _run(create_dag, 6)
    literal = _run(literal_dag, 6)
    assert task_states(run) == {"create_account": "success"}
    assert task_states(literal) == {"create_account": "success"}
    out, err = capfd.readouterr()
    outputs = {
        "log records": caplog.text,
        "stdout/stderr": out + err,
        "xcom": repr(_all_xcoms(run) + _all_xcoms(literal)),
        "rendered templates": repr(_rendered(run) + _rendered(literal)),
        "sandbox request log": repr(partner.requests),
    }
    for where, text in outputs.items():
        assert PASSWORD not in text, where
    rendered = _rendered(run) + _rendered(literal)
    assert rendered and all(r["owner_password"] == "***" for r in rendered), rendered
    assert all(r["company"] == "Acme Inc" for r in rendered)  # other fields are shown
    assert "cannot use ***" in caplog.text + out + err  # the server's message, scrubbed

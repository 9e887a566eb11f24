"""The operators against the sandbox over real HTTP: whole runs through ``dag.test()``, and each operator's
branches (connect, update, delete, list) called directly."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException
from airflow.sdk import DAG
from operator_support import CNAME, LIST, ONE, ctx
from support import SimClock

from airflow_provider_oktopost.operators.oktopost import (
    OktopostConnectIntegrationOperator,
    OktopostDeleteIntegrationOperator,
    OktopostListIntegrationsOperator,
    OktopostUpdateIntegrationOperator,
)
from airflow_provider_oktopost.testing import Fault, OktopostSandbox
from airflow_provider_oktopost.testing.dagrun import run_dag, task_states, xcom

with DAG("oktopost_operators_lifecycle", schedule=None) as lifecycle_dag:
    _connect = OktopostConnectIntegrationOperator(
        task_id="connect",
        integration_type="{{ dag_run.conf['type'] }}",
        cname_id="{{ dag_run.conf['cname'] }}",
        settings={"trackingId": "{{ dag_run.conf['tracking'] }}", "enabled": True},
    )
    _update = OktopostUpdateIntegrationOperator(
        task_id="update", integration_id=_connect.output, state="disabled", settings={"note": "paused"}
    )
    _list = OktopostListIntegrationsOperator(
        task_id="list", integration_type="{{ dag_run.conf['type'] }}", state="disabled"
    )
    _delete = OktopostDeleteIntegrationOperator(task_id="delete", integration_id=_connect.output)
    _connect >> _update >> _list >> _delete

with DAG("oktopost_operators_retry", schedule=None) as retry_dag:
    OktopostConnectIntegrationOperator(
        task_id="connect", integration_type="cd", cname_id=CNAME, retries=1, retry_delay=timedelta(0)
    )

with DAG("oktopost_operators_rate_limit", schedule=None) as rate_limit_dag:
    OktopostConnectIntegrationOperator(
        task_id="connect", integration_type="cd", cname_id=CNAME, deferrable=True
    )


def task_instances(dag_run: Any) -> dict[str, Any]:
    return {ti.task_id: ti for ti in dag_run.get_task_instances()}


# ---- real runs ----------------------------------------------------------------------------------------


def test_lifecycle_dag_connects_updates_lists_and_deletes(
    airflow_db: Any, oktopost_connection_env: OktopostSandbox
) -> None:
    sandbox = oktopost_connection_env
    sandbox.add_integration(type="ga", cname_id=CNAME)  # another type on the CNAME: not a duplicate
    dag_run = run_dag(lifecycle_dag, {"type": "cd", "cname": CNAME, "tracking": "UA-1"})
    assert task_states(dag_run) == dict.fromkeys(("connect", "update", "list", "delete"), "success")

    integration_id = xcom(dag_run, "connect")
    assert re.fullmatch(r"014[a-z0-9]{12}", integration_id)
    pushed = xcom(dag_run, "connect", "integration")
    assert pushed["id"] == integration_id
    assert (pushed["type"], pushed["cname_id"], pushed["state"]) == ("cd", CNAME, "active")
    assert pushed["settings"] == {"trackingId": "UA-1", "enabled": "1"}
    assert xcom(dag_run, "update") == integration_id
    [listed] = xcom(dag_run, "list")
    assert listed["id"] == integration_id
    assert listed["state"] == "disabled"
    assert listed["settings"] == {"trackingId": "UA-1", "enabled": "1", "note": "paused"}
    assert xcom(dag_run, "delete") == integration_id
    assert [item["Type"] for item in sandbox.integrations] == ["ga"]
    assert sandbox.count("POST", LIST) == 1


def test_retry_reuses_what_try_one_created(
    airflow_db: Any, oktopost_connection_env: OktopostSandbox, no_backoff: list[float]
) -> None:
    sandbox = oktopost_connection_env
    # Try 1 connects, then every read-back of the new integration fails: the try fails after creating it.
    sandbox.inject(Fault(kind="status", status=500, method="GET", path=ONE, times=4))
    dag_run = run_dag(retry_dag)
    assert task_states(dag_run) == {"connect": "success"}
    assert task_instances(dag_run)["connect"].try_number == 2
    [only] = sandbox.integrations
    assert xcom(dag_run, "connect") == only["Id"]
    assert xcom(dag_run, "connect", "integration")["id"] == only["Id"]
    assert sandbox.count("POST", LIST) == 1


def test_deferrable_rate_limit_waits_and_resumes_without_duplicate(
    airflow_db: Any, oktopost_connection_env: OktopostSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = oktopost_connection_env
    # Time is simulated: the wait trigger's sleep moves it past the block the 429 recorded in the budget.
    waits = SimClock(sandbox).install(monkeypatch).slept
    # The read-back after connecting is rate limited for 10 minutes.
    sandbox.inject(Fault(kind="status", status=429, method="GET", path=ONE, headers={"Retry-After": "600"}))
    dag_run = run_dag(rate_limit_dag)
    assert task_states(dag_run) == {"connect": "success"}
    assert task_instances(dag_run)["connect"].try_number == 1
    assert any(590 <= w <= 600 for w in waits)  # the wait trigger ran inline, until the block's end
    [only] = sandbox.integrations
    assert xcom(dag_run, "connect") == only["Id"]
    assert sandbox.count("POST", LIST) == 1


# ---- connect --------------------------------------------------------------------------------------------


def test_connect_fails_without_retry_when_one_exists(oktopost_connection_env: OktopostSandbox) -> None:
    existing = oktopost_connection_env.add_integration(type="cd", cname_id=CNAME)
    op = OktopostConnectIntegrationOperator(task_id="c", integration_type="cd", cname_id=CNAME)
    with pytest.raises(AirflowFailException, match=existing["Id"]):
        op.execute(ctx())
    assert oktopost_connection_env.count("POST") == 0


def test_connect_reuses_an_existing_one_when_asked(oktopost_connection_env: OktopostSandbox) -> None:
    existing = oktopost_connection_env.add_integration(type="cd", cname_id=CNAME)
    op = OktopostConnectIntegrationOperator(
        task_id="c", integration_type="cd", cname_id=CNAME, if_exists="reuse"
    )
    context = ctx()
    assert op.execute(context) == existing["Id"]
    assert context["ti"].xcoms["integration"]["id"] == existing["Id"]
    assert oktopost_connection_env.count("POST") == 0


def test_connect_on_a_retry_without_evidence_follows_if_exists(
    oktopost_connection_env: OktopostSandbox,
) -> None:
    # Issue 10: a later try no longer adopts what it finds without a record that this task created it.
    existing = oktopost_connection_env.add_integration(type="cd", cname_id=CNAME)
    op = OktopostConnectIntegrationOperator(
        task_id="c", integration_type="cd", cname_id=CNAME, if_exists="fail"
    )
    with pytest.raises(AirflowFailException, match=existing["Id"]):
        op.execute(ctx(try_number=2))
    assert len(oktopost_connection_env.integrations) == 1
    assert oktopost_connection_env.count("POST") == 0


def test_connect_settings_from_a_rendered_json_string(oktopost_connection_env: OktopostSandbox) -> None:
    op = OktopostConnectIntegrationOperator(
        task_id="c", integration_type="cd", cname_id=CNAME, settings="{{ settings }}"
    )
    op.render_template_fields({"settings": '{"trackingId": "UA-9", "tags": ["a", "b"]}'})  # type: ignore[arg-type]
    context = ctx()
    integration_id = op.execute(context)
    assert oktopost_connection_env.get(integration_id)["SettingsData"] == {
        "trackingId": "UA-9",
        "tags": ["a", "b"],
    }


# ---- update / delete ------------------------------------------------------------------------------------


def test_update_changes_state_cname_and_settings(oktopost_connection_env: OktopostSandbox) -> None:
    sandbox = oktopost_connection_env
    record = sandbox.add_integration(settings={"a": "1"})
    op = OktopostUpdateIntegrationOperator(
        task_id="u",
        integration_id=record["Id"],
        state="disabled",
        cname_id="0CNother0000001",
        settings={"b": 2},
    )
    assert op.execute(ctx()) == record["Id"]
    after = sandbox.get(record["Id"])
    assert (after["State"], after["CnameId"], after["SettingsData"]) == (
        "disabled",
        "0CNother0000001",
        {"a": "1", "b": "2"},
    )


def test_update_of_a_missing_integration_fails_without_retry(
    oktopost_connection_env: OktopostSandbox,
) -> None:
    op = OktopostUpdateIntegrationOperator(task_id="u", integration_id="014missing00000", state="active")
    with pytest.raises(AirflowFailException, match="404"):
        op.execute(ctx())


def test_delete(oktopost_connection_env: OktopostSandbox) -> None:
    record = oktopost_connection_env.add_integration()
    op = OktopostDeleteIntegrationOperator(task_id="d", integration_id=record["Id"])
    assert op.execute(ctx()) == record["Id"]
    assert oktopost_connection_env.integrations == []
    with pytest.raises(AirflowFailException, match="404"):
        op.execute(ctx())  # gone now, and missing_ok is False


def test_delete_missing_ok(oktopost_connection_env: OktopostSandbox) -> None:
    op = OktopostDeleteIntegrationOperator(task_id="d", integration_id="014missing00000", missing_ok=True)
    assert op.execute(ctx()) == "014missing00000"
    assert oktopost_connection_env.count("DELETE", ONE) == 1


# ---- list ------------------------------------------------------------------------------------------------


def test_list_reads_every_page_and_filters(oktopost_connection_env: OktopostSandbox) -> None:
    sandbox = oktopost_connection_env
    for n in range(130):
        sandbox.add_integration(
            type="cd", status="invalid" if n % 10 == 0 else None, state="disabled" if n % 4 == 0 else "active"
        )
    for _ in range(3):
        sandbox.add_integration(type="ga")

    everything = OktopostListIntegrationsOperator(task_id="l").execute(ctx())
    assert len(everything) == 133
    assert len({item["id"] for item in everything}) == 133
    assert sandbox.count("GET", LIST) == 2  # 100 + 33

    cd_invalid_disabled = OktopostListIntegrationsOperator(
        task_id="l", integration_type="cd", status="invalid", state="disabled"
    ).execute(ctx())
    assert len(cd_invalid_disabled) == len([n for n in range(130) if n % 10 == 0 and n % 4 == 0])
    assert {(i["type"], i["status"], i["state"]) for i in cd_invalid_disabled} == {
        ("cd", "invalid", "disabled")
    }
    assert {
        i["type"] for i in OktopostListIntegrationsOperator(task_id="l", integration_type="ga").execute(ctx())
    } == {"ga"}


def test_refused_key_fails_without_retry(
    oktopost_connection_env: OktopostSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    oktopost_connection_env.configure(forbidden_keys=[oktopost_connection_env.api_key])
    with pytest.raises(AirflowFailException, match="403"):
        OktopostListIntegrationsOperator(task_id="l").execute(ctx())

"""The partner example: five customers onboarded in one run, each with its own account and connection.

The sandbox plays Oktopost: its partner account creates the customers' accounts (each planned with the Id
and key that the customer's Airflow connection holds, as a partner would set up after creating it), and
each account has its own key and its own rate limit.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

import pytest
from support import load_example

from airflow_provider_oktopost.testing import OktopostSandbox
from airflow_provider_oktopost.testing.dagrun import run_dag, task_states, xcoms

pytestmark = [
    pytest.mark.airflow,
    pytest.mark.skipif(
        tuple(int(p) for p in version("apache-airflow").split(".")[:2]) < (3, 1),
        reason="Airflow 3.0's mapped task groups fail to expand ('MappedTaskGroup' object has no attribute "
        "'_expand_input'; they work from 3.1, see apache/airflow#49996, #50637); not a provider issue",
    ),
]

PASSWORD = "Initial-0wner-Pa55"


def _customers() -> list[dict[str, str]]:
    module_dag = load_example("example_oktopost_partner_onboarding")
    return [dict(c) for c in module_dag.params["customers"]]


def _accounts(
    sandbox: OktopostSandbox, monkeypatch: pytest.MonkeyPatch, customers: list[dict[str, str]]
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_OKTOPOST_PARTNER_DEFAULT", sandbox.partner_connection_json())
    monkeypatch.setenv("AIRFLOW_VAR_OKTOPOST_INITIAL_OWNER_PASSWORD", PASSWORD)
    for n, customer in enumerate(customers, start=1):
        account_id, key = f"001customer{n:04d}", f"customer-{n}-key"
        sandbox.plan_account(customer["external_id"], account_id, key)
        monkeypatch.setenv(
            f"AIRFLOW_CONN_{customer['conn_id'].upper()}", sandbox.account_connection_json(account_id, key)
        )


def _by_account(records: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for record in records:
        counts[record["AccountId"]] = counts.get(record["AccountId"], 0) + 1
    return counts


def test_five_customers_each_on_its_own_account(
    fast_time: OktopostSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = fast_time
    customers = _customers()
    assert len(customers) >= 5
    _accounts(sandbox, monkeypatch, customers)
    dag = load_example("example_oktopost_partner_onboarding")
    run = run_dag(dag)
    assert run.state == "success", task_states(run)
    accounts = sandbox.managed_accounts
    assert sorted(a["ExternalID"] for a in accounts) == sorted(c["external_id"] for c in customers)
    ids = {a["ExternalID"]: a["Id"] for a in accounts}
    # Each customer's CNAME and integration live in that customer's own account.
    expected = {ids[c["external_id"]]: 1 for c in customers}
    assert _by_account(sandbox.cnames) == expected
    assert _by_account(sandbox.integrations) == expected
    assert {c["Name"]: c["AccountId"] for c in sandbox.cnames} == {
        c["host_name"]: ids[c["external_id"]] for c in customers
    }
    assert all(i["Status"] == "valid" and i["State"] == "active" for i in sandbox.integrations)
    assert sorted(xcoms(run, "onboard.ensure_account")) == sorted(ids.values())
    # Who called what: the partner only /account, each customer only /v2, with its own key.
    for entry in sandbox.requests:
        if entry.path.startswith("/account"):
            assert entry.account == "001partner00001"
        else:
            assert entry.account in ids.values()
    assert PASSWORD not in repr(sandbox.requests) + repr(xcoms(run, "onboard.ensure_account", key="account"))

    # A second run creates nothing: the accounts are found by external id, CNAMEs and integrations reused.
    again = run_dag(dag)
    assert again.state == "success", task_states(again)
    assert len(sandbox.managed_accounts) == len(customers)
    assert len(sandbox.cnames) == len(sandbox.integrations) == len(customers)
    assert sandbox.count("POST", "/account") == len(customers)


def test_a_missing_connection_fails_only_that_customer(
    fast_time: OktopostSandbox, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    sandbox = fast_time
    customers = _customers()
    _accounts(sandbox, monkeypatch, customers)
    missing = customers[2]
    monkeypatch.delenv(f"AIRFLOW_CONN_{missing['conn_id'].upper()}")
    run = run_dag(load_example("example_oktopost_partner_onboarding"))
    states = task_states(run)
    assert run.state == "failed"
    index = 2
    assert states[f"onboard.ensure_account[{index}]"] == "success"
    assert states[f"onboard.check_connection[{index}]"] == "failed"
    for task in ("register_cname", "connect", "wait_until_ready"):
        assert states[f"onboard.{task}[{index}]"] == "upstream_failed"
        others = [states[f"onboard.{task}[{i}]"] for i in range(len(customers)) if i != index]
        assert others == ["success"] * (len(customers) - 1)
    assert len(sandbox.integrations) == len(customers) - 1
    out = "".join(capfd.readouterr())
    assert f"Customer {missing['external_id']}: no Airflow connection {missing['conn_id']!r}" in out

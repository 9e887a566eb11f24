"""The onboarding chain examples run for real (dag.test, SQLite) against the sandbox: onboarding from a host
name (idempotent, survives lost responses) and the smoke test of a ready integration."""

from __future__ import annotations

import pytest
from support import load_example

from airflow_provider_oktopost.testing import Fault, OktopostSandbox
from airflow_provider_oktopost.testing.dagrun import run_dag, task_states, xcom

pytestmark = pytest.mark.airflow

ONBOARDING_TASKS = {"create_cname", "connect", "wait_until_ready", "read_back", "report"}
EMAIL = "smoke-test@example.com"


def test_onboarding_from_a_host_name_and_again_creates_nothing(fast_time: OktopostSandbox) -> None:
    sandbox = fast_time
    sandbox.configure(validation_delay=40)
    dag = load_example("example_oktopost_onboarding")
    run = run_dag(dag, run_conf={"host_name": "Links.Example.com"})
    assert run.state == "success", task_states(run)
    assert set(task_states(run)) == ONBOARDING_TASKS
    (cname,) = sandbox.cnames
    assert cname["Name"] == "links.example.com"
    assert xcom(run, "create_cname") == cname["Id"]
    (integration,) = sandbox.integrations
    assert integration["CnameId"] == cname["Id"] and integration["Type"] == "cd"
    assert integration["Status"] == "valid" and integration["State"] == "active"
    assert xcom(run, "connect") == integration["Id"]
    assert xcom(run, "wait_until_ready")["is_ready"] is True
    assert xcom(run, "read_back")["credentials"] >= 1
    assert xcom(run, "report") == (
        f"Integration {integration['Id']} (cd) on Links.Example.com (CNAME {cname['Id']}) is valid and "
        "active, with 1 credential(s) and 1 board(s)"
    )
    # The sensor checked once in the worker, found it still invalid, deferred, and the trigger polled on.
    gets = [r for r in sandbox.requests if r.method == "GET" and r.path.endswith(integration["Id"])]
    assert len(gets) >= 3
    assert sandbox.count("POST", r"/v2/cname") == 1 and sandbox.count("POST", r"/v2/integration") == 1

    sandbox.clear_requests()
    again = run_dag(dag, run_conf={"host_name": "links.example.com"})
    assert again.state == "success", task_states(again)
    assert sandbox.cnames == [cname] and [i["Id"] for i in sandbox.integrations] == [integration["Id"]]
    assert sandbox.count("POST") == 0  # nothing new: both were found and reused
    assert xcom(again, "connect") == integration["Id"]


def test_onboarding_survives_lost_responses_and_transient_faults(fast_time: OktopostSandbox) -> None:
    sandbox = fast_time
    sandbox.configure(validation_delay=20)
    sandbox.inject(
        Fault(kind="status", status=503, method="GET", path="/v2/cname", times=2),
        Fault(kind="lost_response", method="POST", path="/v2/cname"),
        Fault(kind="status", status=503, method="GET", path="/v2/integration", times=2),
        Fault(kind="lost_response", method="POST", path="/v2/integration"),
        Fault(kind="drop", method="GET", path="/v2/integration/.+", times=2),
        Fault(kind="status", status=502, path="/v2/integration/.+", times=1),
    )
    run = run_dag(load_example("example_oktopost_onboarding"), run_conf={"host_name": "go.example.org"})
    assert run.state == "success", task_states(run)
    (cname,) = sandbox.cnames
    (integration,) = sandbox.integrations
    assert integration["CnameId"] == cname["Id"]
    assert sandbox.count("POST", r"/v2/cname") == 1 and sandbox.count("POST", r"/v2/integration") == 1
    assert sandbox.pending_faults == []


def test_onboarding_refuses_a_url_before_any_request(fast_time: OktopostSandbox) -> None:
    sandbox = fast_time
    run = run_dag(
        load_example("example_oktopost_onboarding"), run_conf={"host_name": "https://x.example.com/"}
    )
    assert run.state == "failed"
    assert task_states(run)["create_cname"] == "failed"
    assert sandbox.count() == 0


@pytest.mark.parametrize(
    ("type", "conf", "action", "fields"),
    [
        ("salesforce", {}, "contact.getByEmail", ["Company", "Email", "FirstName", "Id", "LastName"]),
        ("marketo", {}, "lead.getByEmail", ["Company", "Email", "FirstName", "Id", "LastName"]),
        ("hubspot", {"action_name": "contact.search", "payload": {"query": "ab"}}, "contact.search", None),
    ],
)
def test_smoke_test_waits_then_runs_one_read(
    fast_time: OktopostSandbox,
    capfd: pytest.CaptureFixture[str],
    type: str,
    conf: dict[str, object],
    action: str,
    fields: list[str] | None,
) -> None:
    sandbox = fast_time
    sandbox.configure(validation_delay=30)
    integration = sandbox.add_integration(type, "0CN000000000001")
    capfd.readouterr()
    run = run_dag(
        load_example("example_oktopost_smoke_test"), run_conf={"integration_id": integration["Id"], **conf}
    )
    assert run.state == "success", task_states(run)
    summary = xcom(run, "run_action")
    assert summary["action_name"] == action and summary["records"] >= 1
    assert "data" not in summary
    if fields:
        assert summary["fields"] == fields
    assert xcom(run, "report").startswith(f"Smoke test passed: integration {integration['Id']} ran {action}")
    (sent,) = [r for r in sandbox.requests if r.path == "/v2/integration-action"]
    assert sent.form["actionName"] == action
    # What the CRM answered never reaches a log: no name, company or (looked-up) address.
    out = "".join(capfd.readouterr())
    for value in ("Sandbox", "Example Inc", "Person "):
        assert value not in out
    assert EMAIL not in out, [line for line in out.splitlines() if EMAIL in line]


def test_smoke_test_fails_for_a_type_without_a_default_action(fast_time: OktopostSandbox) -> None:
    sandbox = fast_time
    integration = sandbox.add_integration("cd", "0CN000000000001")
    run = run_dag(load_example("example_oktopost_smoke_test"), run_conf={"integration_id": integration["Id"]})
    assert run.state == "failed"
    assert task_states(run)["choose_action"] == "failed"
    assert sandbox.count("POST") == 0

"""Every example DAG runs to success in a real Airflow (dag.test, SQLite) against the sandbox."""

from __future__ import annotations

import warnings
from importlib.metadata import version

import pytest
from support import EXAMPLES, load_example

from airflow_provider_oktopost.testing import OktopostSandbox
from airflow_provider_oktopost.testing.dagrun import run_dag, task_states, xcom, xcoms

pytestmark = pytest.mark.airflow
AIRFLOW_VERSION = tuple(int(p) for p in version("apache-airflow").split(".")[:2])

NAMES = sorted(p.stem for p in EXAMPLES.glob("example_*.py"))


def test_all_examples_import_cleanly(sandbox: OktopostSandbox) -> None:
    """DagBag import: no errors, no warnings from our code, and no Oktopost call at parse time."""
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow < 3.1
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bag = (
            DagBag(dag_folder=str(EXAMPLES), include_examples=False)
            if "include_examples" in (DagBag.__init__.__code__.co_varnames)
            else DagBag(dag_folder=str(EXAMPLES))
        )
    assert bag.import_errors == {}
    assert (
        sorted(bag.dag_ids)
        == NAMES
        == [
            "example_oktopost_audit",
            "example_oktopost_bulk_onboarding",
            "example_oktopost_lifecycle",
            "example_oktopost_onboarded_downstream",
            "example_oktopost_onboarding",
            "example_oktopost_partner_onboarding",
            "example_oktopost_smoke_test",
            "example_oktopost_watch_integrations",
        ]
    )
    ours = [
        w
        for w in caught
        if "example_dags" in str(w.filename) or "airflow_provider_oktopost" in str(w.filename)
    ]
    assert ours == [], [str(w.message) for w in ours]
    assert sandbox.count() == 0


# The onboarding and smoke-test examples: tests/example_dags/test_example_onboarding_chain.py


def test_lifecycle(fast_time: OktopostSandbox) -> None:
    sandbox = fast_time
    run = run_dag(load_example("example_oktopost_lifecycle"), run_conf={"cname_id": "0CN0000000000CC"})
    assert run.state == "success", task_states(run)
    assert sandbox.integrations == []  # deleted at the end
    updates = [
        r.form for r in sandbox.requests if r.method == "POST" and r.path.startswith("/v2/integration/")
    ]
    assert updates == [{"state": "disabled"}, {"state": "active"}]
    assert sandbox.count(method="DELETE") == 1
    assert xcom(run, "confirm_disabled")["state"] == "disabled"
    assert xcom(run, "confirm_enabled")["is_ready"] is True


@pytest.mark.skipif(
    AIRFLOW_VERSION < (3, 1),
    reason="Airflow 3.0's dag.test() cannot expand over a mapped task's output (ImportError of "
    "SUPERVISOR_COMMS in its legacy in-process path); not a provider issue",
)
def test_bulk_onboarding(fast_time: OktopostSandbox) -> None:
    sandbox = fast_time
    sandbox.configure(validation_delay=30)
    cnames = [f"0CN00000000010{i}" for i in range(5)]
    run = run_dag(load_example("example_oktopost_bulk_onboarding"), run_conf={"cname_ids": cnames})
    assert run.state == "success", task_states(run)
    assert sorted(i["CnameId"] for i in sandbox.integrations) == cnames
    assert all(i["Status"] == "valid" for i in sandbox.integrations)
    ids = sorted(i["Id"] for i in sandbox.integrations)
    assert sorted(xcoms(run, "connect")) == ids
    assert xcom(run, "summary") == {"ready": 5, "total": 5, "ids": ids}
    assert sandbox.count(method="POST") == 5


def test_audit_healthy_and_broken(sandbox: OktopostSandbox, capfd: pytest.CaptureFixture[str]) -> None:
    healthy = sandbox.add_integration("cd", "0CN000000000001")
    paused = sandbox.add_integration("ga", "0CN000000000002", state="disabled")
    dag = load_example("example_oktopost_audit")
    run = run_dag(dag, run_conf={"expected_disabled": [paused["Id"]]})
    assert run.state == "success", task_states(run)
    assert xcom(run, "check") == {"checked": 2, "invalid": 0, "unexpectedly_disabled": 0}
    assert {i["id"] for i in xcom(run, "list_integrations")} == {healthy["Id"], paused["Id"]}

    broken = sandbox.add_integration("pardot", "0CN000000000003", status="invalid")
    capfd.readouterr()
    run = run_dag(dag, run_conf={"expected_disabled": []})
    assert run.state == "failed"
    assert task_states(run)["check"] == "failed"
    out = "".join(capfd.readouterr())
    assert broken["Id"] in out and paused["Id"] in out and "2 Oktopost integration problem(s)" in out

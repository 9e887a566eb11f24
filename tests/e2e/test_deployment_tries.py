"""Issue 19 on a real deployment: a connect killed mid-request and retried, and a Clear through REST.

The deployment (LocalExecutor, SQLite) runs the DAGs of ``tries_dags/`` only. Airflow 3.3 keeps each
try's evidence in the task state store (``task_state_store`` rows are checked below); the operators' one
rule for tries decides what the next try does.

- A connect whose task process is SIGKILLed after its POST reached the sandbox (the sandbox holds it, then
  commits it): the task's retry adopts that integration; one POST, one integration.
- A connect that failed because an integration of that type already exists on the CNAME, then Cleared
  through the REST API: it fails again with the same message; nothing is sent, nothing adopted.

Run with ``pytest tests/e2e/test_deployment_tries.py -m e2e``.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_deployment import POLL, Deployment
from e2e_processes import DeploymentError
from e2e_rest import RunWatch

from airflow_provider_oktopost.testing import Fault
from airflow_provider_oktopost.testing.client import SandboxClient

pytestmark = pytest.mark.e2e

DAGS = Path(__file__).resolve().parent / "tries_dags"
DAG_IDS = frozenset({"e2e_tries_connect_retried", "e2e_tries_connect_once"})
LIST = r"/v2/integration"
#: How long the sandbox holds the killed try's POST before it commits it (longer than the retry takes to
#: start, so the retry finds nothing at first and must wait for it rather than connect a second one).
HELD = 25.0
RUN_TIMEOUT = 240.0


class TriesDeployment(Deployment):
    """The shared deployment, with this test's DAGs folder and a short request timeout."""

    def airflow_env(self) -> dict[str, str]:
        env = super().airflow_env()
        env["AIRFLOW__CORE__DAGS_FOLDER"] = str(DAGS)
        return env

    def start_sandbox(self) -> None:
        super().start_sandbox()
        assert self.connection_json is not None
        # The connect's request timeout: a retry that finds nothing waits until this long after the
        # killed try's POST left before it looks again.
        conn = json.loads(self.connection_json)
        conn["extra"] = json.dumps({**json.loads(conn.get("extra") or "{}"), "timeout": HELD + 5})
        self.connection_json = json.dumps(conn)

    def wait_for_dags(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            errors = self.rest.call("GET", "/importErrors")
            if errors["total_entries"]:
                raise DeploymentError(f"DAG import errors: {errors['import_errors']}")
            dags = {dag["dag_id"] for dag in self.rest.call("GET", "/dags", limit=100)["dags"]}
            if dags >= DAG_IDS:
                return
            time.sleep(POLL)
        raise DeploymentError(f"the tries DAGs were not listed within {timeout:.0f} s\n{self.diagnosis()}")


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    deployed = TriesDeployment(tmp_path_factory.mktemp("e2e-tries"), validation_delay=0.5)
    started = time.monotonic()
    try:
        deployed.start()
        print(f"\ndeployment healthy in {time.monotonic() - started:.0f} s; logs in {deployed.logs}")
        yield deployed
    finally:
        deployed.stop()


def _ti(deployment: Deployment, dag_id: str, run_id: str) -> dict[str, object]:
    [ti] = deployment.rest.task_instances(dag_id, run_id)
    return ti


def test_connect_killed_mid_request_is_retried_and_adopts_its_own_integration(
    deployment: Deployment, sandbox: SandboxClient
) -> None:
    cname = "0CNe2etries0001"
    started = time.monotonic()
    held = Fault(kind="delay", method="POST", path=LIST, delay_seconds=HELD)
    sandbox.inject(held)
    dag_id = "e2e_tries_connect_retried"
    run_id = deployment.rest.trigger(dag_id, {"cname_id": cname})
    deadline = time.monotonic() + RUN_TIMEOUT
    while sandbox.pending_faults:  # taken when the POST reaches the sandbox
        assert time.monotonic() < deadline, deployment.task_logs(dag_id, run_id)
        time.sleep(0.1)
    pid = _ti(deployment, dag_id, run_id)["pid"]
    assert isinstance(pid, int), _ti(deployment, dag_id, run_id)
    os.kill(pid, signal.SIGKILL)  # the task process, mid-request
    watch = deployment.watch(RunWatch(dag_id, run_id), timeout=RUN_TIMEOUT)
    print(f"\nkilled connect retried to success in {time.monotonic() - started:.0f} s")

    assert watch.state == "success", deployment.run_diagnosis(watch)
    ti = _ti(deployment, dag_id, run_id)
    assert ti["try_number"] == 2, watch.summary()
    mine = [item for item in sandbox.integrations if item["CnameId"] == cname]
    assert len(mine) == 1, mine
    assert deployment.rest.xcom(dag_id, run_id, "connect") == mine[0]["Id"]
    posts = [r for r in sandbox.requests if r.method == "POST" and r.form.get("cnameId") == cname]
    assert len(posts) == 1, posts  # the killed try's; the retry adopted what it made
    # The evidence was kept in the task state store (Airflow 3.3), not in a Variable.
    rows = deployment.query(
        "SELECT key FROM task_state_store WHERE dag_id = ? AND run_id = ?", dag_id, run_id
    )
    assert [row["key"] for row in rows], "no task_state_store row"
    assert not deployment.query("SELECT key FROM variable WHERE key LIKE 'oktopost_try_record_%'")


def test_clear_through_rest_of_a_connect_that_found_one_already_fails_again(
    deployment: Deployment, sandbox: SandboxClient
) -> None:
    cname = "0CNe2etries0002"
    started = time.monotonic()
    foreign = sandbox.add_integration(type="ga", cname_id=cname, status="valid")
    posts_before = sandbox.count("POST", LIST)
    dag_id = "e2e_tries_connect_once"
    run_id = deployment.rest.trigger(dag_id, {"cname_id": cname})
    first = deployment.watch(RunWatch(dag_id, run_id), timeout=RUN_TIMEOUT)
    assert first.state == "failed", deployment.run_diagnosis(first)
    deployment.rest.call(
        "POST",
        f"/dags/{dag_id}/clearTaskInstances",
        {"dry_run": False, "dag_run_id": run_id, "task_ids": ["connect"], "reset_dag_runs": True},
    )
    cleared = deployment.watch(
        RunWatch(dag_id, run_id),
        timeout=RUN_TIMEOUT,
        until=lambda w: (w.ti("connect") or {}).get("try_number") == 2 and w.state in ("success", "failed"),
    )
    print(f"\nfailed, cleared through REST and failed again in {time.monotonic() - started:.0f} s")

    assert cleared.state == "failed", deployment.run_diagnosis(cleared)
    assert "already exists" in deployment.task_logs(dag_id, run_id, lines=200)
    assert [item["Id"] for item in sandbox.integrations if item["CnameId"] == cname] == [foreign["Id"]]
    assert sandbox.count("POST", LIST) == posts_before  # nothing connected, nothing adopted

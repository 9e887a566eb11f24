"""The example DAGs on a real Airflow deployment: api-server, scheduler, dag-processor and triggerer as
separate processes (LocalExecutor, SQLite), against the sandbox running as a process of its own.

Everything is driven the way an operator would: DAGs unpaused and triggered through the REST API, task
instance states polled through it, the sandbox inspected through its control routes. The sensor must
really defer, its trigger must really run in the triggerer process, and a triggerer restart must neither
lose the wait nor move its deadline.

The sandbox holds every integration these tests create invalid until the test has seen the trigger read
it invalid in the triggerer, then releases it (``hold_validation`` / ``release_validation``): no timing
margin has to outlast process start-ups. The last test audits the real file-based task and triggerer logs
the runs left behind for the deployment's key.

Run with ``make e2e`` (or ``pytest tests/e2e -m e2e``); the module takes about three minutes.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from e2e_deployment import Deployment
from e2e_rest import RunWatch
from e2e_runs import (
    BULK,
    ONBOARDING,
    RUN_TIMEOUT,
    TRIGGER_PATH,
    assert_key_in_no_file,
    assert_planted_secrets_found,
    cname_for,
    integrations_for,
    onboard_through_a_deferral,
    read_invalid_in_triggerer,
    run_logs,
    start_onboarding,
    waiting_lines,
)

from airflow_provider_oktopost.testing.client import SandboxClient

pytestmark = pytest.mark.e2e


def api_reads(sandbox: SandboxClient) -> int:
    """Reads of integrations the sandbox received: single reads and listings (the triggerer's poller
    chooses whichever costs fewer calls)."""
    return sandbox.count(method="GET", path_regex=r".*/integration(/.*)?")


def assert_trigger_ran(
    deployment: Deployment,
    dag_id: str,
    run_id: str,
    job: int,
    *,
    outcome: str | None,
    map_index: int = -1,
    read_invalid: bool = False,
) -> list[dict[str, Any]]:
    """The triggerer whose job id is ``job`` ran the sensor's trigger and, with ``outcome``, fired it.

    Airflow writes a trigger's log lines next to the task's log, in a file named after the triggerer job
    (not to the triggerer's stdout): its ``starting`` and ``Trigger fired event`` lines come from the
    triggerer itself, a ``waiting`` line (``read_invalid``) from our trigger class's own logger.
    """
    records = deployment.trigger_log(dag_id, run_id, "wait_until_ready", job, map_index)
    events = [str(r.get("event", "")) for r in records]
    assert any(e.startswith("trigger ") and e.endswith(" starting") for e in events), (job, records)
    if read_invalid:
        assert waiting_lines(records), (job, records)
    fired = [str(r.get("result")) for r in records if r.get("event") == "Trigger fired event"]
    if outcome is None:
        assert not fired, (job, records)
    else:
        assert len(fired) == 1 and f"'status': '{outcome}'" in fired[0], (job, records)
    return records


def assert_ready(integration: dict[str, Any]) -> None:
    assert (integration["Status"], integration["State"]) == ("valid", "active"), integration


def test_onboarding_defers_and_the_trigger_runs_in_the_triggerer(
    deployment: Deployment, held: SandboxClient
) -> None:
    host_name = "onboard.e2e.example.com"
    sandbox = held
    rest = deployment.rest
    watch = onboard_through_a_deferral(deployment, held, host_name)
    run_id = watch.run_id
    # The sensor went through ``deferred``, with our trigger assigned to a triggerer job, and came back
    # on its first try (a resumed deferral, not a retry).
    triggers = watch.triggers.get("wait_until_ready", set())
    assert {classpath for _, classpath, _ in triggers} == {TRIGGER_PATH}, triggers
    assert any(triggerer_id is not None for _, _, triggerer_id in triggers), triggers
    wait_ti = watch.ti("wait_until_ready")
    assert wait_ti is not None and wait_ti["try_number"] == 1, wait_ti
    assert {ti["state"] for ti in watch.last} == {"success"}, watch.summary()

    # The sandbox: one CNAME for the host, exactly one integration on it, valid and active, the one the
    # DAG reported.
    cname_id = cname_for(sandbox, host_name)
    assert rest.xcom(ONBOARDING, run_id, "create_cname") == cname_id
    (integration,) = integrations_for(sandbox, cname_id)
    assert_ready(integration)
    assert rest.xcom(ONBOARDING, run_id, "connect") == integration["Id"]
    assert rest.xcom(ONBOARDING, run_id, "wait_until_ready")["id"] == integration["Id"]
    report = rest.xcom(ONBOARDING, run_id, "report")
    expected = f"Integration {integration['Id']} (cd) on {host_name} (CNAME {cname_id}) is valid and active"
    assert expected in report, report
    assert sandbox.count(method="POST", path_regex=r".*/integration") == 1

    # The trigger ran in the triggerer process: the triggerer job the TI was assigned to logged the start,
    # our trigger's own "still invalid" line and the success event.
    (job,) = {triggerer_id for _, _, triggerer_id in triggers if triggerer_id is not None}
    assert_trigger_ran(deployment, ONBOARDING, run_id, job, outcome="success", read_invalid=True)


def test_bulk_onboarding_maps_over_three_cnames(deployment: Deployment, held: SandboxClient) -> None:
    cname_ids = ["0CNe2ebulk00001", "0CNe2ebulk00002", "0CNe2ebulk00003"]
    sandbox = held
    rest = deployment.rest
    rest.unpause(BULK)
    run_id = rest.trigger(BULK, {"cname_ids": cname_ids})
    watch = RunWatch(BULK, run_id)
    all_read = read_invalid_in_triggerer(deployment, BULK, (0, 1, 2))
    deployment.watch(watch, timeout=RUN_TIMEOUT + 30, until=all_read)
    assert watch.state != "failed", deployment.run_diagnosis(watch)
    assert len(sandbox.release_validation()) == 3
    deployment.watch(watch, timeout=RUN_TIMEOUT)

    assert watch.state == "success", deployment.run_diagnosis(watch)
    mapped = {key: states for key, states in watch.seen.items() if key.startswith("wait_until_ready[")}
    assert len(mapped) == 3, watch.summary()
    assert all("deferred" in states for states in mapped.values()), watch.summary()
    for map_index in range(3):
        (job,) = {job for _, _, job in watch.triggers[f"wait_until_ready[{map_index}]"] if job is not None}
        assert_trigger_ran(deployment, BULK, run_id, job, outcome="success", map_index=map_index)
    assert {ti["state"] for ti in watch.last} == {"success"}, watch.summary()
    pools = {ti["pool"] for ti in watch.last if ti["task_id"] in ("connect", "wait_until_ready")}
    assert pools == {"oktopost_api"}, pools

    # Exactly one integration per CNAME, all valid (and active).
    found = {cname_id: integrations_for(sandbox, cname_id) for cname_id in cname_ids}
    assert all(len(items) == 1 for items in found.values()), found
    for (integration,) in found.values():
        assert_ready(integration)
    ids = sorted(items[0]["Id"] for items in found.values())
    summary = rest.xcom(BULK, run_id, "summary")
    assert summary == {"ready": 3, "total": 3, "ids": ids}, summary


def test_triggerer_restart_keeps_the_wait_and_its_deadline(
    deployment: Deployment, held: SandboxClient
) -> None:
    host_name = "restart.e2e.example.com"
    sandbox = held
    watch = start_onboarding(deployment, host_name)  # read invalid by the first triggerer
    run_id = watch.run_id
    read_invalid = read_invalid_in_triggerer(deployment, ONBOARDING)
    cname_id = cname_for(sandbox, host_name)
    (integration,) = integrations_for(sandbox, cname_id)
    ti = watch.ti("wait_until_ready")
    assert ti is not None
    trigger_id, old_job = ti["trigger"]["id"], ti["trigger"]["triggerer_id"]
    kwargs_before = deployment.trigger_kwargs(trigger_id)
    assert kwargs_before is not None and kwargs_before["integration_id"] == integration["Id"], kwargs_before
    end_time = kwargs_before["end_time"]
    # The sensor's timeout is an hour from the deferral, which was moments ago.
    assert 0 < end_time - time.time() <= 3600, kwargs_before
    # Airflow's own deferral timeout is only a backstop, later than the trigger's deadline.
    timeout_before = deployment.trigger_timeout(ONBOARDING, run_id, "wait_until_ready")
    assert timeout_before is not None and timeout_before.timestamp() >= end_time, (
        timeout_before,
        end_time,
    )
    reads_before = api_reads(sandbox)
    current = sandbox.get(integration["Id"])
    assert current is not None and current["Status"] == "invalid", f"validated before the restart: {current}"

    old, new = deployment.restart_triggerer()

    # While no triggerer runs, the task just stays deferred. The new triggerer adopts the same trigger
    # row (same id, same kwargs): the deadline is the absolute end_time chosen at deferral.
    def adopted(w: RunWatch) -> bool:
        ti = w.ti("wait_until_ready")
        if ti is None or ti["state"] != "deferred":
            return True  # finished or failed: checked below
        job = (ti.get("trigger") or {}).get("triggerer_id")
        return job is not None and job != old_job

    deployment.watch(watch, timeout=RUN_TIMEOUT, until=adopted)
    ti = watch.ti("wait_until_ready")
    assert ti is not None and ti["state"] == "deferred", deployment.run_diagnosis(watch)
    assert ti["trigger"]["id"] == trigger_id, ti["trigger"]
    new_job = ti["trigger"]["triggerer_id"]
    kwargs_after = deployment.trigger_kwargs(trigger_id)
    assert kwargs_after is not None, "the trigger row vanished"
    assert kwargs_after["end_time"] == end_time, (kwargs_before, kwargs_after)
    assert deployment.trigger_timeout(ONBOARDING, run_id, "wait_until_ready") == timeout_before
    health = deployment.wait_healthy(timeout=60)  # the new triggerer heartbeats
    assert health["triggerer"]["status"] == "healthy", health

    deployment.watch(watch, timeout=RUN_TIMEOUT, until=read_invalid)  # and by the new one
    assert watch.state != "failed", deployment.run_diagnosis(watch)
    assert sandbox.release_validation(cname_id) == [integration["Id"]]
    deployment.watch(watch, timeout=RUN_TIMEOUT)

    assert watch.state == "success", deployment.run_diagnosis(watch)
    assert "deferred" in watch.seen["wait_until_ready"], watch.summary()
    assert not {"failed", "up_for_retry"} & set(watch.seen["wait_until_ready"]), watch.summary()
    wait_ti = watch.ti("wait_until_ready")
    assert wait_ti is not None and wait_ti["try_number"] == 1, wait_ti
    (integration,) = integrations_for(sandbox, cname_id)
    assert_ready(integration)
    # The old triggerer read the integration but never fired (it was stopped); the new one did the
    # remaining reads and fired the success event.
    assert api_reads(sandbox) > reads_before
    assert_trigger_ran(deployment, ONBOARDING, run_id, old_job, outcome=None, read_invalid=True)
    assert_trigger_ran(deployment, ONBOARDING, run_id, new_job, outcome="success", read_invalid=True)
    assert not old.running() and new.running()


def test_smoke_test_waits_in_the_triggerer_then_runs_one_read(
    deployment: Deployment, held: SandboxClient
) -> None:
    """example_oktopost_smoke_test in the deployment: the wait defers, the action runs once in a worker, and
    only the answer's shape reaches XCom."""
    dag_id = "example_oktopost_smoke_test"
    sandbox = held
    integration = sandbox.add_integration("salesforce", "0CNe2esmoke0001")  # held invalid until released
    rest = deployment.rest
    rest.unpause(dag_id)
    run_id = rest.trigger(dag_id, {"integration_id": integration["Id"]})
    watch = RunWatch(dag_id, run_id)
    deployment.watch(watch, timeout=RUN_TIMEOUT, until=read_invalid_in_triggerer(deployment, dag_id))
    assert watch.state != "failed", deployment.run_diagnosis(watch)
    assert sandbox.release_validation("0CNe2esmoke0001") == [integration["Id"]]
    deployment.watch(watch, timeout=RUN_TIMEOUT)

    assert watch.state == "success", deployment.run_diagnosis(watch)
    assert "deferred" in watch.seen["wait_until_ready"], watch.summary()
    summary = rest.xcom(dag_id, run_id, "run_action")
    assert summary["action_name"] == "contact.getByEmail" and summary["records"] == 1, summary
    assert "data" not in summary, summary
    actions = [r for r in sandbox.requests if r.path.endswith("/integration-action")]
    assert len(actions) == 1 and actions[0].form["id"] == integration["Id"], actions
    report = rest.xcom(dag_id, run_id, "report")
    assert report.startswith(f"Smoke test passed: integration {integration['Id']} ran contact.getByEmail"), (
        report
    )


def test_the_key_is_in_no_task_or_triggerer_log_file(
    deployment: Deployment, held: SandboxClient, tmp_path: Path
) -> None:
    """The real file-based logs (task logs, the triggerer's per-trigger logs), the metadata database and
    every component's output hold neither the deployment's key nor its Basic-auth token.

    Runs after the tests above in this module; when run alone it first runs the onboarding DAG, so that
    there are logs to search (an audit over no file fails).
    """
    if not list((deployment.home / "logs").rglob("attempt=*.log.trigger.*.log")):
        test_onboarding_defers_and_the_trigger_runs_in_the_triggerer(deployment, held)
    task_logs, trigger_logs = run_logs(deployment)
    needles = assert_key_in_no_file(deployment, task_logs + trigger_logs)
    # The same search catches the key when it is there: planted in copies of a task and a trigger log.
    line = f"Authorization: {deployment.api_key}"
    assert_planted_secrets_found(tmp_path, needles, [(task_logs[0], line), (trigger_logs[0], line)])

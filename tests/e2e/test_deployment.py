"""The example DAGs on a real Airflow deployment: api-server, scheduler, dag-processor and triggerer as
separate processes (LocalExecutor, SQLite), against the sandbox running as a process of its own.

Everything is driven the way an operator would: DAGs unpaused and triggered through the REST API, task
instance states polled through it, the sandbox inspected through its control routes. The sensor must
really defer, its trigger must really run in the triggerer process, and a triggerer restart must neither
lose the wait nor move its deadline.

Run with ``make e2e`` (or ``pytest tests/e2e -m e2e``); the module takes about three minutes.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from e2e_deployment import Deployment
from e2e_rest import RunWatch

from airflow_provider_oktopost.testing.client import SandboxClient

pytestmark = pytest.mark.e2e

ONBOARDING = "example_oktopost_onboarding"
BULK = "example_oktopost_bulk_onboarding"
TRIGGER_CLASS = "OktopostIntegrationTrigger"
TRIGGER_PATH = f"airflow_provider_oktopost.triggers.oktopost.{TRIGGER_CLASS}"
RUN_TIMEOUT = 120.0  # seconds for one DAG run (normally 30-60 s)
# A trigger that fires within a couple of seconds of deferring can get its task marked failed
# (apache/airflow#67287), so every integration stays invalid long enough for the first trigger read to
# see it invalid: 12 s for one task (the deployment's default), more when several workers start at once.
BULK_VALIDATION_DELAY = 20.0
RESTART_VALIDATION_DELAY = 40.0


def integrations_for(sandbox: SandboxClient, cname_id: str) -> list[dict[str, Any]]:
    return [item for item in sandbox.integrations if item["CnameId"] == cname_id]


def cname_for(sandbox: SandboxClient, host_name: str) -> str:
    """The Id of the one CNAME the onboarding DAG registered for ``host_name``."""
    (cname,) = [item for item in sandbox.cnames if item["Name"] == host_name]
    return str(cname["Id"])


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


def waiting_lines(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Our trigger's "Integration ... is ...; waiting for ..." log records."""
    return [r for r in records if r.get("logger") == TRIGGER_PATH and "waiting for" in str(r.get("event"))]


def assert_ready(integration: dict[str, Any]) -> None:
    assert (integration["Status"], integration["State"]) == ("valid", "active"), integration


def test_onboarding_defers_and_the_trigger_runs_in_the_triggerer(
    deployment: Deployment, sandbox: SandboxClient
) -> None:
    host_name = "onboard.e2e.example.com"
    rest = deployment.rest
    rest.unpause(ONBOARDING)
    run_id = rest.trigger(ONBOARDING, {"host_name": host_name})

    watch = deployment.watch(RunWatch(ONBOARDING, run_id), timeout=RUN_TIMEOUT)

    assert watch.state == "success", deployment.run_diagnosis(watch)
    # The sensor went through ``deferred``, with our trigger assigned to a triggerer job, and came back
    # on its first try (a resumed deferral, not a retry).
    assert "deferred" in watch.seen["wait_until_ready"], watch.summary()
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


def test_bulk_onboarding_maps_over_three_cnames(deployment: Deployment, sandbox: SandboxClient) -> None:
    cname_ids = ["0CNe2ebulk00001", "0CNe2ebulk00002", "0CNe2ebulk00003"]
    rest = deployment.rest
    sandbox.configure(validation_delay=BULK_VALIDATION_DELAY)
    try:
        rest.unpause(BULK)
        run_id = rest.trigger(BULK, {"cname_ids": cname_ids})
        watch = deployment.watch(RunWatch(BULK, run_id), timeout=RUN_TIMEOUT + 30)
    finally:
        sandbox.configure(validation_delay=deployment.validation_delay)

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
    deployment: Deployment, sandbox: SandboxClient
) -> None:
    host_name = "restart.e2e.example.com"
    rest = deployment.rest
    sandbox.configure(validation_delay=RESTART_VALIDATION_DELAY)
    try:
        rest.unpause(ONBOARDING)
        run_id = rest.trigger(ONBOARDING, {"host_name": host_name})
        watch = RunWatch(ONBOARDING, run_id)

        def read_by_the_triggerer(w: RunWatch) -> bool:
            """Deferred, and the trigger has run in the (first) triggerer: it logged a read."""
            ti = w.ti("wait_until_ready")
            if w.state == "failed" or ti is None or ti["state"] != "deferred":
                return w.state == "failed"
            job = (ti.get("trigger") or {}).get("triggerer_id")
            return job is not None and bool(
                waiting_lines(deployment.trigger_log(ONBOARDING, w.run_id, "wait_until_ready", job))
            )

        deployment.watch(watch, timeout=RUN_TIMEOUT, until=read_by_the_triggerer)
        assert watch.state != "failed", deployment.run_diagnosis(watch)
        cname_id = cname_for(sandbox, host_name)
        (integration,) = integrations_for(sandbox, cname_id)
        ti = watch.ti("wait_until_ready")
        assert ti is not None
        trigger_id, old_job = ti["trigger"]["id"], ti["trigger"]["triggerer_id"]
        kwargs_before = deployment.trigger_kwargs(trigger_id)
        assert kwargs_before is not None and kwargs_before["integration_id"] == integration["Id"], (
            kwargs_before
        )
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
        assert current is not None and current["Status"] == "invalid", (
            f"validated before the restart: {current}"
        )

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

        deployment.watch(watch, timeout=RUN_TIMEOUT)
    finally:
        sandbox.configure(validation_delay=deployment.validation_delay)

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

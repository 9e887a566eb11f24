"""The DAG runs and checks that several deployment test modules share, written once.

- The onboarding DAG through a real deferral (``test_deployment.py``, and the DEBUG audit in
  ``test_deployment_debug_audit.py``): the sandbox holds every new integration invalid until the test has
  seen the trigger read it invalid in the triggerer, then releases it, so no timing margin has to outlast
  process start-ups (a trigger that fires within a couple of seconds of deferring can get its task marked
  failed, apache/airflow#67287).
- The audit of a deployment's files for its key (the same two modules).
- The bulk onboarding of 50 CNAMEs at Oktopost's real limits and its per-process-budget control
  (``test_deployment_budget.py`` on the LocalExecutor, ``test_deployment_celery.py`` on Celery).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from e2e_deployment import Deployment
from e2e_rest import RunWatch
from secrets_scan import forbidden, scan_files, scan_tree

from airflow_provider_oktopost.testing import DEFAULT_ACCOUNT_ID
from airflow_provider_oktopost.testing.client import SandboxClient

ONBOARDING = "example_oktopost_onboarding"
BULK = "example_oktopost_bulk_onboarding"
TRIGGER_PATH = "airflow_provider_oktopost.triggers.oktopost.OktopostIntegrationTrigger"
RUN_TIMEOUT = 120.0  # seconds for one onboarding run (normally 30-60 s)

#: Oktopost's real limits, enforced by the sandbox for the bulk runs: 60 calls a minute, then 15 minutes.
LIMITS: dict[str, Any] = {"rate_limit_per_minute": 60, "block_seconds": 900.0}
#: Every integration of a bulk run stays invalid for a while, so the waits really wait.
BULK_VALIDATION_DELAY = 30.0
BULK_RUN_TIMEOUT = 900.0


def integrations_for(sandbox: SandboxClient, cname_id: str) -> list[dict[str, Any]]:
    return [item for item in sandbox.integrations if item["CnameId"] == cname_id]


def cname_for(sandbox: SandboxClient, host_name: str) -> str:
    """The Id of the one CNAME the onboarding DAG registered for ``host_name``."""
    (cname,) = [item for item in sandbox.cnames if item["Name"] == host_name]
    return str(cname["Id"])


def waiting_lines(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Our trigger's "Integration ... is ...; waiting for ..." log records."""
    return [r for r in records if r.get("logger") == TRIGGER_PATH and "waiting for" in str(r.get("event"))]


def read_invalid_in_triggerer(
    deployment: Deployment, dag_id: str, map_indexes: tuple[int, ...] = (-1,)
) -> Callable[[RunWatch], bool]:
    """A ``watch`` condition: every ``wait_until_ready`` (mapped or not) is deferred and its trigger has
    logged a read of the integration as not ready yet in the triggerer (or the run failed)."""

    def done(w: RunWatch) -> bool:
        if w.state == "failed":
            return True
        for map_index in map_indexes:
            ti = w.ti("wait_until_ready", map_index)
            if ti is None or ti["state"] != "deferred":
                return False
            job = (ti.get("trigger") or {}).get("triggerer_id")
            if job is None or not waiting_lines(
                deployment.trigger_log(dag_id, w.run_id, "wait_until_ready", job, map_index)
            ):
                return False
        return True

    return done


def start_onboarding(deployment: Deployment, host_name: str) -> RunWatch:
    """Trigger the onboarding DAG for ``host_name`` and wait until its sensor is deferred and the trigger
    has read the (held) integration invalid in the triggerer."""
    deployment.rest.unpause(ONBOARDING)
    watch = RunWatch(ONBOARDING, deployment.rest.trigger(ONBOARDING, {"host_name": host_name}))
    deployment.watch(watch, timeout=RUN_TIMEOUT, until=read_invalid_in_triggerer(deployment, ONBOARDING))
    assert watch.state != "failed", deployment.run_diagnosis(watch)
    return watch


def onboard_through_a_deferral(deployment: Deployment, held: SandboxClient, host_name: str) -> RunWatch:
    """:func:`start_onboarding`, then release the one integration and see the run succeed after a real
    deferral."""
    watch = start_onboarding(deployment, host_name)
    assert len(held.release_validation(cname_for(held, host_name))) == 1
    deployment.watch(watch, timeout=RUN_TIMEOUT)
    assert watch.state == "success", deployment.run_diagnosis(watch)
    assert "deferred" in watch.seen["wait_until_ready"], watch.summary()
    return watch


def run_logs(deployment: Deployment) -> tuple[list[Path], list[Path]]:
    """The task logs and the triggerer's per-trigger logs the runs left (both must exist)."""
    logs = deployment.home / "logs"
    trigger_logs = sorted(logs.rglob("attempt=*.log.trigger.*.log"))
    task_logs = sorted(p for p in logs.rglob("attempt=*.log") if p.is_file())
    assert task_logs and trigger_logs, sorted(str(p) for p in logs.rglob("*"))
    return task_logs, trigger_logs


def assert_key_in_no_file(deployment: Deployment, searched: list[Path]) -> list[bytes]:
    """Neither the deployment's key nor its Basic-auth token is in any file under its home (the metadata
    database included) or in any component's output; ``searched`` (the run logs) must have been read.
    Returns the needles, for the caller's planted-copy check. The sandbox's output is left out: it is the
    API's side and prints its own settings (the key) by design."""
    components = [p for p in deployment.logs.glob("*.log") if p.name != "sandbox.log"]
    assert {p.stem for p in components} >= {"scheduler", "triggerer", "api-server", "dag-processor"}
    needles = forbidden(DEFAULT_ACCOUNT_ID, deployment.api_key)
    scan = scan_tree(deployment.home, needles).merge(scan_files(components, needles))
    assert scan.found == {}
    assert "airflow.db" in scan.searched and all(
        str(p.relative_to(deployment.home)) in scan.searched for p in searched
    )
    return needles


def assert_planted_secrets_found(
    tmp_path: Path, needles: list[bytes], plants: list[tuple[Path, str]]
) -> None:
    """The same search reports a secret when it is there: each ``(log, line)`` planted in a copy of it."""
    planted = []
    for source, line in plants:
        copy = tmp_path / source.name
        copy.write_bytes(source.read_bytes() + f"{line}\n".encode())
        planted.append(copy)
    assert set(scan_files(planted, needles, tmp_path).found) == {p.name for p in planted}


def onboard_at_the_limits(deployment: Deployment, sandbox: SandboxClient, cname_ids: list[str]) -> RunWatch:
    """The bulk onboarding of ``cname_ids`` to its end, the sandbox at Oktopost's limits (:data:`LIMITS`)
    with a validation delay; the delay goes back to the deployment's afterwards."""
    sandbox.configure(**LIMITS, validation_delay=BULK_VALIDATION_DELAY)
    try:
        deployment.rest.unpause(BULK)
        run_id = deployment.rest.trigger(BULK, {"cname_ids": cname_ids})
        return deployment.watch(RunWatch(BULK, run_id), timeout=BULK_RUN_TIMEOUT)
    finally:
        sandbox.configure(validation_delay=deployment.validation_delay)


def assert_each_cname_onboarded_once(
    deployment: Deployment, sandbox: SandboxClient, watch: RunWatch, cname_ids: list[str]
) -> None:
    """The run succeeded with no 429, and each CNAME has exactly one integration, valid and active."""
    assert watch.state == "success", deployment.run_diagnosis(watch)
    assert sandbox.rate_limited_count == 0
    per_cname = Counter(item["CnameId"] for item in sandbox.integrations if item["CnameId"] in cname_ids)
    assert per_cname == Counter(cname_ids), per_cname
    for item in sandbox.integrations:
        if item["CnameId"] in cname_ids:
            assert (item["Status"], item["State"]) == ("valid", "active"), item


def assert_the_control_gets_429s(
    deployment: Deployment, sandbox: SandboxClient, cname_ids: list[str]
) -> None:
    """The same onboarding again, on processes the caller restarted with the budget per process
    (``budget_store = memory``): the account is refused (a fresh sandbox, at the limits)."""
    sandbox.reset()
    sandbox.configure(**LIMITS, validation_delay=BULK_VALIDATION_DELAY)
    run_id = deployment.rest.trigger(BULK, {"cname_ids": cname_ids})
    deployment.watch(
        RunWatch(BULK, run_id),
        timeout=BULK_RUN_TIMEOUT,
        until=lambda watch: sandbox.rate_limited_count > 0 or watch.state in ("success", "failed"),
    )
    assert sandbox.rate_limited_count > 0

"""Assets on a real deployment (api-server, scheduler, dag-processor, triggerer as separate processes):

- the onboarding run adds its integration to the ``oktopost_onboarded`` alias with the integration's extra,
  and ``example_oktopost_onboarded_downstream`` runs exactly once for it, with that extra;
- the ``AssetWatcher`` of ``example_oktopost_watch_integrations`` starts exactly one run per counted change
  (invalid, disabled) made in the sandbox, none for a change it does not count or while nothing changes, and
  across a triggerer restart (with a change made while it is down) neither repeats nor loses one.

Run with ``pytest tests/e2e/test_deployment_assets.py -m e2e`` (about three minutes).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from e2e_deployment import POLL, Deployment
from e2e_processes import DeploymentError, describe, group_members, tail
from e2e_rest import RunWatch

from airflow_provider_oktopost.assets import integration_uri
from airflow_provider_oktopost.testing.client import SandboxClient
from airflow_provider_oktopost.testing.state import DEFAULT_ACCOUNT_ID
from airflow_provider_oktopost.triggers.watcher import OktopostIntegrationChangeTrigger

pytestmark = pytest.mark.e2e

ONBOARDING = "example_oktopost_onboarding"
DOWNSTREAM = "example_oktopost_onboarded_downstream"
WATCH = "example_oktopost_watch_integrations"
WATCH_POLL = 4.0  # seconds between the watcher's listings in this deployment
RUN_TIMEOUT = 120.0
LIST = r"/v2/integration"


class AssetsDeployment(Deployment):
    """The shared deployment, with a short watcher poll interval for the example DAG."""

    def airflow_env(self) -> dict[str, str]:
        return {**super().airflow_env(), "OKTOPOST_WATCH_POLL_INTERVAL": str(WATCH_POLL)}


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    deployed = AssetsDeployment(tmp_path_factory.mktemp("e2e-assets"), validation_delay=12.0)
    try:
        deployed.start()
        wait_for(deployed, lambda: listed(deployed) >= {DOWNSTREAM, WATCH}, "the new example DAGs are listed")
        yield deployed
    finally:
        deployed.stop()


def listed(deployment: Deployment) -> set[str]:
    dags = deployment.rest.call("GET", "/dags", dag_id_pattern="example_oktopost", limit=100)["dags"]
    return {dag["dag_id"] for dag in dags}


def wait_for(deployment: Deployment, condition: Callable[[], bool], what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        deployment.check_alive()
        if time.monotonic() > deadline:
            raise DeploymentError(
                f"timed out after {timeout:.0f} s waiting until {what}\n{deployment.diagnosis()}"
            )
        time.sleep(POLL)


def runs(deployment: Deployment, dag_id: str) -> list[dict[str, Any]]:
    result = deployment.rest.call("GET", f"/dags/{dag_id}/dagRuns", limit=100, order_by="run_after")
    return list(result["dag_runs"])


def finished_runs(deployment: Deployment, dag_id: str, count: int) -> list[dict[str, Any]]:
    """Wait until ``dag_id`` has ``count`` runs, all finished; return them (oldest first)."""
    wait_for(
        deployment,
        lambda: (
            len(found := runs(deployment, dag_id)) >= count
            and all(run["state"] in ("success", "failed") for run in found)
        ),
        f"{dag_id} has {count} finished run(s)",
        timeout=RUN_TIMEOUT,
    )
    found = runs(deployment, dag_id)
    assert all(run["state"] == "success" for run in found), found
    return found


def listings(sandbox: SandboxClient) -> int:
    return sandbox.count("GET", LIST)


def let_listings_pass(deployment: Deployment, sandbox: SandboxClient, n: int) -> None:
    """Wait until the watcher has listed the account ``n`` more times (and the scheduler had time to act)."""
    target = listings(sandbox) + n
    wait_for(
        deployment, lambda: listings(sandbox) >= target, f"{n} more listings", timeout=n * WATCH_POLL * 4
    )
    time.sleep(3 * 2.0)  # a few scheduler heartbeats


def upstream_payloads(deployment: Deployment, run: dict[str, Any]) -> list[dict[str, Any]]:
    events = deployment.rest.call("GET", f"/dags/{WATCH}/dagRuns/{run['dag_run_id']}/upstreamAssetEvents")
    return [event["extra"]["payload"] for event in events["asset_events"]]


def test_onboarding_event_runs_the_downstream_dag_once(
    deployment: Deployment, sandbox: SandboxClient
) -> None:
    rest = deployment.rest
    rest.unpause(DOWNSTREAM)
    rest.unpause(ONBOARDING)
    run_id = rest.trigger(ONBOARDING, {"host_name": "assets.e2e.example.com"})
    watch = deployment.watch(RunWatch(ONBOARDING, run_id), timeout=RUN_TIMEOUT)
    assert watch.state == "success", deployment.run_diagnosis(watch)
    integration_id = rest.xcom(ONBOARDING, run_id, "connect")
    cname_id = rest.xcom(ONBOARDING, run_id, "create_cname")

    [downstream] = finished_runs(deployment, DOWNSTREAM, 1)
    assert downstream["run_type"] == "asset_triggered"
    [extra] = rest.xcom(DOWNSTREAM, downstream["dag_run_id"], "announce")
    expected = {
        "id": integration_id,
        "type": "cd",
        "cname_id": cname_id,
        "status": "valid",
        "state": "active",
        "account_id": DEFAULT_ACCOUNT_ID,
    }
    assert extra == expected
    uri = integration_uri(extra["account_id"], integration_id, base_url=deployment.sandbox_url)
    rows = deployment.query(
        "SELECT e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id WHERE a.uri = ?", uri
    )
    assert len(rows) == 1, rows
    time.sleep(10)  # nothing else starts it again
    assert len(runs(deployment, DOWNSTREAM)) == 1


def test_watcher_starts_one_run_per_change_across_a_triggerer_restart(
    deployment: Deployment, sandbox: SandboxClient
) -> None:
    rest = deployment.rest
    watched = sandbox.add_integration(type="cd", cname_id="0CNe2ewatch0001", status="valid")["Id"]
    before = listings(sandbox)
    rest.unpause(WATCH)
    wait_for(deployment, lambda: listings(sandbox) >= before + 2, "the watcher has listed the account twice")
    assert runs(deployment, WATCH) == []  # the baseline starts nothing

    sandbox.set_status(watched, "invalid")
    [first] = finished_runs(deployment, WATCH, 1)
    let_listings_pass(deployment, sandbox, 3)  # it stays invalid: no second run
    assert len(runs(deployment, WATCH)) == 1
    [payload] = upstream_payloads(deployment, first)
    assert (payload["integration_id"], payload["change"], payload["from"], payload["to"]) == (
        watched,
        "invalid",
        "valid",
        "invalid",
    )

    sandbox.set_status(watched, "valid")  # not a change this watcher counts
    let_listings_pass(deployment, sandbox, 2)
    assert len(runs(deployment, WATCH)) == 1
    sandbox.set_status(watched, "invalid")
    second = finished_runs(deployment, WATCH, 2)[-1]
    assert [p["change"] for p in upstream_payloads(deployment, second)] == ["invalid"]
    let_listings_pass(deployment, sandbox, 1)  # the state is saved a few seconds after the event

    # Restart the triggerer, with a change made while it is down.
    old = deployment.components["triggerer"]
    assert not old.stop(), tail(old.log_path)
    assert not group_members(old.pgid), describe(group_members(old.pgid))
    deployment.retired.append(old)
    sandbox.set_state(watched, "disabled")
    deployment.start_component("triggerer")

    third = finished_runs(deployment, WATCH, 3)[-1]
    assert [(p["change"], p["from"], p["to"]) for p in upstream_payloads(deployment, third)] == [
        ("disabled", "active", "disabled")
    ]
    let_listings_pass(deployment, sandbox, 3)  # no repeat of the invalid change reported before the restart
    assert len(runs(deployment, WATCH)) == 3
    triggers = deployment.query("SELECT id, classpath FROM trigger WHERE classpath LIKE '%ChangeTrigger'")
    assert len(triggers) == 1, triggers

    # What was reported lives in the triggerer's asset state store (Airflow 3.3), not in the file fallback.
    key = OktopostIntegrationChangeTrigger(
        changes=["invalid", "disabled"], poll_interval=WATCH_POLL
    ).state_key
    stored = deployment.query(
        "SELECT s.key, s.value FROM asset_state_store s JOIN asset a ON a.id = s.asset_id WHERE a.name = ?",
        "oktopost_broken_integrations",
    )
    assert [row["key"] for row in stored] == [key], stored
    assert watched in stored[0]["value"] and "disabled" in stored[0]["value"]
    assert not (deployment.home / "oktopost" / "watcher-state").exists()

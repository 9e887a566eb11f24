"""The asset side of the example DAGs: onboarding's alias event, and how the two new DAGs are scheduled."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import SimClock, load_example
from test_asset_events import asset_events

from airflow_provider_oktopost.assets import integration_uri
from airflow_provider_oktopost.testing import OktopostSandbox
from airflow_provider_oktopost.testing.dagrun import run_dag, task_states, xcom
from airflow_provider_oktopost.triggers.watcher import OktopostIntegrationChangeTrigger

pytestmark = pytest.mark.airflow


def test_onboarding_adds_the_integration_to_its_alias(
    airflow_db: Path, oktopost_connection_env: OktopostSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = oktopost_connection_env
    sandbox.configure(validation_delay=40)
    SimClock(sandbox, real_pause=0.02).install(monkeypatch)
    run = run_dag(load_example("example_oktopost_onboarding"), run_conf={"host_name": "assets.example.com"})
    assert run.state == "success", task_states(run)
    integration_id = xcom(run, "connect")
    cname_id = xcom(run, "create_cname")
    uri = integration_uri(sandbox.account_id, integration_id, base_url=sandbox.base_url)
    [event] = [e for e in asset_events(uri) if e["run_id"] == run.run_id]
    assert event["task_id"] == "wait_until_ready"
    assert event["aliases"] == ["oktopost_onboarded"]
    assert event["extra"] == {
        "id": integration_id,
        "type": "cd",
        "cname_id": cname_id,
        "status": "valid",
        "state": "active",
        "account_id": sandbox.account_id,
    }


def test_downstream_is_scheduled_on_the_alias_and_the_watcher_on_its_asset() -> None:
    downstream = load_example("example_oktopost_onboarded_downstream")
    assert [alias.name for alias in downstream.timetable.asset_condition.objects] == ["oktopost_onboarded"]

    watching = load_example("example_oktopost_watch_integrations")
    [asset] = watching.timetable.asset_condition.objects
    assert asset.uri == "oktopost://api.oktopost.com/001000000000001/integrations"
    [watcher] = asset.watchers
    assert isinstance(watcher.trigger, OktopostIntegrationChangeTrigger)
    assert watcher.trigger.serialize()[1]["changes"] == ["disabled", "invalid"]

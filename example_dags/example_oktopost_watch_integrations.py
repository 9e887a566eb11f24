"""Start a DAG when an integration turns invalid or is disabled (an ``AssetWatcher`` on the account).

The triggerer runs :class:`OktopostIntegrationChangeTrigger` for this asset while the DAG is unpaused: it
lists the account's integrations every ``poll_interval`` seconds (sharing the listing, and the call budget,
with the account's other triggers) and fires once per change, never once per poll. Each change becomes an
asset event, and this DAG runs with it: ``payload`` in the event's extra says which integration changed,
what (``status`` or ``state``) and from what to what.

Set ``OKTOPOST_ACCOUNT_ID`` (and ``OKTOPOST_REGION``, ``us`` or ``eu``) in the DAG processor's environment,
or write your Account ID here: it only names the asset; the trigger reads the account of the connection.
``OKTOPOST_WATCH_POLL_INTERVAL`` (seconds, default 60) sets how often the account is listed.
"""

from __future__ import annotations

import os
from typing import Any

import pendulum
from airflow.sdk import DAG, AssetWatcher, task

from airflow_provider_oktopost.assets import integrations_asset
from airflow_provider_oktopost.triggers.watcher import OktopostIntegrationChangeTrigger

broken_integrations = integrations_asset(
    os.environ.get("OKTOPOST_ACCOUNT_ID", "001000000000001"),
    region=os.environ.get("OKTOPOST_REGION", "us"),
    name="oktopost_broken_integrations",
    watchers=[
        AssetWatcher(
            name="oktopost_invalid_or_disabled",
            trigger=OktopostIntegrationChangeTrigger(
                changes=["invalid", "disabled"],
                poll_interval=float(os.environ.get("OKTOPOST_WATCH_POLL_INTERVAL", "60")),
            ),
        )
    ],
)

with DAG(
    dag_id="example_oktopost_watch_integrations",
    description="Starts when an Oktopost integration becomes invalid or disabled",
    schedule=[broken_integrations],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example", "oktopost"],
) as dag:

    @task
    def report(**context: Any) -> list[dict[str, Any]]:
        """Say which integration changed and how; returns the changes."""
        changes = []
        for event in context["triggering_asset_events"].get(broken_integrations, []):
            change = dict(event.extra.get("payload") or {})
            print(
                f"Integration {change.get('integration_id')} became {change.get('change')}: "
                f"{change.get('field')} {change.get('from')!r} -> {change.get('to')!r}"
            )
            changes.append(change)
        return changes

    @task
    def remediate(changes: list[dict[str, Any]]) -> None:
        """Your remediation goes here: re-validate the domain, page someone, open a ticket..."""
        for change in changes:
            print(f"TODO: remediate integration {change.get('integration_id')}")

    remediate(report())

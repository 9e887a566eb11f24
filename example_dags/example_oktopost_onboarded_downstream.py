"""Carry on once an integration is onboarded: a DAG scheduled on the onboarding DAG's asset alias.

``example_oktopost_onboarding``'s sensor declares ``outlets=[AssetAlias("oktopost_onboarded")]``: when the
integration is valid and active it adds the integration's own asset
(``oktopost://<api-host>/<account-id>/integrations/<id>``) to the alias, with the integration's Id, type,
CNAME, status and state as the event's extra. This DAG runs once per such event and reads the extra from
``triggering_asset_events``; replace ``announce`` with the pipeline that needs the new domain.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import DAG, AssetAlias, task

ONBOARDED = AssetAlias("oktopost_onboarded")

with DAG(
    dag_id="example_oktopost_onboarded_downstream",
    description="Runs after an integration is onboarded, with its Id, type, CNAME, status and state",
    schedule=[ONBOARDED],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example", "oktopost"],
) as dag:

    @task
    def announce(**context: Any) -> list[dict[str, Any]]:
        """One line per onboarded integration in the events that started this run; returns their extras."""
        onboarded = []
        # Keyed by the alias (and, for the same events, by each integration's own asset): read the alias.
        for event in context["triggering_asset_events"].get(ONBOARDED, []):
            extra = dict(event.extra)
            print(
                f"Onboarded integration {extra.get('id')} ({extra.get('type')}) on CNAME "
                f"{extra.get('cname_id')}: {extra.get('status')}, {extra.get('state')} [{event.asset.uri}]"
            )
            onboarded.append(extra)
        return onboarded

    announce()

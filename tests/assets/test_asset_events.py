"""Asset events from the operators and the sensor: real ``dag.test()`` runs against the sandbox record
``asset_event`` rows in the metadata database; the outlet rules are checked on Airflow's own accessors."""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, Asset, AssetAlias
from airflow.sdk.execution_time.context import OutletEventAccessors

from airflow_provider_oktopost.assets import (
    emit_integration_events,
    integration_extra,
    integration_uri,
    wants_integration_events,
)
from airflow_provider_oktopost.operators.oktopost import (
    OktopostConnectIntegrationOperator,
    OktopostUpdateIntegrationOperator,
)
from airflow_provider_oktopost.sensors.oktopost import OktopostIntegrationSensor
from airflow_provider_oktopost.testing import OktopostSandbox
from airflow_provider_oktopost.testing.dagrun import run_dag, task_states, xcom

CNAME = "0CNassets000001"
ALIAS = "oktopost_assets_test_onboarded"
READY_ALIAS = "oktopost_assets_test_ready"
SECRET_SETTING = "settings-value-that-must-not-leak"

with DAG("oktopost_assets_alias", schedule=None) as alias_dag:
    _connect = OktopostConnectIntegrationOperator(
        task_id="connect",
        integration_type="cd",
        cname_id=CNAME,
        settings={"token": SECRET_SETTING},
        outlets=[AssetAlias(ALIAS)],
    )
    _ready = OktopostIntegrationSensor(
        task_id="ready",
        integration_id=_connect.output,
        poke_interval=1,
        timeout=30,
        outlets=[AssetAlias(READY_ALIAS)],
    )
    _connect >> _ready

with DAG("oktopost_assets_no_outlets", schedule=None) as plain_dag:
    OktopostConnectIntegrationOperator(task_id="connect", integration_type="cd", cname_id=CNAME)


def asset_events(uri_prefix: str) -> list[dict[str, Any]]:
    """The ``asset_event`` rows of assets whose URI starts with ``uri_prefix``."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = (
            session.query(AssetEvent, AssetModel.uri)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .filter(AssetModel.uri.startswith(uri_prefix))
            .order_by(AssetEvent.id)
        )
        return [
            {
                "uri": uri,
                "extra": dict(event.extra or {}),
                "task_id": event.source_task_id,
                "run_id": event.source_run_id,
                "aliases": sorted(alias.name for alias in event.source_aliases),
            }
            for event, uri in rows
        ]


def test_connect_and_sensor_add_the_integration_to_their_aliases(
    airflow_db: Any, oktopost_connection_env: OktopostSandbox
) -> None:
    sandbox = oktopost_connection_env
    sandbox.configure(validation_delay=1.5)
    dag_run = run_dag(alias_dag)
    assert task_states(dag_run) == {"connect": "success", "ready": "success"}
    integration_id = xcom(dag_run, "connect")
    uri = integration_uri(sandbox.account_id, integration_id, base_url=sandbox.base_url)

    events = [e for e in asset_events(uri) if e["run_id"] == dag_run.run_id]
    assert [(e["task_id"], e["aliases"]) for e in events] == [("connect", [ALIAS]), ("ready", [READY_ALIAS])]
    base = {"id": integration_id, "type": "cd", "cname_id": CNAME, "account_id": sandbox.account_id}
    # Right after connecting Oktopost has not validated the domain yet; the sensor's event says it is ready.
    assert events[0]["extra"] == {**base, "status": "invalid", "state": "active"}
    assert events[1]["extra"] == {**base, "status": "valid", "state": "active"}
    assert all(e["uri"] == uri for e in events)
    assert SECRET_SETTING not in repr(events)
    assert sandbox.api_key not in repr(events)


def test_a_task_without_outlets_records_no_event_and_makes_no_extra_call(
    airflow_db: Any, oktopost_connection_env: OktopostSandbox
) -> None:
    sandbox = oktopost_connection_env
    dag_run = run_dag(plain_dag)
    assert task_states(dag_run) == {"connect": "success"}
    prefix = f"oktopost://{sandbox.base_url.split('/')[2]}"
    assert [e for e in asset_events(prefix) if e["run_id"] == dag_run.run_id] == []
    # find, connect, read back: exactly the calls the operator made before assets existed.
    assert len(sandbox.requests) == 3


# ---- the outlet rules, on Airflow's own outlet-event accessors ---------------------------------------


class _Task:
    def __init__(self, outlets: list[Any]) -> None:
        import logging

        self.outlets = outlets
        self.log = logging.getLogger("test")


ACCOUNT, HOST = "001000000000001", "https://api.oktopost.com/v2"
ONE = {
    "id": "014one",
    "type": "cd",
    "cname_id": CNAME,
    "status": "valid",
    "state": "active",
    "settings": {"k": "v"},
}
TWO = {**ONE, "id": "014two", "status": "invalid"}


def emit(outlets: list[Any], integrations: list[dict[str, Any]]) -> tuple[OutletEventAccessors, int]:
    events = OutletEventAccessors()
    filled = emit_integration_events(
        _Task(outlets), {"outlet_events": events}, integrations, base_url=HOST, account_id=ACCOUNT
    )
    return events, filled


def test_an_integration_asset_gets_the_extra_of_its_own_integration_only() -> None:
    mine = Asset(integration_uri(ACCOUNT, "014one"))
    other = Asset(integration_uri(ACCOUNT, "014zzz"))
    foreign = Asset("s3://bucket/key")
    events, filled = emit([mine, other, foreign], [ONE])
    assert filled == 1
    assert events[mine].extra == integration_extra(ONE, account_id=ACCOUNT)
    assert "settings" not in events[mine].extra
    assert events[other].extra == {}
    assert events[foreign].extra == {}


def test_the_account_asset_gets_every_integration_and_an_alias_one_event_each() -> None:
    account_asset = Asset(f"oktopost://api.oktopost.com/{ACCOUNT}/integrations")
    other_account = Asset("oktopost://api.oktopost.com/999/integrations")
    alias = AssetAlias("listed")
    events, filled = emit([account_asset, other_account, alias], [ONE, TWO])
    assert filled == 3
    assert [i["id"] for i in events[account_asset].extra["integrations"]] == ["014one", "014two"]
    assert events[other_account].extra == {}
    added = events[alias].asset_alias_events
    assert [(e.dest_asset_key.uri, e.extra["status"]) for e in added] == [
        (integration_uri(ACCOUNT, "014one"), "valid"),
        (integration_uri(ACCOUNT, "014two"), "invalid"),
    ]


def test_only_oktopost_assets_and_aliases_ask_for_events() -> None:
    assert not wants_integration_events(_Task([]))
    assert not wants_integration_events(_Task([Asset("s3://bucket/key")]))
    assert wants_integration_events(_Task([AssetAlias("a")]))
    assert wants_integration_events(_Task([Asset(integration_uri(ACCOUNT, "014one"))]))


def test_update_reads_the_integration_back_only_when_it_has_outlets(
    oktopost_connection_env: OktopostSandbox,
) -> None:
    sandbox = oktopost_connection_env
    integration_id = sandbox.add_integration(type="cd", cname_id=CNAME)["Id"]
    uri = integration_uri(sandbox.account_id, integration_id, base_url=sandbox.base_url)
    asset = Asset(uri)
    plain = OktopostUpdateIntegrationOperator(task_id="p", integration_id=integration_id, state="disabled")
    assert plain.execute({"ti": None, "outlet_events": OutletEventAccessors()}) == integration_id  # type: ignore[typeddict-item]
    assert len(sandbox.requests) == 1
    emitting = OktopostUpdateIntegrationOperator(
        task_id="e", integration_id=integration_id, state="active", outlets=[asset]
    )
    events = OutletEventAccessors()
    emitting.execute({"ti": None, "outlet_events": events})  # type: ignore[typeddict-item]
    assert len(sandbox.requests) == 3
    assert events[asset].extra["state"] == "active"
    assert events[asset].extra["id"] == integration_id


def test_a_deleted_integration_is_marked_deleted() -> None:
    extra = integration_extra({"id": "014one", "deleted": True}, account_id=ACCOUNT)
    assert extra == {
        "id": "014one",
        "type": None,
        "cname_id": None,
        "status": None,
        "state": None,
        "account_id": ACCOUNT,
        "deleted": True,
    }

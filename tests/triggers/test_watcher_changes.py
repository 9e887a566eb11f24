"""Issue 19: the integration watcher reports only real changes, and survives its state store failing.

Real HTTP to the sandbox; only time is simulated. The delete "while the listing is paged" is made by the
test acting as another tool at that exact moment: right after the watcher's client has read page 1 of a
listing (the client call itself is the real one), the sandbox deletes an integration.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from watcher_support import Watch, baseline, listings_pass, until, watch_sandbox

from airflow_provider_oktopost.hooks.oktopost_async import OktopostAsyncClient
from airflow_provider_oktopost.testing import OktopostSandbox
from airflow_provider_oktopost.triggers._watch_state import AssetStateStore
from airflow_provider_oktopost.triggers.watcher import OktopostIntegrationChangeTrigger

CNAME = "0CNwatch0000001"


@pytest.fixture
def watch_env(
    oktopost_connection_env: OktopostSandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> OktopostSandbox:
    """The watcher's sandbox (``watcher_support``); state is saved as soon as events are handed over."""
    return watch_sandbox(oktopost_connection_env, monkeypatch, tmp_path, save_at_once=True)


async def test_a_delete_while_the_listing_is_paged_reports_only_the_deleted_integration(
    watch_env: OktopostSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = watch_env
    for _ in range(150):
        sandbox.add_integration(type="cd", cname_id=CNAME, status="valid")
    listings: list[list[str]] = [[]]  # the Ids each listing returned, in order
    armed = asyncio.Event()
    deleted_in: list[int] = []  # the listing during which the delete landed
    original = OktopostAsyncClient.list_integrations

    async def list_integrations(self: Any, type: str | None = None, page: int = 0, count: int = 25) -> Any:
        answered = await original(self, type, page, count)
        if page == 0:
            listings.append([])
        listings[-1] += [item.id for item in answered.items]
        if page == 0 and armed.is_set():
            armed.clear()
            sandbox.state.delete_integration(listings[1][0])  # another tool deletes, between pages 1 and 2
            deleted_in.append(len(listings) - 1)
        return answered

    monkeypatch.setattr(OktopostAsyncClient, "list_integrations", list_integrations)
    watch = Watch(OktopostIntegrationChangeTrigger(poll_interval=60))
    try:
        await listings_pass(sandbox, 2)  # the baseline: two pages
        assert len(listings[1]) == 150
        victim, shifted = listings[1][0], listings[1][100]  # deleting the 1st moves the 101st to page 1
        armed.set()
        await until(lambda: bool(deleted_in) and len(listings) > deleted_in[0] + 1)  # and the next one
        await until(lambda: len(watch.events) == 1)
        await listings_pass(sandbox, 6)
    finally:
        await watch.stop()
    during, following = listings[deleted_in[0]], listings[deleted_in[0] + 1]  # page 2 read after it
    assert victim in during and shifted not in during  # the listing really missed one that exists
    assert shifted in following and victim not in following
    assert [(e["integration_id"], e["change"]) for e in watch.events] == [(victim, "disappeared")]


async def test_changing_poll_interval_keeps_what_was_seen(watch_env: OktopostSandbox) -> None:
    sandbox = watch_env
    a = sandbox.add_integration(type="cd", cname_id=CNAME, status="valid")["Id"]
    first = await baseline(sandbox, poll_interval=60)
    sandbox.set_status(a, "invalid")  # while the DAG's watcher is redeployed with another interval
    second = Watch(OktopostIntegrationChangeTrigger(poll_interval=300))
    try:
        await until(lambda: len(second.events) == 1)
    finally:
        await second.stop()
    assert first.trigger.state_key == second.trigger.state_key
    assert [(e["integration_id"], e["change"]) for e in second.events] == [(a, "invalid")]


async def test_state_saved_under_the_older_key_is_still_read(
    watch_env: OktopostSandbox, tmp_path: Path
) -> None:
    sandbox = watch_env
    a = sandbox.add_integration(type="cd", cname_id=CNAME, status="valid")["Id"]
    trigger = (await baseline(sandbox, poll_interval=60)).trigger
    (tmp_path / f"{trigger.state_key}.json").rename(tmp_path / f"{trigger.legacy_state_key}.json")
    sandbox.set_status(a, "invalid")
    second = Watch(OktopostIntegrationChangeTrigger(poll_interval=60))
    try:
        await until(lambda: len(second.events) == 1)
    finally:
        await second.stop()
    assert [e["change"] for e in second.events] == ["invalid"]


async def test_a_state_dir_that_cannot_be_written_is_logged_and_the_watcher_watches_on(
    watch_env: OktopostSandbox,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    sandbox = watch_env
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("AIRFLOW__OKTOPOST__WATCHER_STATE_DIR", str(blocker / "watcher-state"))
    a = sandbox.add_integration(type="cd", cname_id=CNAME, status="valid")["Id"]
    watch = Watch(OktopostIntegrationChangeTrigger(poll_interval=60))
    try:
        await listings_pass(sandbox, 2)
        sandbox.set_status(a, "invalid")
        await until(lambda: len(watch.events) == 1)
        await listings_pass(sandbox, 2)
    finally:
        await watch.stop()
    assert [e["change"] for e in watch.events] == ["invalid"]
    assert "Cannot save the watcher's state to FileStateStore" in _logged(capfd)


def _logged(capfd: pytest.CaptureFixture[str]) -> str:
    """What the trigger logged: Airflow 3.3 logs through structlog to the console, older ones through
    the standard library (captured the same way here)."""
    out, err = capfd.readouterr()
    return out + err


def _asset_state_store(*names: str) -> Any:
    pytest.importorskip("airflow.sdk.execution_time.context", reason="needs Airflow 3.3")
    from airflow.sdk import Asset
    from airflow.sdk.execution_time import context

    accessors = getattr(context, "AssetStateStoreAccessors", None)
    if accessors is None:
        pytest.skip("the asset state store is new in Airflow 3.3")
    return accessors(inlets=[Asset(name=name, uri=f"file:///tmp/oktopost-watch-{name}") for name in names])


async def test_an_asset_state_store_that_errors_is_logged_and_the_watcher_watches_on(
    watch_env: OktopostSandbox, capfd: pytest.CaptureFixture[str]
) -> None:
    # A real accessor outside a triggerer: every read and write fails (it has no supervisor to talk to).
    sandbox = watch_env
    a = sandbox.add_integration(type="cd", cname_id=CNAME, status="valid")["Id"]
    trigger = OktopostIntegrationChangeTrigger(poll_interval=60)
    trigger.asset_state_store = _asset_state_store("one", "two")
    watch = Watch(trigger)
    try:
        await listings_pass(sandbox, 2)
        sandbox.set_status(a, "invalid")
        await until(lambda: len(watch.events) == 1)
    finally:
        await watch.stop()
    assert [e["change"] for e in watch.events] == ["invalid"]
    logged = _logged(capfd)
    assert "Cannot read the watcher's saved state from AssetStateStore" in logged
    assert "Cannot save the watcher's state to AssetStateStore" in logged


def test_the_asset_state_store_internals_this_provider_reads_are_still_there() -> None:
    """Pins ``AssetStateStoreAccessors._by_name``/``_by_uri`` (no public way to list the per-asset
    accessors): when Airflow renames them, this fails, instead of a watcher shared by several assets
    writing none of them."""
    accessors = _asset_state_store("one", "two")  # skips before Airflow 3.3
    from airflow.sdk.execution_time.context import AssetStateStoreAccessor

    store = AssetStateStore(accessors, "key")
    assert len(store._accessors) == 2
    assert all(isinstance(accessor, AssetStateStoreAccessor) for accessor in store._accessors)

"""The integration watcher (``OktopostIntegrationChangeTrigger``): edge detection, filters, one listing for
several watchers, and the state kept across restarts. Real HTTP to the sandbox; only time is simulated."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from airflow.triggers.base import BaseEventTrigger
from watcher_support import LIST, Watch, listings_pass, until, watch_sandbox

from airflow_provider_oktopost.models import Integration
from airflow_provider_oktopost.testing import DEFAULT_API_KEY, OktopostSandbox
from airflow_provider_oktopost.triggers import watcher as watcher_module
from airflow_provider_oktopost.triggers._poller import active_pollers
from airflow_provider_oktopost.triggers._watch_state import FileStateStore, MemoryStateStore
from airflow_provider_oktopost.triggers.watcher import (
    OktopostIntegrationChangeTrigger,
    detect_changes,
    snapshot,
)

CNAME, OTHER_CNAME = "0CNwatch0000001", "0CNwatch0000002"


def item(
    id: str, status: str = "valid", state: str = "active", cname: str = CNAME, type: str = "cd"
) -> Integration:
    return Integration.from_api({"Id": id, "Type": type, "Status": status, "State": state, "CnameId": cname})


# ---- edge detection (pure) ------------------------------------------------------------------------------


def test_changes_are_edges_with_from_and_to() -> None:
    before = snapshot([item("a"), item("b"), item("c", status="invalid")])
    after = snapshot([item("a", status="invalid"), item("b", state="disabled"), item("d")])
    changes = detect_changes(before, after)
    assert [(c["integration_id"], c["change"], c["field"], c["from"], c["to"]) for c in changes] == [
        ("a", "invalid", "status", "valid", "invalid"),
        ("b", "disabled", "state", "active", "disabled"),
        ("c", "disappeared", "presence", "present", "absent"),
        ("d", "appeared", "presence", "absent", "present"),
    ]
    assert changes[2]["integration"]["status"] == "invalid"  # the last thing seen of a vanished one
    assert detect_changes(after, after) == []  # a level is not an edge


def test_changes_and_filters_narrow_what_fires() -> None:
    before = snapshot([item("a"), item("b", cname=OTHER_CNAME), item("c")])
    after = snapshot(
        [
            item("a", status="invalid"),
            item("b", cname=OTHER_CNAME, status="invalid"),
            item("c", state="disabled"),
        ]
    )
    assert [c["integration_id"] for c in detect_changes(before, after, ["invalid"])] == ["a", "b"]
    assert [c["integration_id"] for c in detect_changes(before, after, cname_id=CNAME)] == ["a", "c"]
    assert [c["integration_id"] for c in detect_changes(before, after, integration_ids=["b"])] == ["b"]
    assert detect_changes(before, after, ["valid", "active"]) == []


def test_serialized_kwargs_are_deterministic() -> None:
    one = OktopostIntegrationChangeTrigger(
        changes=["invalid", "disabled", "invalid"], integration_ids=["b", "a"]
    )
    two = OktopostIntegrationChangeTrigger(
        changes=("disabled", "invalid"), integration_ids=["a", "b", "a"], poll_interval=60
    )
    assert one.serialize() == two.serialize()
    assert BaseEventTrigger.hash(*one.serialize()) == BaseEventTrigger.hash(*two.serialize())
    assert one.state_key == two.state_key
    assert one.serialize()[1]["changes"] == ["disabled", "invalid"]
    other = OktopostIntegrationChangeTrigger(changes=["invalid"])
    assert other.state_key != one.state_key
    classpath, kwargs = one.serialize()
    assert type(OktopostIntegrationChangeTrigger(**kwargs)).__name__ in classpath


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"changes": ["broken"]}, "changes must be a list of"),
        ({"changes": []}, "changes must name at least one"),
        ({"integration_ids": ["../x"]}, "integration_ids must be"),
        ({"cname_id": "a b"}, "cname_id must be"),
        ({"poll_interval": 0}, "poll_interval must be at least"),
    ],
)
def test_bad_arguments_are_refused_when_the_dag_is_parsed(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        OktopostIntegrationChangeTrigger(**kwargs)


async def test_state_stores_round_trip(tmp_path: Path) -> None:
    state = {"version": 1, "snapshot": {"a": {"id": "a"}}, "saved_at": 1.0}
    for store in (FileStateStore(tmp_path / "w.json"), MemoryStateStore()):
        assert await store.load() is None
        await store.save(state)
        assert await store.load() == state
    (tmp_path / "old.json").write_text(json.dumps({"version": 0, "snapshot": {}}))
    assert await FileStateStore(tmp_path / "old.json").load() is None  # another schema: a fresh baseline


# ---- the trigger against the sandbox --------------------------------------------------------------------


@pytest.fixture
def watch_env(
    oktopost_connection_env: OktopostSandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> OktopostSandbox:
    """The watcher's sandbox (``watcher_support``), saving its state ``SAVE_DELAY`` after the events."""
    return watch_sandbox(oktopost_connection_env, monkeypatch, tmp_path)


async def test_one_event_per_change_not_per_poll(watch_env: OktopostSandbox) -> None:
    sandbox = watch_env
    a = sandbox.add_integration(type="cd", cname_id=CNAME, status="valid")["Id"]
    watch = Watch(OktopostIntegrationChangeTrigger(poll_interval=60))
    try:
        await listings_pass(sandbox, 2)
        assert watch.events == []  # the baseline fires nothing
        sandbox.set_status(a, "invalid")
        await until(lambda: len(watch.events) == 1)
        await listings_pass(sandbox, 5)  # it stays invalid: no more events
        sandbox.set_status(a, "valid")
        await until(lambda: len(watch.events) == 2)
        sandbox.set_state(a, "disabled")
        await until(lambda: len(watch.events) == 3)
        await listings_pass(sandbox, 3)
    finally:
        await watch.stop()
    assert [(e["change"], e["from"], e["to"]) for e in watch.events] == [
        ("invalid", "valid", "invalid"),
        ("valid", "invalid", "valid"),
        ("disabled", "active", "disabled"),
    ]
    first = watch.events[0]
    assert first["integration_id"] == a and first["account_id"] == sandbox.account_id
    assert first["integration"] == {
        "id": a,
        "type": "cd",
        "cname_id": CNAME,
        "status": "invalid",
        "state": "active",
        "account_id": sandbox.account_id,
    }
    assert DEFAULT_API_KEY not in json.dumps(watch.events)


async def test_a_restart_neither_repeats_nor_loses_a_change(watch_env: OktopostSandbox) -> None:
    sandbox = watch_env
    a = sandbox.add_integration(type="cd", cname_id=CNAME, status="valid")["Id"]
    kwargs = {"changes": ["invalid", "valid", "appeared"], "poll_interval": 60.0}
    first = Watch(OktopostIntegrationChangeTrigger(**kwargs))
    try:
        await listings_pass(sandbox, 2)
        sandbox.set_status(a, "invalid")
        await until(lambda: len(first.events) == 1)
        await listings_pass(sandbox, 2)  # the state is saved after the events are handed over
    finally:
        await first.stop()

    # While no trigger runs: one change, and one integration more.
    sandbox.set_status(a, "valid")
    b = sandbox.add_integration(type="cd", cname_id=CNAME, status="valid")["Id"]

    second = Watch(OktopostIntegrationChangeTrigger(**kwargs))
    try:
        await until(lambda: len(second.events) == 2)
        await listings_pass(sandbox, 3)
    finally:
        await second.stop()
    assert [(e["integration_id"], e["change"]) for e in first.events] == [(a, "invalid")]
    assert sorted((e["integration_id"], e["change"]) for e in second.events) == sorted(
        [(a, "valid"), (b, "appeared")]
    )


async def test_watchers_of_one_account_share_one_listing(watch_env: OktopostSandbox) -> None:
    sandbox = watch_env
    a = sandbox.add_integration(type="cd", cname_id=CNAME, status="valid")["Id"]
    sandbox.add_integration(type="ga", cname_id=OTHER_CNAME, status="valid")
    watches = [
        Watch(OktopostIntegrationChangeTrigger(changes=["invalid"], poll_interval=60)),
        Watch(
            OktopostIntegrationChangeTrigger(changes=["invalid", "valid"], cname_id=CNAME, poll_interval=60)
        ),
        Watch(OktopostIntegrationChangeTrigger(integration_ids=[a], poll_interval=60)),
    ]
    try:
        await listings_pass(sandbox, 3)
        [poller] = active_pollers()
        assert len(poller.listeners) == 3
        cycles, listed = poller.cycles, sandbox.count("GET", LIST)
        await listings_pass(sandbox, 4)
        # One listing (one page) per poll cycle, whatever the number of watchers. Either snapshot may fall
        # inside a cycle (counted, its listing not yet answered: the budget is asked first), hence the 1.
        assert abs((sandbox.count("GET", LIST) - listed) - (poller.cycles - cycles)) <= 1
        # Three watchers, one listing per poll interval between them: had each listed on its own, some
        # listings would come less than a second of simulated time apart.
        times = [r.time for r in sandbox.requests if r.method == "GET" and r.path == "/v2/integration"]
        gaps = [later - earlier for earlier, later in zip(times[listed:], times[listed + 1 :], strict=False)]
        assert len(gaps) >= 3 and min(gaps) >= 30, gaps
        sandbox.set_status(a, "invalid")
        await until(lambda: all(len(w.events) == 1 for w in watches))
    finally:
        for watch in watches:
            await watch.stop()
    assert not active_pollers()  # the last watcher to leave stops the poller


async def test_changes_seen_only_by_the_type_it_watches(
    watch_env: OktopostSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = watch_env
    monkeypatch.setattr(watcher_module, "SAVE_DELAY", 0.0)
    cd = sandbox.add_integration(type="cd", cname_id=CNAME, status="valid")["Id"]
    ga = sandbox.add_integration(type="ga", cname_id=CNAME, status="valid")["Id"]
    watch = Watch(OktopostIntegrationChangeTrigger(integration_type="ga", poll_interval=60))
    try:
        await listings_pass(sandbox, 2)
        sandbox.set_status(cd, "invalid")
        sandbox.set_status(ga, "invalid")
        await until(lambda: len(watch.events) == 1)
        await listings_pass(sandbox, 2)
    finally:
        await watch.stop()
    assert [e["integration_id"] for e in watch.events] == [ga]
    assert all(r.query.get("type") == "ga" for r in sandbox.requests if r.method == "GET")

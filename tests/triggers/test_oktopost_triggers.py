"""The triggers against the sandbox over real HTTP; time is faked through ``_core.clock`` only."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_oktopost.hooks.oktopost_async import aget_client_config
from airflow_provider_oktopost.testing import DEFAULT_API_KEY, Fault, OktopostSandbox
from airflow_provider_oktopost.triggers.oktopost import (
    SETTLE_SECONDS,
    OktopostIntegrationTrigger,
    OktopostWaitTrigger,
)

GET_ONE = r"/v2/integration/[^/]+"


async def collect(trigger: Any) -> list[dict[str, Any]]:
    events = [event.payload async for event in trigger.run()]
    assert DEFAULT_API_KEY not in json.dumps(events)  # no event ever carries the key
    return events


def trigger_for(integration_id: str, clock: Any, **kwargs: Any) -> OktopostIntegrationTrigger:
    kwargs.setdefault("poll_interval", 60)
    kwargs.setdefault("end_time", clock.now + 3600)
    return OktopostIntegrationTrigger(integration_id, **kwargs)


def assert_uniform(event: dict[str, Any], status: str, integration_id: str) -> None:
    assert set(event) == {"status", "message", "integration_id", "integration"}
    assert event["status"] == status
    assert event["integration_id"] == integration_id
    assert isinstance(event["message"], str) and event["message"]
    json.dumps(event)  # plain JSON, as the triggerer stores it


async def test_env_var_connection_is_read_without_blocking(oktopost_connection_env: OktopostSandbox) -> None:
    config = await aget_client_config("oktopost_default")
    assert config.base_url == oktopost_connection_env.base_url
    assert config.account_id == oktopost_connection_env.account_id


async def test_ready_integration_succeeds_on_the_first_read(
    oktopost_connection_env: OktopostSandbox, fake_clock: Any
) -> None:
    sandbox = oktopost_connection_env
    record = sandbox.add_integration(type="ga", cname_id="0CNsandbox00001")
    [event] = await collect(trigger_for(record["Id"], fake_clock))
    assert_uniform(event, "success", record["Id"])
    assert event["integration"]["id"] == record["Id"]
    assert event["integration"]["is_ready"] is True
    assert sandbox.count("GET", GET_ONE) == 1
    # Read at once, but the success is held until SETTLE_SECONDS after the trigger started (Airflow can
    # fail a task whose trigger fires within seconds of its deferral).
    assert fake_clock.sleeps == [SETTLE_SECONDS]


async def test_poll_interval_is_honoured_until_validation(
    oktopost_connection_env: OktopostSandbox, fake_clock: Any
) -> None:
    sandbox = oktopost_connection_env
    sandbox.configure(validation_delay=150)
    record = sandbox.add_integration()
    [event] = await collect(trigger_for(record["Id"], fake_clock, poll_interval=45))
    assert_uniform(event, "success", record["Id"])
    # Reads at t=0, 45, 90, 135 (invalid) and 180 (valid): one request per interval, no more.
    assert fake_clock.sleeps == [45, 45, 45, 45]
    assert sandbox.count("GET", GET_ONE) == 5


async def test_other_targets_are_honoured(oktopost_connection_env: OktopostSandbox, fake_clock: Any) -> None:
    record = oktopost_connection_env.add_integration(status="invalid", state="disabled")
    trigger = trigger_for(record["Id"], fake_clock, target_status="invalid", target_state="disabled")
    [event] = await collect(trigger)
    assert event["status"] == "success"
    assert event["integration"]["state"] == "disabled"


async def test_timeout_reports_the_last_state_and_never_sleeps_past_the_deadline(
    oktopost_connection_env: OktopostSandbox, fake_clock: Any
) -> None:
    sandbox = oktopost_connection_env
    record = sandbox.add_integration(status="invalid")
    [event] = await collect(trigger_for(record["Id"], fake_clock, end_time=fake_clock.now + 150))
    assert_uniform(event, "timeout", record["Id"])
    assert event["integration"]["status"] == "invalid"
    assert "status='invalid'" in event["message"]
    assert fake_clock.sleeps == [60, 60, 30]
    assert sandbox.count("GET", GET_ONE) == 3


async def test_deadline_already_past_times_out_without_a_request(
    oktopost_connection_env: OktopostSandbox, fake_clock: Any
) -> None:
    record = oktopost_connection_env.add_integration()
    [event] = await collect(trigger_for(record["Id"], fake_clock, end_time=fake_clock.now - 1))
    assert event["status"] == "timeout"
    assert event["integration"] is None
    assert oktopost_connection_env.count() == 0


async def test_missing_integration_is_an_error_at_once(
    oktopost_connection_env: OktopostSandbox, fake_clock: Any
) -> None:
    [event] = await collect(trigger_for("014doesnotexist", fake_clock))
    assert_uniform(event, "error", "014doesnotexist")
    assert "404" in event["message"]
    assert event["integration"] is None
    assert fake_clock.sleeps == []
    assert oktopost_connection_env.count("GET", GET_ONE) == 1


async def test_refused_key_is_an_error_without_leaking_it(
    oktopost_connection_env: OktopostSandbox, fake_clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = oktopost_connection_env
    record = sandbox.add_integration()
    wrong_key = "wrong-api-key-0123456789"
    conn = dict(sandbox.connection_dict(), password=wrong_key)
    monkeypatch.setenv("AIRFLOW_CONN_OKTOPOST_DEFAULT", json.dumps(conn))
    trigger = trigger_for(record["Id"], fake_clock)
    [event] = await collect(trigger)
    assert_uniform(event, "error", record["Id"])
    assert "401" in event["message"]
    assert wrong_key not in json.dumps(event)
    assert wrong_key not in json.dumps(trigger.serialize())


async def test_forbidden_key_is_an_error(oktopost_connection_env: OktopostSandbox, fake_clock: Any) -> None:
    sandbox = oktopost_connection_env
    record = sandbox.add_integration()
    sandbox.configure(forbidden_keys=[sandbox.api_key])
    [event] = await collect(trigger_for(record["Id"], fake_clock))
    assert event["status"] == "error"
    assert "403" in event["message"]
    assert sandbox.api_key not in json.dumps(event)


async def test_broken_or_missing_connection_is_an_error(
    oktopost_connection_env: OktopostSandbox, fake_clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = dict(oktopost_connection_env.connection_dict(), login="")
    monkeypatch.setenv("AIRFLOW_CONN_OKTOPOST_DEFAULT", json.dumps(conn))
    [event] = await collect(trigger_for("014abcdefabcdef", fake_clock))
    assert event["status"] == "error"
    assert "Account ID" in event["message"]
    # A connection that cannot be found is not the integration's fault: the try fails retryably, as a
    # missing connection does in a worker (issue 10).
    [event] = await collect(trigger_for("014abcdefabcdef", fake_clock, oktopost_conn_id="no_such_conn"))
    assert event["status"] == "failed"
    assert "no_such_conn" in event["message"]
    assert oktopost_connection_env.count() == 0


async def test_server_and_network_errors_are_waited_out(
    oktopost_connection_env: OktopostSandbox, fake_clock: Any
) -> None:
    sandbox = oktopost_connection_env
    record = sandbox.add_integration()
    # 4 x 503 exhaust the client's own retries (1 try + 3 retries), then 4 dropped connections do it again.
    sandbox.inject(
        Fault(kind="status", status=503, method="GET", path=GET_ONE, times=4),
        Fault(kind="drop", method="GET", path=GET_ONE, times=4),
    )
    [event] = await collect(trigger_for(record["Id"], fake_clock, poll_interval=30))
    assert_uniform(event, "success", record["Id"])
    assert sandbox.count("GET", GET_ONE) == 9
    assert fake_clock.sleeps.count(30) == 2  # one poll interval after each failed read


async def test_rate_limit_waits_for_the_block_then_succeeds(
    oktopost_connection_env: OktopostSandbox, fake_clock: Any
) -> None:
    sandbox = oktopost_connection_env
    record = sandbox.add_integration()
    sandbox.inject(
        Fault(kind="status", status=429, method="GET", path=GET_ONE, headers={"Retry-After": "600"})
    )
    [event] = await collect(trigger_for(record["Id"], fake_clock))
    assert event["status"] == "success"
    assert fake_clock.sleeps == [600]
    assert sandbox.count("GET", GET_ONE) == 2


async def test_rate_limit_block_is_cut_at_the_deadline(
    oktopost_connection_env: OktopostSandbox, fake_clock: Any
) -> None:
    sandbox = oktopost_connection_env
    record = sandbox.add_integration()
    # Like the real API: 429 without Retry-After (a ~15-minute block); the client's short retries all hit it.
    sandbox.inject(Fault(kind="status", status=429, method="GET", path=GET_ONE, times=4))
    [event] = await collect(trigger_for(record["Id"], fake_clock, end_time=fake_clock.now + 300))
    assert event["status"] == "timeout"
    assert fake_clock.sleeps[-1] == pytest.approx(300 - sum(fake_clock.sleeps[:-1]))
    assert sum(fake_clock.sleeps) == pytest.approx(300)


async def test_unexpected_exception_becomes_a_failed_event(
    oktopost_connection_env: OktopostSandbox, fake_clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(self: Any, client: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(OktopostIntegrationTrigger, "_check", broken)
    [event] = await collect(trigger_for("014abcdefabcdef", fake_clock))
    assert_uniform(event, "failed", "014abcdefabcdef")  # retryable, never a skip (issue 10)
    assert "RuntimeError: boom" in event["message"]


def test_integration_trigger_serialization_round_trip() -> None:
    trigger = OktopostIntegrationTrigger(
        "014abcdefabcdef",
        "my_conn",
        target_status="invalid",
        target_state=None,
        poll_interval=12.5,
        end_time=1_800_000_123.5,
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_oktopost.triggers.oktopost.OktopostIntegrationTrigger"
    assert json.loads(json.dumps(kwargs)) == kwargs
    assert DEFAULT_API_KEY not in json.dumps(kwargs)
    rebuilt = OktopostIntegrationTrigger(**kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)
    assert kwargs == {
        "integration_id": "014abcdefabcdef",
        "oktopost_conn_id": "my_conn",
        "target_status": "invalid",
        "target_state": None,
        "poll_interval": 12.5,
        "end_time": 1_800_000_123.5,
        "max_failing_time": None,
        "hook_params": {},
    }


def test_wait_trigger_serialization_round_trip() -> None:
    trigger = OktopostWaitTrigger(1_800_000_900.0, {"deferrals": 2, "progress": {"checked_absent": True}})
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_oktopost.triggers.oktopost.OktopostWaitTrigger"
    assert json.loads(json.dumps(kwargs)) == kwargs
    assert OktopostWaitTrigger(**kwargs).serialize() == (classpath, kwargs)


async def test_wait_trigger_sleeps_until_the_moment(fake_clock: Any) -> None:
    payload = {"deferrals": 1, "progress": {}}
    [event] = await collect(OktopostWaitTrigger(fake_clock.now + 900, payload))
    assert fake_clock.sleeps == [900]
    assert event["status"] == "resume"
    assert event["payload"] == payload
    assert event["moment"] == fake_clock.now


async def test_wait_trigger_fires_at_once_for_a_past_moment(fake_clock: Any) -> None:
    [event] = await collect(OktopostWaitTrigger(fake_clock.now - 5))
    assert event["status"] == "resume"
    assert event["payload"] == {}
    assert fake_clock.sleeps == []

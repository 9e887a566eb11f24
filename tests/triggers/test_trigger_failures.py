"""Issue 10: a trigger that fails for a reason that is not the integration's stays retryable, a run of
transient failures is bounded, and the deadline does not wait for the poller.

Against the sandbox over real HTTP; the persistent-failure case fakes time through ``_core.clock`` only, the
stuck-poller case runs on real time (a read the sandbox holds for seconds, a deadline one second away).
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException, AirflowSkipException

from airflow_provider_oktopost.exceptions import OktopostWaitFailed
from airflow_provider_oktopost.sensors.oktopost import OktopostIntegrationSensor
from airflow_provider_oktopost.testing import DEFAULT_API_KEY, Fault, OktopostSandbox
from airflow_provider_oktopost.triggers.oktopost import OktopostIntegrationTrigger

GET_ONE = r"/v2/integration/[^/]+"


async def collect(trigger: OktopostIntegrationTrigger) -> list[dict[str, Any]]:
    events = [event.payload async for event in trigger.run()]
    assert DEFAULT_API_KEY not in json.dumps(events)
    return events


def resume(event: dict[str, Any], **sensor_kwargs: Any) -> Any:
    """Hand the event to the sensor the way Airflow does (``resume_execution``, with its soft_fail rules)."""
    sensor = OktopostIntegrationSensor(
        task_id="wait", integration_id=event["integration_id"], deferrable=True, **sensor_kwargs
    )
    return sensor.resume_execution("execute_complete", {"event": event}, {})  # type: ignore[arg-type]


async def test_a_connection_that_cannot_be_read_fails_the_try_retryably_even_with_soft_fail(
    oktopost_connection_env: OktopostSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The connection store answers with something unreadable (as a secrets backend failing would).
    monkeypatch.setenv("AIRFLOW_CONN_OKTOPOST_BROKEN", "{not json")
    trigger = OktopostIntegrationTrigger("014abcdefghijkl", "oktopost_broken", end_time=time.time() + 60)
    [event] = await collect(trigger)
    assert event["status"] == "failed"
    with pytest.raises(OktopostWaitFailed, match="014abcdefghijkl"):
        resume(event, soft_fail=True)  # not a skip, and not AirflowFailException: retries apply


async def test_a_permanent_refusal_still_fails_at_once(
    oktopost_connection_env: OktopostSandbox, fake_clock: Any
) -> None:
    trigger = OktopostIntegrationTrigger("014missing00000", end_time=fake_clock.now + 3600)
    [event] = await collect(trigger)
    assert event["status"] == "error"
    with pytest.raises(AirflowFailException):
        resume(event)
    with pytest.raises(AirflowSkipException):
        resume(event, soft_fail=True)


async def test_nothing_but_transient_failures_gives_up_after_max_failing_time(
    oktopost_connection_env: OktopostSandbox, fake_clock: Any
) -> None:
    sandbox = oktopost_connection_env
    record = sandbox.add_integration()
    sandbox.inject(Fault(kind="status", status=503, method="GET", path=GET_ONE, times=None))
    trigger = OktopostIntegrationTrigger(
        record["Id"],
        poll_interval=60,
        end_time=fake_clock.now + 7 * 24 * 3600,  # a seven-day timeout is not what ends this wait
        max_failing_time=600,
        hook_params={"max_retries": 0},
    )
    [event] = await collect(trigger)
    assert event["status"] == "failed"
    assert "503" in event["message"] and "max_failing_time=600s" in event["message"]
    assert 600 <= fake_clock.now - 1_800_000_000.0 < 700
    with pytest.raises(OktopostWaitFailed, match="503"):
        resume(event, soft_fail=True)


async def test_a_good_reading_restarts_the_failure_count(
    oktopost_connection_env: OktopostSandbox, fake_clock: Any
) -> None:
    sandbox = oktopost_connection_env
    sandbox.configure(validation_delay=1500)  # ready after 25 minutes
    record = sandbox.add_integration()
    # 503s for 8 minutes, one good (not yet ready) reading, then 503s for 8 more minutes, then good ones.
    sandbox.inject(
        Fault(kind="status", status=503, method="GET", path=GET_ONE, times=8),
        Fault(kind="delay", delay_seconds=0.01, method="GET", path=GET_ONE, times=1),
        Fault(kind="status", status=503, method="GET", path=GET_ONE, times=8),
    )
    trigger = OktopostIntegrationTrigger(
        record["Id"],
        poll_interval=60,
        end_time=fake_clock.now + 3 * 3600,
        max_failing_time=600,
        hook_params={"max_retries": 0},
    )
    [event] = await collect(trigger)
    assert event["status"] == "success"


async def test_the_deadline_fires_while_the_poller_is_stuck_on_a_slow_read(
    oktopost_connection_env: OktopostSandbox,
) -> None:
    sandbox = oktopost_connection_env
    record = sandbox.add_integration()
    sandbox.inject(Fault(kind="delay", delay_seconds=6, method="GET", path=GET_ONE))
    started = time.monotonic()
    trigger = OktopostIntegrationTrigger(record["Id"], end_time=time.time() + 1.0)
    [event] = await collect(trigger)
    assert event["status"] == "timeout"
    assert time.monotonic() - started < 3.5  # not the 6 s the read is held for


def test_hook_params_and_max_failing_time_survive_serialization() -> None:
    trigger = OktopostIntegrationTrigger(
        "014abcdefghijkl", max_failing_time=600, hook_params={"timeout": 5, "max_retries": 1}
    )
    _path, kwargs = trigger.serialize()
    json.dumps(kwargs)
    rebuilt = OktopostIntegrationTrigger(**kwargs)
    assert (rebuilt.max_failing_time, rebuilt.hook_params) == (600.0, {"timeout": 5, "max_retries": 1})

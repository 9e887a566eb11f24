"""The components of the fault matrix (``test_fault_matrix.py``): the hook, the async client, every operator
and the sensor in each mode, each run to the end (deferrals through their trigger, reschedules on the
simulated clock) and its outcome told as a label."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import fault_waits
from airflow.providers.common.compat.sdk import AirflowFailException, TaskDeferred
from support import SimClock

from airflow_provider_oktopost.exceptions import OktopostError
from airflow_provider_oktopost.hooks.oktopost import OktopostHook
from airflow_provider_oktopost.hooks.oktopost_async import OktopostAsyncClient
from airflow_provider_oktopost.operators.oktopost import (
    OktopostConnectIntegrationOperator,
    OktopostDeleteIntegrationOperator,
    OktopostListIntegrationsOperator,
    OktopostUpdateIntegrationOperator,
)
from airflow_provider_oktopost.sensors.oktopost import OktopostIntegrationSensor
from airflow_provider_oktopost.testing import OktopostSandbox

CNAME = "0CNreliability1"
POKE_INTERVAL = 300.0


class FakeTI:
    try_number = 1

    def __init__(self) -> None:
        self.xcoms: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[key] = value

    def get_first_reschedule_date(self, context: Any) -> None:
        return None


def _ctx() -> Any:
    return {"ti": FakeTI()}


async def _events(trigger: Any) -> list[dict[str, Any]]:
    """Run a trigger to its events; waits meanwhile are the triggerer's (see ``fault_waits``)."""
    log = fault_waits.current
    if log is not None:
        log.hand_off()
        log.in_triggerer = True
    try:
        return [event.payload async for event in trigger.run()]
    finally:
        if log is not None:
            log.in_triggerer = False


def _run_operator(op: Any) -> str:
    context = _ctx()
    deferrals = 0
    try:
        op.execute(context)
    except TaskDeferred as deferred:
        event = deferred
        while True:
            deferrals += 1
            assert type(event.trigger).__name__ == "OktopostWaitTrigger"
            assert event.method_name == "resume_after_rate_limit"
            [payload] = asyncio.run(_events(event.trigger))
            try:
                op.resume_after_rate_limit(context, payload)
                break
            except TaskDeferred as again:
                event = again
    except AirflowFailException:
        return "failed at once: AirflowFailException"
    if deferrals:
        return f"deferred to the triggerer x{deferrals} (no worker slot held), then succeeded"
    return "succeeded"


def _run_hook(call: Callable[[], Any]) -> str:
    try:
        call()
    except OktopostError as error:
        return f"raised {type(error).__name__}"
    return "succeeded"


class _CountingSensor(OktopostIntegrationSensor):
    pokes = 0

    def poke(self, context: Any) -> Any:
        type(self).pokes += 1
        return super().poke(context)


def _sensor(seed: str, **kwargs: Any) -> _CountingSensor:
    _CountingSensor.pokes = 0
    return _CountingSensor(
        task_id="wait", integration_id=seed, poke_interval=POKE_INTERVAL, timeout=7200, **kwargs
    )


def _run_sensor_poke(sb: OktopostSandbox, sim: SimClock, seed: str) -> str:
    sensor = _sensor(seed, mode="poke")
    try:
        result = sensor.execute(_ctx())
    except AirflowFailException:
        return "failed at once: AirflowFailException"
    assert result["id"] == seed
    if _CountingSensor.pokes > 1:
        return f"kept poking ({_CountingSensor.pokes} pokes), then succeeded"
    return "succeeded"


def _run_sensor_reschedule(sb: OktopostSandbox, sim: SimClock, seed: str) -> str:
    rescheduled = 0
    while True:
        sensor = _sensor(seed, mode="reschedule")
        try:
            result = sensor.execute(_ctx())
            break
        except AirflowFailException:
            return "failed at once: AirflowFailException"
        except Exception as exc:
            if type(exc).__name__ != "AirflowRescheduleException" or rescheduled >= 10:
                raise
            rescheduled += 1
            # The scheduler brings the task back after poke_interval (labelled so by fault_waits).
            getattr(sim, "sleep_for_reschedule", sim.sleep)(POKE_INTERVAL)
    assert result["id"] == seed
    if rescheduled:
        return f"rescheduled x{rescheduled} (worker slot released), then succeeded"
    return "succeeded"


def _run_sensor_deferrable(sb: OktopostSandbox, sim: SimClock, seed: str) -> str:
    sensor = _sensor(seed, deferrable=True)
    try:
        result = sensor.execute(_ctx())
    except AirflowFailException:
        return "failed at once: AirflowFailException"
    except TaskDeferred as deferred:
        assert type(deferred.trigger).__name__ == "OktopostIntegrationTrigger"
        [event] = asyncio.run(_events(deferred.trigger))
        try:
            result = sensor.execute_complete(_ctx(), event)
        except AirflowFailException:  # the triggerer's first reading was a permanent refusal
            return "failed at once: AirflowFailException"
        assert result["id"] == seed
        return "deferred to the triggerer (no worker slot held), then succeeded"
    assert result["id"] == seed
    return "succeeded"


@dataclass(frozen=True)
class Component:
    name: str
    method: str
    path: str  # regex; "{seed}" is replaced by the seeded integration's Id
    effect: str  # read | connect | update | delete
    run: Callable[[OktopostSandbox, SimClock, str], str]
    family: str  # client | operator | poke | reschedule | deferrable
    baseline: int = 1
    extra: dict[str, Any] = field(default_factory=dict)


def _async_read(sb: OktopostSandbox, sim: SimClock, seed: str) -> str:
    async def go() -> str:
        try:
            async with await OktopostAsyncClient.from_conn_id() as client:
                await client.get_integration(seed)
        except OktopostError as error:
            return f"raised {type(error).__name__}"
        return "succeeded"

    return asyncio.run(go())


COMPONENTS = [
    Component(
        "OktopostHook.get_integration",
        "GET",
        "/v2/integration/{seed}",
        "read",
        lambda sb, sim, seed: _run_hook(lambda: OktopostHook().get_integration(seed)),
        "client",
    ),
    Component(
        "OktopostHook.connect_integration",
        "POST",
        "/v2/integration",
        "connect",
        lambda sb, sim, seed: _run_hook(lambda: OktopostHook().connect_integration("cd", CNAME)),
        "client",
    ),
    Component(
        "OktopostAsyncClient.get_integration", "GET", "/v2/integration/{seed}", "read", _async_read, "client"
    ),
    Component(
        "ConnectIntegrationOperator",
        "POST",
        "/v2/integration",
        "connect",
        lambda sb, sim, seed: _run_operator(
            OktopostConnectIntegrationOperator(
                task_id="t", integration_type="cd", cname_id=CNAME, deferrable=True
            )
        ),
        "operator",
        baseline=3,
    ),
    Component(
        "UpdateIntegrationOperator",
        "POST",
        "/v2/integration/{seed}",
        "update",
        lambda sb, sim, seed: _run_operator(
            OktopostUpdateIntegrationOperator(
                task_id="t", integration_id=seed, state="disabled", deferrable=True
            )
        ),
        "operator",
    ),
    Component(
        "DeleteIntegrationOperator",
        "DELETE",
        "/v2/integration/{seed}",
        "delete",
        lambda sb, sim, seed: _run_operator(
            OktopostDeleteIntegrationOperator(task_id="t", integration_id=seed, deferrable=True)
        ),
        "operator",
    ),
    Component(
        "ListIntegrationsOperator",
        "GET",
        "/v2/integration",
        "read",
        lambda sb, sim, seed: _run_operator(OktopostListIntegrationsOperator(task_id="t", deferrable=True)),
        "operator",
    ),
    Component("IntegrationSensor (poke)", "GET", "/v2/integration/{seed}", "read", _run_sensor_poke, "poke"),
    Component(
        "IntegrationSensor (reschedule)",
        "GET",
        "/v2/integration/{seed}",
        "read",
        _run_sensor_reschedule,
        "reschedule",
    ),
    Component(
        "IntegrationSensor (deferrable)",
        "GET",
        "/v2/integration/{seed}",
        "read",
        _run_sensor_deferrable,
        "deferrable",
    ),
]

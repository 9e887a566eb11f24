"""The sensor against the sandbox over real HTTP, in poke, reschedule and deferrable mode."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
    TaskDeferred,
)
from airflow.sdk import DAG
from support import SimClock

from airflow_provider_oktopost._core import clock
from airflow_provider_oktopost.operators.oktopost import OktopostConnectIntegrationOperator
from airflow_provider_oktopost.sensors.oktopost import OktopostIntegrationSensor
from airflow_provider_oktopost.testing import Fault, OktopostSandbox
from airflow_provider_oktopost.testing.dagrun import run_dag, task_states, xcom
from airflow_provider_oktopost.triggers.oktopost import OktopostIntegrationTrigger

ONE = r"/v2/integration/[^/]+"
FAST = {"poke_interval": 1, "timeout": 60}

# Each sensor waits for an integration its upstream task has just connected, so each one really waits
# out the sandbox's validation delay: in poke mode, in reschedule mode and deferred (trigger run inline).
with DAG("oktopost_sensor_modes", schedule=None) as modes_dag:
    _previous: Any = None
    for _mode in ("poke", "reschedule", "deferrable"):
        _connect = OktopostConnectIntegrationOperator(
            task_id=f"connect_{_mode}", integration_type="cd", cname_id=f"0CN{_mode}"
        )
        _sensor = OktopostIntegrationSensor(
            task_id=f"wait_{_mode}",
            integration_id=_connect.output,
            mode="reschedule" if _mode == "reschedule" else "poke",
            deferrable=_mode == "deferrable",
            **FAST,
        )
        if _previous is not None:
            _previous >> _connect
        _connect >> _sensor
        _previous = _sensor

_CONF = "{{ dag_run.conf['%s'] }}"
with DAG("oktopost_sensor_failures", schedule=None) as failures_dag:
    OktopostIntegrationSensor(
        task_id="missing", integration_id=_CONF % "missing", retries=2, retry_delay=timedelta(0), **FAST
    )
    OktopostIntegrationSensor(
        task_id="missing_deferrable",
        integration_id=_CONF % "missing",
        deferrable=True,
        retries=2,
        retry_delay=timedelta(0),
        **FAST,
    )
    OktopostIntegrationSensor(
        task_id="missing_soft", integration_id=_CONF % "missing", soft_fail=True, **FAST
    )
    OktopostIntegrationSensor(task_id="flaky", integration_id=_CONF % "flaky", **FAST)
    for _deferrable in (False, True):
        for _soft in (False, True):
            OktopostIntegrationSensor(
                task_id=f"timeout{'_deferrable' if _deferrable else ''}{'_soft' if _soft else ''}",
                integration_id=_CONF % "never",
                deferrable=_deferrable,
                soft_fail=_soft,
                poke_interval=1,
                timeout=2,
            )


def task_instances(dag_run: Any) -> dict[str, Any]:
    return {ti.task_id: ti for ti in dag_run.get_task_instances()}


def reschedules(ti: Any) -> int:
    from airflow.models.taskreschedule import TaskReschedule
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    with create_session() as session:
        return int(session.scalar(select(func.count()).where(TaskReschedule.ti_id == ti.id)) or 0)


# ---- real runs ----------------------------------------------------------------------------------------


@contextmanager
def valid_after_reads(sandbox: OktopostSandbox, reads: int) -> Iterator[None]:
    """New integrations stay invalid until ``reads`` GETs of each have arrived, then turn valid.

    The test decides when an integration turns valid, not a delay that a loaded machine can outlast.
    """
    sandbox.hold_validation()
    stop = threading.Event()

    def release() -> None:
        while not stop.wait(0.05):
            for item in sandbox.integrations:
                if (
                    item["Status"] == "invalid"
                    and sandbox.count("GET", f"/v2/integration/{item['Id']}") >= reads
                ):
                    sandbox.release_validation(item["CnameId"])

    releaser = threading.Thread(target=release, daemon=True)
    releaser.start()
    try:
        yield
    finally:
        stop.set()
        releaser.join(timeout=5)
        sandbox.hold_validation(False)


def test_poke_reschedule_and_deferrable_modes_wait_for_validation(
    airflow_db: Any, oktopost_connection_env: OktopostSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = oktopost_connection_env
    trigger_reads: list[str] = []
    original_check = OktopostIntegrationTrigger._check

    async def counting_check(self: OktopostIntegrationTrigger, client: Any) -> Any:
        trigger_reads.append(self.integration_id)
        return await original_check(self, client)

    monkeypatch.setattr(OktopostIntegrationTrigger, "_check", counting_check)

    # Valid after the connect's read-back and two of the sensor's reads.
    with valid_after_reads(sandbox, 3):
        dag_run = run_dag(modes_dag)
    tis = task_instances(dag_run)
    assert task_states(dag_run) == dict.fromkeys(tis, "success")
    for mode in ("poke", "reschedule", "deferrable"):
        integration_id = xcom(dag_run, f"connect_{mode}")
        found = xcom(dag_run, f"wait_{mode}")
        assert found["id"] == integration_id
        assert (found["status"], found["state"], found["is_ready"]) == ("valid", "active", True)
        # It was invalid when the sensor started: the sensor read it more than once (plus the read-back).
        assert sandbox.count("GET", f"/v2/integration/{integration_id}") >= 3
        assert tis[f"wait_{mode}"].try_number == 1
    assert reschedules(tis["wait_reschedule"]) >= 1
    deferred_id = xcom(dag_run, "connect_deferrable")
    assert trigger_reads and set(trigger_reads) == {deferred_id}


def test_failures_fail_at_once_skip_with_soft_fail_and_transient_errors_are_waited_out(
    airflow_db: Any, oktopost_connection_env: OktopostSandbox, no_backoff: list[float]
) -> None:
    sandbox = oktopost_connection_env
    flaky = sandbox.add_integration()["Id"]
    never = sandbox.add_integration(status="invalid")["Id"]
    # 503s, then dropped connections, on the flaky integration: more than the hook's own retries.
    sandbox.inject(
        Fault(kind="status", status=503, method="GET", path=f"/v2/integration/{flaky}", times=5),
        Fault(kind="drop", method="GET", path=f"/v2/integration/{flaky}", times=4),
    )
    dag_run = run_dag(failures_dag, {"missing": "014missing00000", "flaky": flaky, "never": never})
    tis = task_instances(dag_run)
    assert task_states(dag_run) == {
        "missing": "failed",
        "missing_deferrable": "failed",
        "missing_soft": "skipped",
        "flaky": "success",
        "timeout": "failed",
        "timeout_soft": "skipped",
        "timeout_deferrable": "failed",
        "timeout_deferrable_soft": "skipped",
    }
    # A missing integration is final: no retry although retries=2.
    assert tis["missing"].try_number == 1
    assert tis["missing_deferrable"].try_number == 1
    assert xcom(dag_run, "flaky")["id"] == flaky
    assert sandbox.count("GET", f"/v2/integration/{flaky}") == 10


# ---- direct calls ---------------------------------------------------------------------------------------


class FakeTI:
    try_number = 1


def ctx() -> Any:
    return {"ti": FakeTI()}


def test_deferrable_defers_at_once_without_a_call_and_the_poller_sees_it_within_seconds(
    oktopost_connection_env: OktopostSandbox,
) -> None:
    import asyncio

    sandbox = oktopost_connection_env
    ready = sandbox.add_integration()["Id"]
    sensor = OktopostIntegrationSensor(task_id="s", integration_id=ready, deferrable=True, poke_interval=60)
    with pytest.raises(TaskDeferred) as caught:
        sensor.execute(ctx())
    assert sandbox.count() == 0  # no call from the worker
    trigger = caught.value.trigger

    async def first_event() -> Any:
        async for event in trigger.run():
            return event.payload
        return None

    started = sandbox.state.now()
    event = asyncio.run(first_event())
    assert event["status"] == "success" and event["integration"]["id"] == ready
    # Read in the poller's first cycle, not a poke_interval later (the event itself is held until
    # SETTLE_SECONDS after the trigger started: Airflow can fail a task whose trigger fires too soon).
    [read] = sandbox.requests
    assert read.time - started < 5
    assert sandbox.count("GET") == 1


def test_deferrable_defers_with_poke_interval_and_an_absolute_deadline(
    oktopost_connection_env: OktopostSandbox,
) -> None:
    pending = oktopost_connection_env.add_integration(status="invalid")["Id"]
    sensor = OktopostIntegrationSensor(
        task_id="s",
        integration_id=pending,
        target_state=None,
        deferrable=True,
        poke_interval=17,
        timeout=600,
        oktopost_conn_id="oktopost_default",
    )
    before = clock.wall()
    with pytest.raises(TaskDeferred) as caught:
        sensor.execute(ctx())
    deferred = caught.value
    trigger = deferred.trigger
    assert isinstance(trigger, OktopostIntegrationTrigger)
    assert deferred.method_name == "execute_complete"
    _, kwargs = trigger.serialize()
    assert kwargs["poll_interval"] == 17
    assert kwargs["target_state"] is None and kwargs["target_status"] == "valid"
    assert before + 600 <= kwargs["end_time"] <= clock.wall() + 600
    # Airflow's own deferral timeout is only a backstop, later than the trigger's deadline.
    assert deferred.timeout is not None and deferred.timeout > timedelta(seconds=600)


def test_execution_timeout_also_bounds_the_deferred_wait(oktopost_connection_env: OktopostSandbox) -> None:
    pending = oktopost_connection_env.add_integration(status="invalid")["Id"]
    sensor = OktopostIntegrationSensor(
        task_id="s",
        integration_id=pending,
        deferrable=True,
        timeout=3600,
        execution_timeout=timedelta(seconds=90),
    )
    before = clock.wall()
    with pytest.raises(TaskDeferred) as caught:
        sensor.execute(ctx())
    assert before + 90 <= caught.value.trigger.end_time <= clock.wall() + 90


def test_poke_keeps_waiting_on_transient_errors(
    oktopost_connection_env: OktopostSandbox, no_backoff: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = oktopost_connection_env
    ready = sandbox.add_integration()["Id"]
    sensor = OktopostIntegrationSensor(task_id="s", integration_id=ready)
    sandbox.inject(Fault(kind="status", status=502, method="GET", path=ONE, times=4))
    assert not sensor.poke(ctx())
    sandbox.inject(Fault(kind="status", status=429, method="GET", path=ONE, headers={"Retry-After": "900"}))
    assert not sensor.poke(ctx())
    assert not sensor.poke(ctx())  # the block is recorded: this poke sends nothing
    assert sandbox.count("GET", f"/v2/integration/{ready}") == 5
    SimClock(sandbox).install(monkeypatch).sleep(901)
    result = sensor.poke(ctx())
    assert result and result.xcom_value["id"] == ready


def test_refused_key_fails_at_once(oktopost_connection_env: OktopostSandbox) -> None:
    sandbox = oktopost_connection_env
    ready = sandbox.add_integration()["Id"]
    sandbox.configure(forbidden_keys=[sandbox.api_key])
    with pytest.raises(AirflowFailException, match="403"):
        OktopostIntegrationSensor(task_id="s", integration_id=ready).poke(ctx())


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"integration_id": "a/b"}, "integration_id"),
        ({"integration_id": ""}, "integration_id"),
        ({"integration_id": "014abc", "target_status": "ok"}, "target_status"),
        ({"integration_id": "014abc", "target_state": "enabled"}, "target_state"),
    ],
)
def test_literal_arguments_are_checked_at_parse_time(
    kwargs: dict[str, Any], argument: str, oktopost_connection_env: OktopostSandbox
) -> None:
    with pytest.raises(ValueError, match=f"^{argument} must"):
        OktopostIntegrationSensor(task_id="s", **kwargs)
    assert oktopost_connection_env.count() == 0


def test_templated_arguments_wait_for_rendering(oktopost_connection_env: OktopostSandbox) -> None:
    with DAG("oktopost_sensor_parse_only", schedule=None):
        connect = OktopostConnectIntegrationOperator(task_id="c", integration_type="cd", cname_id="0CN1")
        OktopostIntegrationSensor(task_id="s1", integration_id=connect.output)
        OktopostIntegrationSensor(
            task_id="s2", integration_id="{{ params.id }}", target_status="{{ params.s }}"
        )
    sensor = OktopostIntegrationSensor(task_id="s3", integration_id="{{ value }}")
    sensor.render_template_fields({"value": "not an id"})  # type: ignore[arg-type]
    with pytest.raises(AirflowFailException, match="integration_id"):
        sensor.execute(ctx())
    assert oktopost_connection_env.count() == 0


# ---- execute_complete -------------------------------------------------------------------------------------


def _event(status: Any, **extra: Any) -> dict[str, Any]:
    return {
        "status": status,
        "message": f"it was {status}",
        "integration_id": "014abc",
        "integration": None,
    } | extra


@pytest.mark.parametrize(
    ("event", "error", "text"),
    [
        (None, AirflowException, "no usable event"),
        ("success", AirflowException, "no usable event"),
        (_event("weird"), AirflowException, "unknown status 'weird'"),
        ({}, AirflowException, "unknown status None"),
        (_event("success"), AirflowException, "without an integration"),
        (_event("timeout"), AirflowSensorTimeout, "it was timeout"),
        (_event("error"), AirflowFailException, "it was error"),
    ],
)
def test_execute_complete_fails_closed(event: Any, error: type[Exception], text: str) -> None:
    sensor = OktopostIntegrationSensor(task_id="s", integration_id="014abc", deferrable=True)
    with pytest.raises(error, match=re.escape(text)):
        sensor.execute_complete(ctx(), event)


def test_execute_complete_returns_the_integration() -> None:
    sensor = OktopostIntegrationSensor(task_id="s", integration_id="014abc", deferrable=True)
    integration = {"id": "014abc", "status": "valid", "state": "active"}
    assert sensor.execute_complete(ctx(), _event("success", integration=integration)) == integration


@pytest.mark.parametrize("event", [_event("timeout"), _event("error"), _event("weird"), None])
def test_soft_fail_turns_every_deferred_failure_into_a_skip(event: Any) -> None:
    """Through ``resume_execution``, as Airflow calls it: BaseSensorOperator applies soft_fail."""
    sensor = OktopostIntegrationSensor(task_id="s", integration_id="014abc", deferrable=True, soft_fail=True)
    with pytest.raises(AirflowSkipException):
        sensor.resume_execution("execute_complete", {"event": event}, ctx())
    hard = OktopostIntegrationSensor(task_id="s", integration_id="014abc", deferrable=True)
    with pytest.raises(AirflowException) as caught:
        hard.resume_execution("execute_complete", {"event": event}, ctx())
    assert not isinstance(caught.value, AirflowSkipException)

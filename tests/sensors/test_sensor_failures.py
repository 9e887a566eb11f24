"""Issue 10: a sensor whose reads keep failing with transient errors gives up after ``max_failing_time``, in
every mode, with a retryable error naming the last failure that ``soft_fail`` does not turn into a skip.

The failing reads are real: the connection points at a port on 127.0.0.1 where nothing listens (a wrong
Base URL), so every read is refused. Real ``dag.test()`` runs, real (short) time.
"""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
from airflow.sdk import DAG

from airflow_provider_oktopost.sensors.oktopost import OktopostIntegrationSensor
from airflow_provider_oktopost.testing import OktopostSandbox
from airflow_provider_oktopost.testing.dagrun import run_dag, task_states

MODES = ("poke", "reschedule", "deferrable")

with DAG("oktopost_sensor_persistent_failures", schedule=None) as failing_dag:
    for _mode in MODES:
        OktopostIntegrationSensor(
            task_id=f"wait_{_mode}",
            integration_id="014abcdefghijkl",
            oktopost_conn_id="{{ dag_run.conf['conn_id'] }}",  # templated (issue 10)
            mode="reschedule" if _mode == "reschedule" else "poke",
            deferrable=_mode == "deferrable",
            poke_interval=1,
            timeout=120,
            max_failing_time=3,
            hook_params={"max_retries": 0, "timeout": 2},
            soft_fail=True,
        )


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_persistent_transient_failures_fail_the_try_in_every_mode_never_skip(
    airflow_db: Any, oktopost_connection_env: OktopostSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = dict(oktopost_connection_env.connection_dict(), host=f"http://127.0.0.1:{_closed_port()}/v2")
    monkeypatch.setenv("AIRFLOW_CONN_OKTOPOST_UNREACHABLE", json.dumps(conn))
    run = run_dag(failing_dag, {"conn_id": "oktopost_unreachable"})
    # Failed (retryable: OktopostWaitFailed is not AirflowFailException), not skipped despite soft_fail,
    # and long before the 120 s timeout.
    assert task_states(run) == {f"wait_{mode}": "failed" for mode in MODES}
    assert (run.end_date - run.start_date).total_seconds() < 100


def test_the_sensor_closes_its_http_session(oktopost_connection_env: OktopostSandbox) -> None:
    record = oktopost_connection_env.add_integration()
    sensor = OktopostIntegrationSensor(task_id="wait", integration_id=record["Id"], poke_interval=1)
    assert sensor.execute({"ti": None})["id"] == record["Id"]  # type: ignore[arg-type]
    assert sensor.hook._transport is None


def test_bad_hook_params_and_max_failing_time_fail_at_parse_time() -> None:
    with pytest.raises(ValueError, match="hook_params"):
        OktopostIntegrationSensor(task_id="w", integration_id="014abcdefghijkl", hook_params={"verify": 0})
    with pytest.raises(ValueError, match="max_failing_time"):
        OktopostIntegrationSensor(task_id="w", integration_id="014abcdefghijkl", max_failing_time=-1)

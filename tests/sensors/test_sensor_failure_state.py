"""Where a reschedule-mode sensor keeps the start of a run of failed reads between pokes (issue 19).

Each poke of a ``reschedule`` sensor is a new try process, so the moment its reads started failing must be
kept outside it for ``max_failing_time`` to be measured: in the task instance's ``task_state_store`` on
Airflow 3.3+ (no Variable), in a try record Variable on 3.0 to 3.2. Once a read works again the record is
dropped, so nothing is left behind by a sensor that recovered. Real ``dag.test()`` runs against the
sandbox; the failing reads are real (injected 502s, or a port where nothing listens).
"""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
from airflow.sdk import DAG

from airflow_provider_oktopost.operators._try_records import RECORD_PREFIX
from airflow_provider_oktopost.sensors.oktopost import OktopostIntegrationSensor
from airflow_provider_oktopost.testing import Fault, OktopostSandbox
from airflow_provider_oktopost.testing.dagrun import run_dag, task_states

pytestmark = pytest.mark.airflow


def _has_state_store() -> bool:
    try:
        import airflow.models.task_state_store  # noqa: F401
    except ImportError:
        return False
    return True


#: Airflow 3.3+ gives tasks a task state store; earlier versions keep the record in a Variable.
STATE_STORE = _has_state_store()


def _sensor(dag_id: str, integration_id: str) -> DAG:
    with DAG(dag_id, schedule=None) as dag:
        OktopostIntegrationSensor(
            task_id="wait",
            integration_id=integration_id,
            oktopost_conn_id="{{ dag_run.conf['conn_id'] }}",
            mode="reschedule",
            poke_interval=1,
            timeout=120,
            max_failing_time=3,
            hook_params={"max_retries": 0, "timeout": 2},
        )
    return dag


# At module level: dag.test() runs DAGs that the DAG parser finds in this file.
KEPT_DAG = _sensor("oktopost_sensor_failure_state_kept", "014abcdefghijkl")
DROPPED_DAG = _sensor("oktopost_sensor_failure_state_dropped", "{{ dag_run.conf['integration_id'] }}")


def _variables() -> list[str]:
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session

    with create_session() as session:
        return [row.key for row in session.query(Variable) if row.key.startswith(RECORD_PREFIX)]


def _state_rows(dag_id: str) -> list[str]:
    if not STATE_STORE:
        return []
    from airflow.models.task_state_store import TaskStateStoreModel
    from airflow.utils.session import create_session

    with create_session() as session:
        return [row.key for row in session.query(TaskStateStoreModel).filter_by(dag_id=dag_id)]


@pytest.fixture(autouse=True)
def _no_records_before(airflow_db: Any) -> None:
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session

    with create_session() as session:
        session.query(Variable).filter(Variable.key.startswith(RECORD_PREFIX)).delete(
            synchronize_session=False
        )


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_a_run_of_failures_is_kept_in_the_task_state_store_or_a_variable(
    oktopost_connection_env: OktopostSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = dict(oktopost_connection_env.connection_dict(), host=f"http://127.0.0.1:{_closed_port()}/v2")
    monkeypatch.setenv("AIRFLOW_CONN_OKTOPOST_DOWN", json.dumps(conn))
    dag = KEPT_DAG
    run = run_dag(dag, {"conn_id": "oktopost_down"})
    assert task_states(run) == {"wait": "failed"}  # gave up after max_failing_time
    if STATE_STORE:
        assert _variables() == []
        assert len(_state_rows(dag.dag_id)) == 1
    else:
        assert len(_variables()) == 1


def test_a_sensor_that_recovers_leaves_nothing_behind(oktopost_connection_env: OktopostSandbox) -> None:
    sandbox = oktopost_connection_env
    ready = sandbox.add_integration()["Id"]
    sandbox.inject(Fault(kind="status", status=502, method="GET", path=f"/v2/integration/{ready}", times=2))
    dag = DROPPED_DAG
    run = run_dag(dag, {"conn_id": "oktopost_default", "integration_id": ready})
    assert task_states(run) == {"wait": "success"}
    assert sandbox.count("GET", f"/v2/integration/{ready}") == 3  # two failed reads, then the good one
    assert _variables() == []
    assert _state_rows(dag.dag_id) == []

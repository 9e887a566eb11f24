"""Run a DAG in-process with ``dag.test()`` and read what it left behind, on every Airflow 3.x.

For your own DAG tests against the sandbox::

    from airflow_provider_oktopost.testing.dagrun import run_dag, xcom

    def test_my_dag(oktopost_connection_env, airflow_db):
        run = run_dag(my_dag, run_conf={"cname_id": "0CN000000000001"})
        assert run.state == "success"
        assert xcom(run, "connect") in {i["Id"] for i in oktopost_connection_env.integrations}

Airflow 3.0 keeps ``test()`` on the scheduler-side DAG (``DAG.from_sdk_dag(dag).test()``) while 3.1+ has it on
the SDK DAG; :func:`run_dag` hides that. Airflow is imported only when these functions are called, so the
sandbox package itself stays free of Airflow.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def run_dag(dag: Any, run_conf: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    """Run one DAG run of ``dag`` in this process (deferred tasks' triggers run inline) and return it.

    The metadata database must be migrated. For the run, ``[core] dags_folder`` is the directory of the
    DAG's file: ``dag.test()`` only runs DAGs inside the DAGs folder, and (on 3.1+) parses that folder, which
    must not be a test directory full of unrelated modules.
    """
    with _dags_folder(os.path.dirname(os.path.abspath(dag.fileloc))):
        if hasattr(dag, "test"):
            return dag.test(run_conf=run_conf, **kwargs)
        from airflow.models.dag import DAG as SchedulerDAG

        return SchedulerDAG.from_sdk_dag(dag).test(run_conf=run_conf, **kwargs)


@contextmanager
def _dags_folder(folder: str) -> Iterator[None]:
    from airflow import settings

    key = "AIRFLOW__CORE__DAGS_FOLDER"
    old = os.environ.get(key)
    os.environ[key] = folder
    settings.configure_vars()  # type: ignore[no-untyped-call]  # DAGS_FOLDER is read once: refresh it
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = old
        settings.configure_vars()  # type: ignore[no-untyped-call]


def task_states(dag_run: Any) -> dict[str, str | None]:
    """``{task_id or task_id[map_index]: state}`` for every task instance of the run."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(TaskInstance).filter(
            TaskInstance.dag_id == dag_run.dag_id, TaskInstance.run_id == dag_run.run_id
        )
        return {
            (ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"): (
                str(ti.state.value if hasattr(ti.state, "value") else ti.state) if ti.state else None
            )
            for ti in rows
        }


def xcom(dag_run: Any, task_id: str, key: str = "return_value", map_index: int = -1) -> Any:
    """The XCom value a task instance of ``dag_run`` pushed (``None`` when there is none)."""
    values = _xcom_rows(dag_run, task_id, key, map_index)
    return values[0] if values else None


def xcoms(dag_run: Any, task_id: str, key: str = "return_value") -> list[Any]:
    """Every map index's XCom value of a mapped task, in map-index order."""
    return _xcom_rows(dag_run, task_id, key, None)


def _xcom_rows(dag_run: Any, task_id: str, key: str, map_index: int | None) -> list[Any]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        query = session.query(XComModel).filter(
            XComModel.dag_id == dag_run.dag_id,
            XComModel.run_id == dag_run.run_id,
            XComModel.task_id == task_id,
            XComModel.key == key,
        )
        if map_index is not None:
            query = query.filter(XComModel.map_index == map_index)
        rows = sorted(query, key=lambda row: row.map_index)
        return [_decode(row) for row in rows]


def _decode(row: Any) -> Any:
    value = row.value
    if isinstance(value, bytes | str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    return value

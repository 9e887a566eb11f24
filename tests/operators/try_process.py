"""Run one try of a task instance in a process of its own: the next try of the same task instance each time.

``python try_process.py <dag_id> <minute> [conf-json]`` runs the DAG run of ``tries_dags.py`` for that
logical date with ``dag.test()``. The first call creates the run (try 1). Every later call is a Clear of
that same run: ``dag.test()`` clears the task instances (Airflow's own clear, which the try number then
raises), and this script keeps the DAG run row that ``dag.test()`` would otherwise delete and re-create,
so that what Airflow keeps per task instance (the 3.3 task state store, cascaded with the run) survives, as
it does for a user's Clear. A task instance left ``running`` by a killed process is first marked failed, as
the scheduler does when its heartbeat stops.

:func:`run_try` starts it from a test; the sandbox connection comes from the test's environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DAGS = HERE / "tries_dags"


def logical_date(minute: int) -> datetime:
    return datetime(2026, 1, 2, 0, minute, tzinfo=UTC)


def start_try(
    dag_id: str, minute: int, conf: dict[str, Any] | None = None, **env: str
) -> subprocess.Popen[str]:
    """Start one try in a new process (see the module docs); ``env`` is added to the test's environment."""
    return subprocess.Popen(
        [sys.executable, str(Path(__file__)), dag_id, str(minute), json.dumps(conf or {})],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def run_try(dag_id: str, minute: int, conf: dict[str, Any] | None = None, **env: str) -> tuple[str, str]:
    """Run one try to its end; returns the task's state (``success``/``failed``) and the try's output."""
    child = start_try(dag_id, minute, conf, **env)
    output, _ = child.communicate(timeout=300)
    assert child.returncode == 0, output[-4000:]
    return ti_row(dag_id, minute)["state"], output


def ti_row(dag_id: str, minute: int) -> dict[str, Any]:
    """The task instance's state and try number, read from the metadata database."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        run = (
            session.query(DagRun)
            .filter(DagRun.dag_id == dag_id, DagRun.logical_date == logical_date(minute))
            .one()
        )
        ti = (
            session.query(TaskInstance)
            .filter(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run.run_id)
            .one()
        )
        state = ti.state.value if hasattr(ti.state, "value") else ti.state
        return {"state": state, "try_number": ti.try_number, "run_id": run.run_id}


def _keep_the_run(original: Any) -> Any:
    """``dag.test``'s get-or-create of the run, keeping an existing run instead of deleting it."""

    def get_or_create(*, dag: Any, logical_date: Any, session: Any, **kwargs: Any) -> Any:
        from airflow.models.dagrun import DagRun
        from airflow.utils.state import DagRunState
        from sqlalchemy import select

        run = session.scalar(
            select(DagRun).where(DagRun.dag_id == dag.dag_id, DagRun.logical_date == logical_date)
        )
        if run is None:
            return original(dag=dag, logical_date=logical_date, session=session, **kwargs)
        run.dag = dag
        run.state = DagRunState.RUNNING
        session.commit()
        return run

    return get_or_create


def _fail_killed_tries(dag_id: str, minute: int) -> None:
    """A try whose process was killed is still ``running``: fail it, as the scheduler does once its
    heartbeat stops (before ``dag.test`` clears it)."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState

    with create_session() as session:
        for ti in session.query(TaskInstance).filter(TaskInstance.dag_id == dag_id):
            if ti.state == TaskInstanceState.RUNNING and ti.logical_date == logical_date(minute):
                ti.state = TaskInstanceState.FAILED


def _main(dag_id: str, minute: int, conf: dict[str, Any]) -> None:
    import importlib.util

    _fail_killed_tries(dag_id, minute)

    import airflow.models.dagrun as dagrun_module

    if hasattr(dagrun_module, "get_or_create_dagrun"):  # Airflow 3.1+
        dagrun_module.get_or_create_dagrun = _keep_the_run(dagrun_module.get_or_create_dagrun)
    else:  # Airflow 3.0
        import airflow.models.dag as dag_module

        dag_module._get_or_create_dagrun = _keep_the_run(dag_module._get_or_create_dagrun)
    spec = importlib.util.spec_from_file_location("tries_dags", DAGS / "tries_dags.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dag = next(value for value in vars(module).values() if getattr(value, "dag_id", None) == dag_id)

    from airflow_provider_oktopost.testing.dagrun import run_dag

    when = logical_date(minute)
    run_dag(dag, conf or None, logical_date=when, run_after=when)


if __name__ == "__main__":
    _main(sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3]))

"""Issue 19: the one rule for "did an earlier try do this?", each try in a process of its own.

Every try here is a new process (``try_process.py``): try 1 creates the DAG run, every later try is a
Clear of the same task instance. On Airflow 3.3 the evidence lives in the task state store, on 3.0 to 3.2
in a Variable; the outcomes are the same. "Killed" is a SIGKILL of the try's process after its request
reached the sandbox and before the answer came back (a ``delay`` fault: the sandbox holds the request,
then processes it, committing the change, for a client that is no longer there).
"""

from __future__ import annotations

import json
import os
import signal
import time
from typing import Any

import pytest
from try_process import run_try, start_try, ti_row

from airflow_provider_oktopost.testing import Fault, OktopostSandbox


def _has_state_store() -> bool:
    try:
        import airflow.models.task_state_store  # noqa: F401
    except ImportError:
        return False
    return True


pytestmark = [pytest.mark.airflow, pytest.mark.heavy]

#: Airflow 3.3+ keeps the evidence in the task state store; earlier versions in Variables.
_STATE_STORE = _has_state_store()

CNAME = "0CNsandbox00001"
HOST = "links.example.com"
LIST = r"/v2/integration"
CNAMES = r"/v2/cname"
ACTION = r"/v2/integration-action"


def _conn(sandbox: OktopostSandbox, **extra: Any) -> dict[str, str]:
    """The connection for a try's process: a per-process budget store, so tries never share a window."""
    conn = sandbox.connection_dict()
    conn["extra"] = json.dumps({"budget_store": "memory", **extra})
    return {"AIRFLOW_CONN_OKTOPOST_DEFAULT": json.dumps(conn)}


def _kill_in_flight(
    sandbox: OktopostSandbox,
    dag_id: str,
    minute: int,
    method: str,
    path: str,
    conf: Any = None,
    *,
    held_for: float = 3.0,
    wait_for_commit: bool = True,
) -> None:
    """Run try 1 until its ``method`` request reached the sandbox, SIGKILL it, let the sandbox commit."""
    held = Fault(kind="delay", method=method, path=path, delay_seconds=held_for)
    sandbox.inject(held)
    child = start_try(dag_id, minute, conf, **_conn(sandbox, timeout=held_for + 5))
    deadline = time.monotonic() + 240
    while held in sandbox.state.pending_faults:  # taken when the request arrives
        assert child.poll() is None, child.communicate()[0][-4000:]
        assert time.monotonic() < deadline, "the request never reached the sandbox"
        time.sleep(0.02)
    os.kill(child.pid, signal.SIGKILL)
    child.communicate(timeout=60)
    while (
        wait_for_commit and sandbox.count(method, path) == 0
    ):  # the held request is processed (logged) after the delay
        assert time.monotonic() < deadline
        time.sleep(0.05)


# ---- connect ------------------------------------------------------------------------------------------


def test_connect_killed_mid_request_is_adopted_by_the_next_try(
    airflow_db: Any, oktopost_connection_env: OktopostSandbox
) -> None:
    sandbox = oktopost_connection_env
    _kill_in_flight(sandbox, "tries_connect", 1, "POST", LIST)
    [created] = sandbox.integrations
    state, output = run_try("tries_connect", 1, **_conn(sandbox))
    assert state == "success", output[-4000:]
    assert ti_row("tries_connect", 1)["try_number"] == 2
    assert [item["Id"] for item in sandbox.integrations] == [created["Id"]]
    assert sandbox.count("POST", LIST) == 1
    assert _records() == []  # 3.3: never a Variable; 3.0-3.2: deleted once the task instance succeeded


@pytest.mark.waits  # a 45 s request timeout
def test_next_try_waits_for_a_killed_connect_that_is_still_being_committed(
    airflow_db: Any, oktopost_connection_env: OktopostSandbox
) -> None:
    sandbox = oktopost_connection_env
    # The server holds the killed try's connect for 40 s; try 2 starts before that, finds nothing, and
    # looks again one request timeout (45 s) after the connect left, instead of sending a second one.
    _kill_in_flight(sandbox, "tries_connect", 9, "POST", LIST, held_for=40.0, wait_for_commit=False)
    assert sandbox.integrations == []
    state, output = run_try("tries_connect", 9, **_conn(sandbox, timeout=45))
    assert state == "success", output[-4000:]
    assert sandbox.count("GET", LIST) == 3  # try 1 looked once; try 2 looked, waited, looked again
    assert len(sandbox.integrations) == 1
    assert sandbox.count("POST", LIST) == 1


def test_connect_held_by_the_budget_does_not_adopt_what_another_tool_connected(
    airflow_db: Any, oktopost_connection_env: OktopostSandbox
) -> None:
    sandbox = oktopost_connection_env
    # Try 1: the listing takes the only call of the minute, so the connect is held and never sent.
    state, output = run_try("tries_connect", 2, **_conn(sandbox, rate_limit_per_minute=1, budget_max_wait=1))
    assert state == "failed" and "was not sent" in output, output[-4000:]
    assert sandbox.count("POST") == 0
    assert _records() == []  # nothing may have left, so nothing was recorded
    foreign = sandbox.add_integration(type="cd", cname_id=CNAME)  # another tool connects meanwhile
    state, output = run_try("tries_connect", 2, **_conn(sandbox))
    assert state == "failed", output[-4000:]
    assert f"already exists: {foreign['Id']}" in output
    assert [item["Id"] for item in sandbox.integrations] == [foreign["Id"]]
    assert sandbox.count("POST") == 0


# ---- CNAMEs -------------------------------------------------------------------------------------------


def test_cname_registered_by_someone_else_fails_on_every_try(
    airflow_db: Any, oktopost_connection_env: OktopostSandbox
) -> None:
    sandbox = oktopost_connection_env
    foreign = sandbox.add_cname(HOST)
    for _ in range(2):  # try 1, then a Clear
        state, output = run_try("tries_cname_create", 3, **_conn(sandbox))
        assert state == "failed", output[-4000:]
        assert f"already registered as CNAME {foreign['Id']}" in output
    assert ti_row("tries_cname_create", 3)["try_number"] == 2
    assert sandbox.count("POST") == 0


def test_cname_create_killed_mid_request_is_adopted_by_the_next_try(
    airflow_db: Any, oktopost_connection_env: OktopostSandbox
) -> None:
    sandbox = oktopost_connection_env
    _kill_in_flight(sandbox, "tries_cname_create", 4, "POST", CNAMES)
    [created] = sandbox.cnames
    state, output = run_try("tries_cname_create", 4, **_conn(sandbox))
    assert state == "success", output[-4000:]
    assert [item["Id"] for item in sandbox.cnames] == [created["Id"]]
    assert sandbox.count("POST", CNAMES) == 1


# ---- deletes ------------------------------------------------------------------------------------------


def test_delete_of_a_typo_held_by_the_budget_fails_on_the_next_try(
    airflow_db: Any, oktopost_connection_env: OktopostSandbox, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = oktopost_connection_env
    typo = {"id": "014typo00000000"}
    # Try 1: the minute's only call was taken by another process of the deployment, so the delete waits
    # for a turn further away than budget_max_wait and is never sent.
    tight = _conn(
        sandbox, budget_store="local", budget_dir=str(tmp_path), rate_limit_per_minute=1, budget_max_wait=1
    )
    monkeypatch.setenv("AIRFLOW_CONN_OKTOPOST_DEFAULT", tight["AIRFLOW_CONN_OKTOPOST_DEFAULT"])
    from airflow_provider_oktopost.hooks.oktopost import OktopostHook

    OktopostHook().get_me()
    state, output = run_try("tries_delete", 5, typo, **tight)
    assert state == "failed" and "was not sent" in output, output[-4000:]
    assert sandbox.count("DELETE") == 0 and _records() == []
    state, output = run_try("tries_delete", 5, typo, **_conn(sandbox))
    assert state == "failed", output[-4000:]  # a 404 with no evidence of an earlier delete: not success
    assert sandbox.count("DELETE") == 1


# ---- integration actions ------------------------------------------------------------------------------


def test_write_action_refused_on_try_one_runs_on_the_next_try(
    airflow_db: Any, oktopost_connection_env: OktopostSandbox
) -> None:
    sandbox = oktopost_connection_env
    integration = sandbox.add_integration("marketo", CNAME, status="invalid")
    conf = {"id": integration["Id"]}
    state, output = run_try("tries_action", 6, conf, **_conn(sandbox))
    assert state == "failed" and "must have a valid status" in output, output[-4000:]
    sandbox.set_status(integration["Id"], "valid")  # the integration got ready; the user clicks Clear
    state, output = run_try("tries_action", 6, conf, **_conn(sandbox))
    assert state == "success", output[-4000:]
    assert sandbox.count("POST", ACTION) == 2  # refused once, ran once
    assert _records() == []


def test_write_action_killed_mid_request_is_not_sent_again(
    airflow_db: Any, oktopost_connection_env: OktopostSandbox
) -> None:
    sandbox = oktopost_connection_env
    integration = sandbox.add_integration("marketo", CNAME, status="valid")
    conf = {"id": integration["Id"]}
    _kill_in_flight(sandbox, "tries_action", 7, "POST", ACTION, conf)
    state, output = run_try("tries_action", 7, conf, **_conn(sandbox))
    assert state == "failed", output[-4000:]
    assert "may have run the action 'lead.create'" in output
    assert sandbox.count("POST", ACTION) == 1  # the killed try's, processed after it died
    assert len(_records()) == (0 if _STATE_STORE else 1)  # a failed task keeps its Variable (docs)


# ---- after success ------------------------------------------------------------------------------------


def test_clear_after_success(airflow_db: Any, oktopost_connection_env: OktopostSandbox) -> None:
    sandbox = oktopost_connection_env
    state, output = run_try("tries_connect", 8, **_conn(sandbox))
    assert state == "success", output[-4000:]
    [created] = sandbox.integrations
    state, output = run_try("tries_connect", 8, **_conn(sandbox))
    if _STATE_STORE:  # the task state store still says this task instance connected it
        assert state == "success", output[-4000:]
    else:  # the Variable went when the task succeeded: if_exists decides
        assert state == "failed" and f"already exists: {created['Id']}" in output, output[-4000:]
    assert [item["Id"] for item in sandbox.integrations] == [created["Id"]]
    assert sandbox.count("POST", LIST) == 1
    assert _records() == []


def _records() -> list[str]:
    """The try records kept as Variables (3.0 to 3.2); the fixture below starts each test with none."""
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session

    with create_session() as session:
        return [row.key for row in session.query(Variable) if row.key.startswith("oktopost_try_record_")]


@pytest.fixture(autouse=True)
def _no_records_yet(airflow_db: Any) -> None:
    """Other tests of the session leave records of their failed tasks (as users' failed tasks do)."""
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session

    with create_session() as session:
        session.query(Variable).filter(Variable.key.startswith("oktopost_try_record_")).delete(
            synchronize_session=False
        )

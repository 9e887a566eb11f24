"""Issue 6, secrets audit: the API key appears nowhere Airflow keeps anything.

Every example DAG runs for real (``dag.test``) with DEBUG logging for urllib3, httpx, httpcore and the
provider (Airflow's core stays at INFO: its supervisor logs masking requests verbatim at DEBUG), with a key
that appears in no other string; then a failing run with a wrong key and one against a failing (5xx) API.
Afterwards everything is searched for the key and for the base64 ``account:key`` Basic-auth token: every file
under ``AIRFLOW_HOME`` (the SQLite metadata database and its WAL, byte for byte), every row of the tables
that hold rendered template fields, XCom, serialized triggers, task state and the audit log, the captured
stdout/stderr (where ``dag.test`` writes task and trigger logs: it writes no log files), every log record,
the messages of the exceptions raised and the sandbox's request log. The places that must hold something
are required to (rows in the tables, DEBUG lines of the HTTP libraries *from the DAG runs*), and a
self-test plants the key in each place and shows the same audit reports every one. The file-based task and
triggerer logs of a real deployment are audited in ``tests/e2e/test_deployment.py``.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from contextlib import closing
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from secrets_scan import Scan, forbidden, scan_sqlite, scan_tree
from support import SimClock, load_example

from airflow_provider_oktopost.exceptions import OktopostConfigError
from airflow_provider_oktopost.hooks.oktopost import OktopostHook
from airflow_provider_oktopost.hooks.oktopost_async import aget_client_config
from airflow_provider_oktopost.testing import Fault, OktopostSandbox
from airflow_provider_oktopost.testing.dagrun import run_dag, task_states

pytestmark = pytest.mark.airflow
AIRFLOW_VERSION = tuple(int(p) for p in version("apache-airflow").split(".")[:2])

ACCOUNT = "001auditAcct0Q7"
KEY = "Qz7-okt0p0st-AUDIT-k3y-9Vx2"  # appears in no other string of the project
WRONG_KEY = "Wr0ng-AUDIT-k3y-Lm4P-88"
NAMESPACES = ("urllib3", "httpx", "httpcore", "airflow_provider_oktopost", "requests")


#: The tables that keep task data; a missing table fails the audit (no per-table error is swallowed).
TABLES = (
    "rendered_task_instance_fields",
    "xcom",
    "trigger",
    "task_instance",
    "task_instance_history",
    "dag_run",
    "log",
    "connection",
    "variable",
)
#: Tables the runs below must have written to (else searching them proved nothing).
# Tables the runs above must have written to, so that "the key is in none of them" searched something.
# Two are version-dependent, and the exceptions are Airflow's, not ours: dag.test() on 3.0 runs a deferred
# task's trigger inline without storing it in the trigger table, and dag.test() on 3.1 writes no rows to the
# log table. The real deployment test (tests/e2e, Airflow 3.3) audits the trigger table a triggerer writes.
MUST_HOLD_ROWS = (
    ("rendered_task_instance_fields", "xcom", "task_instance", "dag_run")
    + (("trigger",) if AIRFLOW_VERSION >= (3, 1) else ())
    + (("log",) if AIRFLOW_VERSION[:2] != (3, 1) else ())
)


def audit(
    out_err: str,
    records: list[logging.LogRecord],
    messages: list[str],
    sandbox_log: list[dict[str, Any]],
    home: Path,
    needles: list[bytes],
) -> Scan:
    """Search every place (see the module docstring); the result says what was found and where it looked."""
    scan = Scan()
    scan.add("stdout/stderr", out_err.encode(), needles)
    text = "\n".join(f"{r.name} {r.getMessage()} {r.args!r}" for r in records)
    scan.add("log records", text.encode(), needles)
    scan.add("exception messages", "\n".join(messages).encode(), needles)
    scan.add("sandbox request log", json.dumps(sandbox_log).encode(), needles)
    scan.merge(scan_tree(home, needles))
    return scan.merge(scan_sqlite(home / "airflow.db", TABLES, needles))


@pytest.fixture
def audit_env(
    airflow_db: Path,
    rsandbox: OktopostSandbox,
    sim_clock: SimClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> OktopostSandbox:
    sb = rsandbox
    sb.add_account(ACCOUNT, KEY)
    conn = sb.connection_dict() | {"login": ACCOUNT, "password": KEY}
    conn["extra"] = {"rate_limit_per_minute": 100_000, "max_retries": 2}
    monkeypatch.setenv("AIRFLOW_CONN_OKTOPOST_DEFAULT", json.dumps(conn))
    monkeypatch.setenv("AIRFLOW__LOGGING__NAMESPACE_LEVELS", " ".join(f"{n}=DEBUG" for n in NAMESPACES))
    monkeypatch.setenv("AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO")  # the core stays at INFO
    caplog.set_level(logging.DEBUG)
    for name in NAMESPACES:
        monkeypatch.setattr(logging.getLogger(name), "level", logging.DEBUG)
    return sb


def _run_examples(sb: OktopostSandbox) -> list[Any]:
    runs = []
    sb.configure(validation_delay=20)
    runs.append(
        run_dag(load_example("example_oktopost_onboarding"), run_conf={"host_name": "audit1.example.com"})
    )
    runs.append(run_dag(load_example("example_oktopost_lifecycle"), run_conf={"cname_id": "0CNaudit0000002"}))
    paused = sb.add_integration("ga", "0CNaudit0000003", state="disabled")
    runs.append(
        run_dag(load_example("example_oktopost_audit"), run_conf={"expected_disabled": [paused["Id"]]})
    )
    # 3.0's dag.test cannot expand a mapped task's output (see tests/example_dags).
    if AIRFLOW_VERSION >= (3, 1):
        runs.append(
            run_dag(
                load_example("example_oktopost_bulk_onboarding"),
                run_conf={"cname_ids": ["0CNaudit0000004", "0CNaudit0000005"]},
            )
        )
    return runs


def test_key_appears_nowhere_after_successful_and_failing_runs(
    audit_env: OktopostSandbox,
    airflow_home: Path,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sb = audit_env
    messages: list[str] = []

    # Every example DAG succeeds with the audited key.
    for run in _run_examples(sb):
        assert run.state == "success", (run.dag_id, task_states(run))
    records_after_runs = len(caplog.records)

    # A failing run against a failing API (5xx until the retry budget is spent).
    sb.inject(Fault(kind="status", status=503, times=None))
    failed = run_dag(
        load_example("example_oktopost_onboarding"), run_conf={"host_name": "audit6.example.com"}
    )
    assert failed.state == "failed"
    sb.clear_faults()

    # A failing run with a wrong key (401), also audited for the wrong key itself.
    conn = sb.connection_dict() | {"login": ACCOUNT, "password": WRONG_KEY}
    monkeypatch.setenv("AIRFLOW_CONN_OKTOPOST_DEFAULT", json.dumps(conn))
    failed = run_dag(
        load_example("example_oktopost_onboarding"), run_conf={"host_name": "audit7.example.com"}
    )
    assert failed.state == "failed"
    try:
        OktopostHook().get_me()
    except Exception as error:  # the exception a user would see
        messages += [str(error), repr(error)]

    out, err = capfd.readouterr()
    # The capture is real: the DAG runs themselves (not the direct hook call above) produced DEBUG lines
    # of an HTTP library for the API's paths, and the 401 reached the exception message.
    from_runs = caplog.records[:records_after_runs]
    assert any(
        r.name.startswith(("urllib3", "httpx", "httpcore"))
        and r.levelno == logging.DEBUG
        and "/v2/" in r.getMessage()
        for r in from_runs
    ), "no DEBUG line of an HTTP library from the DAG runs: the audit would search nothing"
    assert "/v2/integration" in out + err
    assert any("401" in m for m in messages)

    needles = forbidden(ACCOUNT, KEY) + forbidden(ACCOUNT, WRONG_KEY)
    sandbox_log = [r.to_dict() for r in sb.requests]
    scan = audit(out + err, list(caplog.records), messages, sandbox_log, airflow_home, needles)
    assert scan.found == {}
    assert scan.searched["airflow.db"] > 0 and sandbox_log, scan.searched
    empty = [t for t in MUST_HOLD_ROWS if scan.searched[f"table {t}"] == 0]
    assert empty == [], (empty, scan.searched)


def test_audit_reports_a_leak_planted_in_each_place(
    airflow_db: Path, airflow_home: Path, rsandbox: OktopostSandbox, tmp_path: Path
) -> None:
    """The audit above, run over places where the key was planted on purpose, reports every one."""
    import requests

    home = tmp_path / "home"
    (home / "logs").mkdir(parents=True)
    with closing(sqlite3.connect(airflow_db)) as source, closing(sqlite3.connect(home / "airflow.db")) as db:
        source.backup(db)
        planted_tables = {"log", "variable"}
        db.execute("INSERT INTO log (event, extra) VALUES ('audit', ?)", (KEY,))
        db.execute("INSERT INTO variable (key, val, is_encrypted) VALUES ('audit', ?, 0)", (KEY,))
        for table in TABLES:  # and in one row of every other table that has rows
            columns = [
                c[1]
                for c in db.execute(f"PRAGMA table_info({table})")
                if "CHAR" in c[2] or c[2] in ("TEXT", "JSON")
            ]
            if (
                table not in planted_tables
                and columns
                and db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            ):
                db.execute(
                    f"UPDATE {table} SET {columns[-1]} = ? WHERE rowid = (SELECT MIN(rowid) FROM {table})",
                    (json.dumps(KEY),),
                )
                planted_tables.add(table)
        db.commit()
    (home / "logs" / "task.log").write_text(f"DEBUG Authorization: {KEY}\n")
    requests.get(f"{rsandbox.base_url}/integration/{KEY}", timeout=5)
    record = logging.LogRecord("urllib3", logging.DEBUG, __file__, 1, "header %s", (KEY,), None)

    needles = forbidden(ACCOUNT, KEY)
    sandbox_log = [r.to_dict() for r in rsandbox.requests]
    scan = audit(f"leaked {KEY}", [record], [f"error for {KEY}"], sandbox_log, home, needles)

    expected = {"stdout/stderr", "log records", "exception messages", "sandbox request log"}
    expected |= {"logs/task.log", "airflow.db"} | {f"table {t}" for t in planted_tables}
    assert expected - set(scan.found) == set(), scan.found
    assert len(planted_tables) >= 2


@pytest.mark.parametrize(
    "host",
    [
        "https://user:{key}@api.oktopost.com/v2",
        "http://{key}@127.0.0.1:9/v2",
        "user:{key}@api.oktopost.com",
        "https://:{key}@eu-api.oktopost.com",
    ],
)
async def test_base_url_with_credentials_is_refused_without_echoing_them(
    rsandbox: OktopostSandbox, monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    host = host.format(key=KEY)
    conn = rsandbox.connection_dict() | {"host": host}
    monkeypatch.setenv("AIRFLOW_CONN_OKTOPOST_DEFAULT", json.dumps(conn))
    with pytest.raises(OktopostConfigError, match="must not contain credentials") as sync_info:
        OktopostHook().get_me()
    with pytest.raises(OktopostConfigError, match="must not contain credentials") as async_info:
        await aget_client_config("oktopost_default")
    ok, message = OktopostHook().test_connection()
    assert not ok
    for text in (str(sync_info.value), repr(sync_info.value), str(async_info.value), message):
        assert KEY not in text and "user:" not in text
    assert rsandbox.count() == 0


def test_no_environment_secret_leaks_into_this_module() -> None:
    """The audited keys are distinctive: no other file of the project contains them (so a hit is a leak)."""
    root = Path(__file__).resolve().parents[2]
    me = Path(__file__).resolve()
    for folder in ("airflow_provider_oktopost", "example_dags", "tests"):
        for path in (root / folder).rglob("*.py"):
            if path.resolve() != me:
                text = path.read_text(errors="replace")
                assert KEY not in text and WRONG_KEY not in text, path
    assert KEY not in os.environ.get("AIRFLOW_CONN_OKTOPOST_DEFAULT", "")

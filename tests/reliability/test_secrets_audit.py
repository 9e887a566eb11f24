"""Issue 6, secrets audit: the API key appears nowhere Airflow keeps anything.

Every example DAG runs for real (``dag.test``) with DEBUG logging for urllib3, httpx, httpcore and the
provider (Airflow's core stays at INFO: its supervisor logs masking requests verbatim at DEBUG), with a key
that appears in no other string; then a failing run with a wrong key and one against a failing (5xx) API.
Afterwards everything is searched for the key and for the base64 ``account:key`` Basic-auth token: every file
under ``AIRFLOW_HOME`` (task and trigger logs, the SQLite metadata database and its WAL, byte for byte), the
database tables that hold rendered template fields, XCom, serialized triggers and task state, the captured
stdout/stderr, every log record, and the messages of the exceptions raised.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
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


def _forbidden(account: str, key: str) -> list[bytes]:
    token = base64.b64encode(f"{account}:{key}".encode()).decode()
    return [key.encode(), token.encode(), key.encode("utf-16-le")]


def _leaks(blob: bytes, needles: list[bytes]) -> list[str]:
    return [n.decode("latin-1") for n in needles if n in blob]


def _scan_home(home: Path, needles: list[bytes]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted(home.rglob("*")):
        if path.is_file():
            leaks = _leaks(path.read_bytes(), needles)
            if leaks:
                found[str(path.relative_to(home))] = leaks
    return found


def _scan_tables(needles: list[bytes]) -> tuple[dict[str, list[str]], dict[str, int]]:
    """Every row of the tables that keep task data, as text, and each table's row count (proof of reading)."""
    from airflow.utils.session import create_session
    from sqlalchemy import text

    tables = (
        "rendered_task_instance_fields",
        "xcom",
        "trigger",
        "task_instance",
        "dag_run",
        "log",
        "connection",
        "variable",
        "task_instance_history",
    )
    found: dict[str, list[str]] = {}
    sizes: dict[str, int] = {}
    with create_session() as session:
        for table in tables:
            try:
                rows = session.execute(text(f"SELECT * FROM {table}")).fetchall()
            except Exception:
                session.rollback()
                continue
            sizes[table] = len(rows)
            blob = "\n".join(repr(tuple(row)) for row in rows).encode()
            leaks = _leaks(blob, needles)
            if leaks:
                found[table] = leaks
    return found, sizes


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
        run_dag(load_example("example_oktopost_onboarding"), run_conf={"cname_id": "0CNaudit0000001"})
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

    # A failing run against a failing API (5xx until the retry budget is spent).
    sb.inject(Fault(kind="status", status=503, times=None))
    failed = run_dag(load_example("example_oktopost_onboarding"), run_conf={"cname_id": "0CNaudit0000006"})
    assert failed.state == "failed"
    sb.clear_faults()

    # A failing run with a wrong key (401), also audited for the wrong key itself.
    conn = sb.connection_dict() | {"login": ACCOUNT, "password": WRONG_KEY}
    monkeypatch.setenv("AIRFLOW_CONN_OKTOPOST_DEFAULT", json.dumps(conn))
    failed = run_dag(load_example("example_oktopost_onboarding"), run_conf={"cname_id": "0CNaudit0000007"})
    assert failed.state == "failed"
    try:
        OktopostHook().get_me()
    except Exception as error:  # the exception a user would see
        messages += [str(error), repr(error)]

    out, err = capfd.readouterr()
    records = "\n".join(f"{r.name} {r.getMessage()} {r.args!r}" for r in caplog.records)
    # The capture is real: the API traffic and DEBUG lines of the HTTP libraries were seen.
    assert "/v2/integration" in out + err + records
    assert any(
        r.name.startswith(("urllib3", "httpx", "httpcore")) and r.levelno == logging.DEBUG
        for r in caplog.records
    )
    assert any("401" in m for m in messages)

    needles = _forbidden(ACCOUNT, KEY) + _forbidden(ACCOUNT, WRONG_KEY)
    assert _leaks((out + err).encode(), needles) == []
    assert _leaks(records.encode(), needles) == []
    assert _leaks("\n".join(messages).encode(), needles) == []
    assert all(_leaks(json.dumps(r.to_dict()).encode(), needles) == [] for r in sb.requests)
    assert _scan_home(airflow_home, needles) == {}
    found, sizes = _scan_tables(needles)
    assert found == {}
    assert sizes.get("xcom", 0) > 0 and sizes.get("rendered_task_instance_fields", 0) > 0, sizes
    assert sizes.get("task_instance", 0) > 0, sizes


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

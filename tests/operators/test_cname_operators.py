"""The CNAME operators against the sandbox over real HTTP: create (or reuse), chain into connect, and the
guarded delete; whole runs through ``dag.test()`` and each branch called directly."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException
from airflow.sdk import DAG
from operator_support import ctx

from airflow_provider_oktopost.exceptions import OktopostNotFoundError
from airflow_provider_oktopost.operators.cname import OktopostCreateCnameOperator, OktopostDeleteCnameOperator
from airflow_provider_oktopost.operators.oktopost import OktopostConnectIntegrationOperator
from airflow_provider_oktopost.testing import Fault, OktopostSandbox
from airflow_provider_oktopost.testing.dagrun import run_dag, task_states, xcom

CNAMES = r"/v2/cname"
ONE_CNAME = r"/v2/cname/[^/]+"

with DAG("oktopost_cname_chain", schedule=None) as chain_dag:
    _create = OktopostCreateCnameOperator(
        task_id="create_cname", host_name="{{ dag_run.conf['host'] }}", if_exists="reuse"
    )
    _connect = OktopostConnectIntegrationOperator(
        task_id="connect", integration_type="cd", cname_id=_create.output, if_exists="reuse"
    )
    _create >> _connect

with DAG("oktopost_cname_retry", schedule=None) as retry_dag:
    OktopostCreateCnameOperator(
        task_id="create_cname", host_name="retry.example.com", retries=1, retry_delay=timedelta(0)
    )


def test_chain_creates_the_cname_and_connects_on_it_and_a_second_run_creates_nothing(
    airflow_db: Any, oktopost_connection_env: OktopostSandbox
) -> None:
    sandbox = oktopost_connection_env
    run = run_dag(chain_dag, {"host": "Links.Example.com"})
    assert task_states(run) == {"create_cname": "success", "connect": "success"}
    [cname] = sandbox.cnames
    assert cname["Name"] == "links.example.com"
    assert xcom(run, "create_cname") == cname["Id"]
    assert xcom(run, "create_cname", "cname")["name"] == "links.example.com"
    [integration] = sandbox.integrations
    assert integration["CnameId"] == cname["Id"]

    again = run_dag(chain_dag, {"host": "links.example.com"})
    assert task_states(again) == {"create_cname": "success", "connect": "success"}
    assert sandbox.cnames == [cname] and len(sandbox.integrations) == 1
    assert sandbox.count("POST", CNAMES) == 1


def test_retry_reuses_the_cname_try_one_registered(
    airflow_db: Any, oktopost_connection_env: OktopostSandbox, no_backoff: list[float]
) -> None:
    sandbox = oktopost_connection_env
    # Try 1 registers the name but its answer is lost and every look fails: the try fails after creating.
    sandbox.inject(
        Fault(kind="lost_response", method="POST", path=CNAMES),
        Fault(kind="status", status=500, method="GET", path=CNAMES, times=4),
    )
    run = run_dag(retry_dag)
    assert task_states(run) == {"create_cname": "success"}
    [cname] = sandbox.cnames
    assert xcom(run, "create_cname") == cname["Id"]
    assert sandbox.count("POST", CNAMES) == 1


def test_create_fails_without_retry_when_the_name_is_taken(oktopost_connection_env: OktopostSandbox) -> None:
    existing = oktopost_connection_env.add_cname("links.example.com")
    op = OktopostCreateCnameOperator(task_id="c", host_name="LINKS.example.com")
    with pytest.raises(AirflowFailException, match=existing["Id"]):
        op.execute(ctx())
    assert oktopost_connection_env.count("POST") == 0


def test_create_reuses_only_when_asked(oktopost_connection_env: OktopostSandbox) -> None:
    existing = oktopost_connection_env.add_cname("links.example.com")
    reuse = OktopostCreateCnameOperator(task_id="c", host_name="links.example.com", if_exists="reuse")
    context = ctx()
    assert reuse.execute(context) == existing["Id"]
    assert context["ti"].xcoms["cname"]["id"] == existing["Id"]
    fail = OktopostCreateCnameOperator(task_id="c", host_name="links.example.com")
    with pytest.raises(AirflowFailException, match="already registered"):
        fail.execute(ctx(try_number=2))  # a later try with no evidence of its own create: if_exists decides
    assert oktopost_connection_env.count("POST") == 0


def test_create_refusal_by_the_api_fails_without_retry(oktopost_connection_env: OktopostSandbox) -> None:
    oktopost_connection_env.inject(
        Fault(
            kind="status",
            status=400,
            method="POST",
            path=CNAMES,
            body='{"Result":false,"Errors":["No CNAME"]}',
        )
    )
    with pytest.raises(AirflowFailException, match="No CNAME"):
        OktopostCreateCnameOperator(task_id="c", host_name="links.example.com").execute(ctx())


@pytest.mark.parametrize(
    ("factory", "argument"),
    [
        (lambda: OktopostCreateCnameOperator(task_id="t", host_name="https://x.example.com"), "host_name"),
        (lambda: OktopostCreateCnameOperator(task_id="t", host_name="x.example.com:80"), "host_name"),
        (
            lambda: OktopostCreateCnameOperator(task_id="t", host_name="x.example.com", if_exists="x"),
            "if_exists",
        ),
        (lambda: OktopostDeleteCnameOperator(task_id="t", cname_id="a/b"), "cname_id"),
        (lambda: OktopostDeleteCnameOperator(task_id="t", cname_id="0CN1", force="yes"), "force"),
        (lambda: OktopostDeleteCnameOperator(task_id="t", cname_id="0CN1", missing_ok=1), "missing_ok"),
    ],
)
def test_literal_arguments_are_checked_at_parse_time(
    factory: Any, argument: str, oktopost_connection_env: OktopostSandbox
) -> None:
    with pytest.raises(ValueError, match=re.escape(argument)):
        factory()
    assert oktopost_connection_env.count() == 0


def test_templated_arguments_are_checked_after_rendering_before_any_request(
    oktopost_connection_env: OktopostSandbox,
) -> None:
    with DAG("oktopost_cname_parse_only", schedule=None):
        create = OktopostCreateCnameOperator(task_id="create", host_name="{{ params.host }}")
        OktopostDeleteCnameOperator(task_id="delete", cname_id=create.output)
    assert oktopost_connection_env.count() == 0
    op = OktopostCreateCnameOperator(task_id="t", host_name="{{ value }}")
    op.render_template_fields({"value": "https://links.example.com/x"})
    with pytest.raises(AirflowFailException, match="host_name"):
        op.execute(ctx())
    assert oktopost_connection_env.count() == 0


def test_delete_refuses_naming_the_integrations_on_the_cname(
    oktopost_connection_env: OktopostSandbox,
) -> None:
    sandbox = oktopost_connection_env
    cname = sandbox.add_cname("links.example.com")
    first = sandbox.add_integration("cd", cname["Id"])
    second = sandbox.add_integration("ga", cname["Id"])
    op = OktopostDeleteCnameOperator(task_id="d", cname_id=cname["Id"])
    with pytest.raises(AirflowFailException) as refused:
        op.execute(ctx())
    assert first["Id"] in str(refused.value) and second["Id"] in str(refused.value)
    assert "force=True" in str(refused.value)
    assert sandbox.cnames == [cname] and sandbox.count("DELETE") == 0


def test_delete_with_force_breaks_them_and_says_the_dns_record_stays(
    oktopost_connection_env: OktopostSandbox, capfd: pytest.CaptureFixture[str]
) -> None:
    sandbox = oktopost_connection_env
    cname = sandbox.add_cname("links.example.com")
    used = sandbox.add_integration("cd", cname["Id"])
    op = OktopostDeleteCnameOperator(task_id="d", cname_id=cname["Id"], force=True)
    assert op.execute(ctx()) == cname["Id"]
    assert sandbox.cnames == []
    assert sandbox.get(used["Id"])["Status"] == "invalid"  # type: ignore[index]
    out = "".join(capfd.readouterr())
    assert used["Id"] in out and "DNS record for links.example.com stays" in out


def test_delete_unused_cname(oktopost_connection_env: OktopostSandbox) -> None:
    sandbox = oktopost_connection_env
    cname = sandbox.add_cname("links.example.com")
    sandbox.add_integration("cd", "0CN000000000009")
    assert OktopostDeleteCnameOperator(task_id="d", cname_id=cname["Id"]).execute(ctx()) == cname["Id"]
    assert sandbox.cnames == [] and sandbox.count("DELETE", ONE_CNAME) == 1


def test_delete_of_a_missing_cname(oktopost_connection_env: OktopostSandbox) -> None:
    op = OktopostDeleteCnameOperator(task_id="d", cname_id="0CNnothere00001")
    with pytest.raises(AirflowFailException) as failed:
        op.execute(ctx())
    assert isinstance(failed.value.__cause__, OktopostNotFoundError)
    with pytest.raises(AirflowFailException):
        op.execute(ctx(try_number=2))  # no evidence that an earlier try sent a delete: not a success
    missing_ok = OktopostDeleteCnameOperator(task_id="d", cname_id="0CNnothere00001", missing_ok=True)
    assert missing_ok.execute(ctx()) == "0CNnothere00001"
    assert oktopost_connection_env.count("DELETE") == 0


_RACER = """
import sys, time
from airflow_provider_oktopost.operators.cname import OktopostCreateCnameOperator

class TI:
    try_number = 1
    def xcom_push(self, key, value):
        pass

op = OktopostCreateCnameOperator(task_id="create_cname", host_name="race.example.com", if_exists="reuse")
time.sleep(max(0.0, float(sys.argv[1]) - time.time()))  # both processes look at the same moment
print("CNAME", op.execute({"ti": TI()}))
"""


def test_two_processes_registering_one_name_at_once_end_with_one_cname(
    oktopost_connection_env: OktopostSandbox,
) -> None:
    """Real processes: both look (none), both send; Oktopost refuses the second, which then reuses it."""
    import subprocess
    import sys
    import time

    sandbox = oktopost_connection_env
    sandbox.inject(Fault(kind="delay", method="POST", path=CNAMES, delay_seconds=1.5, times=2))
    start = f"{time.time() + 12:.3f}"
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", _RACER, start], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [racer.communicate(timeout=120) for racer in racers]
    assert [racer.returncode for racer in racers] == [0, 0], [err[-2000:] for _, err in outputs]
    [cname] = sandbox.cnames
    ids = [line.split()[1] for out, _ in outputs for line in out.splitlines() if line.startswith("CNAME ")]
    assert ids == [cname["Id"], cname["Id"]]
    assert sandbox.count("POST", CNAMES) == 2  # the race really happened: both sent, one was refused

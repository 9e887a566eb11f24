"""The operators against the sandbox over real HTTP: happy paths through ``dag.test()``, branches directly."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException, TaskDeferred
from airflow.sdk import DAG

from airflow_provider_oktopost.core import clock
from airflow_provider_oktopost.exceptions import OktopostRateLimitError
from airflow_provider_oktopost.operators.oktopost import (
    MAX_RATE_LIMIT_DEFERRALS,
    OktopostConnectIntegrationOperator,
    OktopostDeleteIntegrationOperator,
    OktopostListIntegrationsOperator,
    OktopostUpdateIntegrationOperator,
)
from airflow_provider_oktopost.testing import Fault, OktopostSandbox
from airflow_provider_oktopost.testing.dagrun import run_dag, task_states, xcom
from airflow_provider_oktopost.triggers.oktopost import OktopostWaitTrigger

CNAME = "0CNsandbox00001"
LIST = r"/v2/integration"
ONE = r"/v2/integration/[^/]+"

with DAG("oktopost_operators_lifecycle", schedule=None) as lifecycle_dag:
    _connect = OktopostConnectIntegrationOperator(
        task_id="connect",
        integration_type="{{ dag_run.conf['type'] }}",
        cname_id="{{ dag_run.conf['cname'] }}",
        settings={"trackingId": "{{ dag_run.conf['tracking'] }}", "enabled": True},
    )
    _update = OktopostUpdateIntegrationOperator(
        task_id="update", integration_id=_connect.output, state="disabled", settings={"note": "paused"}
    )
    _list = OktopostListIntegrationsOperator(
        task_id="list", integration_type="{{ dag_run.conf['type'] }}", state="disabled"
    )
    _delete = OktopostDeleteIntegrationOperator(task_id="delete", integration_id=_connect.output)
    _connect >> _update >> _list >> _delete

with DAG("oktopost_operators_retry", schedule=None) as retry_dag:
    OktopostConnectIntegrationOperator(
        task_id="connect", integration_type="cd", cname_id=CNAME, retries=1, retry_delay=timedelta(0)
    )

with DAG("oktopost_operators_rate_limit", schedule=None) as rate_limit_dag:
    OktopostConnectIntegrationOperator(
        task_id="connect", integration_type="cd", cname_id=CNAME, deferrable=True
    )


class FakeTI:
    """What the operators use of the task instance: the try number and XCom pushes."""

    def __init__(self, try_number: int = 1) -> None:
        self.try_number = try_number
        self.xcoms: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[key] = value


def ctx(try_number: int = 1) -> Any:
    return {"ti": FakeTI(try_number)}


def task_instances(dag_run: Any) -> dict[str, Any]:
    return {ti.task_id: ti for ti in dag_run.get_task_instances()}


# ---- real runs ----------------------------------------------------------------------------------------


def test_lifecycle_dag_connects_updates_lists_and_deletes(
    airflow_db: Any, oktopost_connection_env: OktopostSandbox
) -> None:
    sandbox = oktopost_connection_env
    sandbox.add_integration(type="ga", cname_id=CNAME)  # another type on the CNAME: not a duplicate
    dag_run = run_dag(lifecycle_dag, {"type": "cd", "cname": CNAME, "tracking": "UA-1"})
    assert task_states(dag_run) == dict.fromkeys(("connect", "update", "list", "delete"), "success")

    integration_id = xcom(dag_run, "connect")
    assert re.fullmatch(r"014[a-z0-9]{12}", integration_id)
    pushed = xcom(dag_run, "connect", "integration")
    assert pushed["id"] == integration_id
    assert (pushed["type"], pushed["cname_id"], pushed["state"]) == ("cd", CNAME, "active")
    assert pushed["settings"] == {"trackingId": "UA-1", "enabled": "1"}
    assert xcom(dag_run, "update") == integration_id
    [listed] = xcom(dag_run, "list")
    assert listed["id"] == integration_id
    assert listed["state"] == "disabled"
    assert listed["settings"] == {"trackingId": "UA-1", "enabled": "1", "note": "paused"}
    assert xcom(dag_run, "delete") == integration_id
    assert [item["Type"] for item in sandbox.integrations] == ["ga"]
    assert sandbox.count("POST", LIST) == 1


def test_retry_reuses_what_try_one_created(
    airflow_db: Any, oktopost_connection_env: OktopostSandbox, no_backoff: list[float]
) -> None:
    sandbox = oktopost_connection_env
    # Try 1 connects, then every read-back of the new integration fails: the try fails after creating it.
    sandbox.inject(Fault(kind="status", status=500, method="GET", path=ONE, times=4))
    dag_run = run_dag(retry_dag)
    assert task_states(dag_run) == {"connect": "success"}
    assert task_instances(dag_run)["connect"].try_number == 2
    [only] = sandbox.integrations
    assert xcom(dag_run, "connect") == only["Id"]
    assert xcom(dag_run, "connect", "integration")["id"] == only["Id"]
    assert sandbox.count("POST", LIST) == 1


def test_deferrable_rate_limit_waits_and_resumes_without_duplicate(
    airflow_db: Any, oktopost_connection_env: OktopostSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = oktopost_connection_env
    waits: list[float] = []

    async def no_wait(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(clock, "async_sleep", no_wait)
    # The read-back after connecting is rate limited for 10 minutes.
    sandbox.inject(Fault(kind="status", status=429, method="GET", path=ONE, headers={"Retry-After": "600"}))
    dag_run = run_dag(rate_limit_dag)
    assert task_states(dag_run) == {"connect": "success"}
    assert task_instances(dag_run)["connect"].try_number == 1
    assert waits and 590 <= waits[0] <= 600  # the wait trigger ran inline, until the block's end
    [only] = sandbox.integrations
    assert xcom(dag_run, "connect") == only["Id"]
    assert sandbox.count("POST", LIST) == 1


# ---- connect --------------------------------------------------------------------------------------------


def test_connect_fails_without_retry_when_one_exists(oktopost_connection_env: OktopostSandbox) -> None:
    existing = oktopost_connection_env.add_integration(type="cd", cname_id=CNAME)
    op = OktopostConnectIntegrationOperator(task_id="c", integration_type="cd", cname_id=CNAME)
    with pytest.raises(AirflowFailException, match=existing["Id"]):
        op.execute(ctx())
    assert oktopost_connection_env.count("POST") == 0


def test_connect_reuses_an_existing_one_when_asked(oktopost_connection_env: OktopostSandbox) -> None:
    existing = oktopost_connection_env.add_integration(type="cd", cname_id=CNAME)
    op = OktopostConnectIntegrationOperator(
        task_id="c", integration_type="cd", cname_id=CNAME, if_exists="reuse"
    )
    context = ctx()
    assert op.execute(context) == existing["Id"]
    assert context["ti"].xcoms["integration"]["id"] == existing["Id"]
    assert oktopost_connection_env.count("POST") == 0


def test_connect_on_a_retry_adopts_the_existing_one_whatever_if_exists(
    oktopost_connection_env: OktopostSandbox,
) -> None:
    existing = oktopost_connection_env.add_integration(type="cd", cname_id=CNAME)
    op = OktopostConnectIntegrationOperator(
        task_id="c", integration_type="cd", cname_id=CNAME, if_exists="fail"
    )
    assert op.execute(ctx(try_number=2)) == existing["Id"]
    assert len(oktopost_connection_env.integrations) == 1
    assert oktopost_connection_env.count("POST") == 0


def test_connect_settings_from_a_rendered_json_string(oktopost_connection_env: OktopostSandbox) -> None:
    op = OktopostConnectIntegrationOperator(
        task_id="c", integration_type="cd", cname_id=CNAME, settings="{{ settings }}"
    )
    op.render_template_fields({"settings": '{"trackingId": "UA-9", "tags": ["a", "b"]}'})  # type: ignore[arg-type]
    context = ctx()
    integration_id = op.execute(context)
    assert oktopost_connection_env.get(integration_id)["SettingsData"] == {
        "trackingId": "UA-9",
        "tags": ["a", "b"],
    }


# ---- update / delete ------------------------------------------------------------------------------------


def test_update_changes_state_cname_and_settings(oktopost_connection_env: OktopostSandbox) -> None:
    sandbox = oktopost_connection_env
    record = sandbox.add_integration(settings={"a": "1"})
    op = OktopostUpdateIntegrationOperator(
        task_id="u",
        integration_id=record["Id"],
        state="disabled",
        cname_id="0CNother0000001",
        settings={"b": 2},
    )
    assert op.execute(ctx()) == record["Id"]
    after = sandbox.get(record["Id"])
    assert (after["State"], after["CnameId"], after["SettingsData"]) == (
        "disabled",
        "0CNother0000001",
        {"a": "1", "b": "2"},
    )


def test_update_of_a_missing_integration_fails_without_retry(
    oktopost_connection_env: OktopostSandbox,
) -> None:
    op = OktopostUpdateIntegrationOperator(task_id="u", integration_id="014missing00000", state="active")
    with pytest.raises(AirflowFailException, match="404"):
        op.execute(ctx())


def test_delete(oktopost_connection_env: OktopostSandbox) -> None:
    record = oktopost_connection_env.add_integration()
    op = OktopostDeleteIntegrationOperator(task_id="d", integration_id=record["Id"])
    assert op.execute(ctx()) == record["Id"]
    assert oktopost_connection_env.integrations == []
    with pytest.raises(AirflowFailException, match="404"):
        op.execute(ctx())  # gone now, and missing_ok is False


def test_delete_missing_ok(oktopost_connection_env: OktopostSandbox) -> None:
    op = OktopostDeleteIntegrationOperator(task_id="d", integration_id="014missing00000", missing_ok=True)
    assert op.execute(ctx()) == "014missing00000"
    assert oktopost_connection_env.count("DELETE", ONE) == 1


# ---- list ------------------------------------------------------------------------------------------------


def test_list_reads_every_page_and_filters(oktopost_connection_env: OktopostSandbox) -> None:
    sandbox = oktopost_connection_env
    for n in range(130):
        sandbox.add_integration(
            type="cd", status="invalid" if n % 10 == 0 else None, state="disabled" if n % 4 == 0 else "active"
        )
    for _ in range(3):
        sandbox.add_integration(type="ga")

    everything = OktopostListIntegrationsOperator(task_id="l").execute(ctx())
    assert len(everything) == 133
    assert len({item["id"] for item in everything}) == 133
    assert sandbox.count("GET", LIST) == 2  # 100 + 33

    cd_invalid_disabled = OktopostListIntegrationsOperator(
        task_id="l", integration_type="cd", status="invalid", state="disabled"
    ).execute(ctx())
    assert len(cd_invalid_disabled) == len([n for n in range(130) if n % 10 == 0 and n % 4 == 0])
    assert {(i["type"], i["status"], i["state"]) for i in cd_invalid_disabled} == {
        ("cd", "invalid", "disabled")
    }
    assert {
        i["type"] for i in OktopostListIntegrationsOperator(task_id="l", integration_type="ga").execute(ctx())
    } == {"ga"}


def test_refused_key_fails_without_retry(
    oktopost_connection_env: OktopostSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    oktopost_connection_env.configure(forbidden_keys=[oktopost_connection_env.api_key])
    with pytest.raises(AirflowFailException, match="403"):
        OktopostListIntegrationsOperator(task_id="l").execute(ctx())


# ---- validation -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("factory", "argument"),
    [
        (
            lambda: OktopostConnectIntegrationOperator(task_id="t", integration_type="c d", cname_id=CNAME),
            "integration_type",
        ),
        (
            lambda: OktopostConnectIntegrationOperator(task_id="t", integration_type="cd", cname_id="../me"),
            "cname_id",
        ),
        (
            lambda: OktopostConnectIntegrationOperator(
                task_id="t", integration_type="cd", cname_id=CNAME, settings=[1]
            ),
            "settings",
        ),
        (
            lambda: OktopostConnectIntegrationOperator(
                task_id="t", integration_type="cd", cname_id=CNAME, settings={"state": "active"}
            ),
            "settings",
        ),
        (
            lambda: OktopostConnectIntegrationOperator(
                task_id="t", integration_type="cd", cname_id=CNAME, if_exists="replace"
            ),
            "if_exists",
        ),
        (
            lambda: OktopostUpdateIntegrationOperator(task_id="t", integration_id="", state="active"),
            "integration_id",
        ),
        (
            lambda: OktopostUpdateIntegrationOperator(task_id="t", integration_id="014a", state="paused"),
            "state",
        ),
        (
            lambda: OktopostUpdateIntegrationOperator(task_id="t", integration_id="014a", cname_id="a/b"),
            "cname_id",
        ),
        (
            lambda: OktopostUpdateIntegrationOperator(task_id="t", integration_id="014a"),
            "state, cname_id or settings",
        ),
        (
            lambda: OktopostUpdateIntegrationOperator(task_id="t", integration_id="014a", settings={}),
            "cname_id or settings",
        ),
        (lambda: OktopostDeleteIntegrationOperator(task_id="t", integration_id="a b"), "integration_id"),
        (lambda: OktopostListIntegrationsOperator(task_id="t", integration_type="c/d"), "integration_type"),
        (lambda: OktopostListIntegrationsOperator(task_id="t", status="ok"), "status"),
        (lambda: OktopostListIntegrationsOperator(task_id="t", state="on"), "state"),
    ],
)
def test_literal_arguments_are_checked_at_parse_time(
    factory: Any, argument: str, oktopost_connection_env: OktopostSandbox
) -> None:
    with pytest.raises(ValueError, match=re.escape(argument)):
        factory()
    assert oktopost_connection_env.count() == 0


def test_templated_arguments_are_not_checked_at_parse_time(oktopost_connection_env: OktopostSandbox) -> None:
    with DAG("oktopost_operators_parse_only", schedule=None):
        connect = OktopostConnectIntegrationOperator(
            task_id="connect",
            integration_type="{{ params.type }}",
            cname_id="{% if true %}0CN{% endif %}",
            settings={"x": "{{ ds }}"},
        )
        OktopostUpdateIntegrationOperator(
            task_id="update", integration_id=connect.output, state="{{ params.s }}"
        )
        OktopostDeleteIntegrationOperator(task_id="delete", integration_id=connect.output)
        OktopostDeleteIntegrationOperator.partial(task_id="mapped").expand(integration_id=connect.output)
        OktopostListIntegrationsOperator(task_id="list", status="{{ params.status }}")
    assert oktopost_connection_env.count() == 0


@pytest.mark.parametrize(
    ("op", "rendered", "argument"),
    [
        (
            OktopostDeleteIntegrationOperator(task_id="t", integration_id="{{ value }}"),
            "../../me",
            "integration_id",
        ),
        (
            OktopostUpdateIntegrationOperator(task_id="t", integration_id="014abc", state="{{ value }}"),
            "paused",
            "state",
        ),
        (
            OktopostConnectIntegrationOperator(
                task_id="t", integration_type="cd", cname_id=CNAME, settings="{{ value }}"
            ),
            "not json",
            "settings",
        ),
        (
            OktopostListIntegrationsOperator(task_id="t", integration_type="{{ value }}"),
            "a b",
            "integration_type",
        ),
    ],
)
def test_templated_arguments_are_checked_after_rendering_before_any_request(
    op: Any, rendered: str, argument: str, oktopost_connection_env: OktopostSandbox
) -> None:
    op.render_template_fields({"value": rendered})
    with pytest.raises(AirflowFailException, match=re.escape(argument)):
        op.execute(ctx())
    assert oktopost_connection_env.count() == 0


# ---- rate limits ------------------------------------------------------------------------------------------


def _block_listing(sandbox: OktopostSandbox, seconds: int = 900, times: int = 1) -> None:
    sandbox.inject(
        Fault(
            kind="status",
            status=429,
            method="GET",
            path=LIST,
            headers={"Retry-After": str(seconds)},
            times=times,
        )
    )


def test_rate_limit_without_deferral_is_a_retryable_error_saying_when(
    oktopost_connection_env: OktopostSandbox,
) -> None:
    _block_listing(oktopost_connection_env)
    op = OktopostConnectIntegrationOperator(
        task_id="c", integration_type="cd", cname_id=CNAME, deferrable=False
    )
    before = clock.wall()
    with pytest.raises(OktopostRateLimitError) as caught:
        op.execute(ctx())
    assert not isinstance(caught.value, AirflowFailException)
    assert caught.value.retry_after == 900
    message = str(caught.value)
    when = re.search(r"Retry after (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) \(in 900s\)", message)
    assert when, message
    assert when.group(1) >= clock_iso(before + 899)
    assert oktopost_connection_env.count("POST") == 0


def clock_iso(epoch: float) -> str:
    from airflow_provider_oktopost.triggers.oktopost import format_moment

    return format_moment(epoch)


def test_rate_limit_with_deferral_defers_to_the_wait_trigger_then_connects_once(
    oktopost_connection_env: OktopostSandbox,
) -> None:
    sandbox = oktopost_connection_env
    _block_listing(sandbox)
    op = OktopostConnectIntegrationOperator(
        task_id="c", integration_type="cd", cname_id=CNAME, deferrable=True
    )
    before = clock.wall()
    with pytest.raises(TaskDeferred) as caught:
        op.execute(ctx())
    deferred = caught.value
    assert isinstance(deferred.trigger, OktopostWaitTrigger)
    assert before + 900 <= deferred.trigger.moment <= clock.wall() + 900
    assert deferred.method_name == "resume_after_rate_limit"
    assert deferred.timeout is not None and deferred.timeout >= timedelta(seconds=900)
    assert deferred.trigger.payload["deferrals"] == 1
    assert sandbox.count("POST") == 0

    event = {
        "status": "resume",
        "message": "",
        "moment": deferred.trigger.moment,
        "payload": deferred.trigger.payload,
    }
    resumed = OktopostConnectIntegrationOperator(
        task_id="c", integration_type="cd", cname_id=CNAME, deferrable=True
    )
    integration_id = resumed.resume_after_rate_limit(ctx(), event)
    assert [item["Id"] for item in sandbox.integrations] == [integration_id]


def test_rate_limit_deferrals_are_capped(oktopost_connection_env: OktopostSandbox) -> None:
    _block_listing(oktopost_connection_env)
    op = OktopostListIntegrationsOperator(task_id="l", deferrable=True)
    event = {"status": "resume", "payload": {"deferrals": MAX_RATE_LIMIT_DEFERRALS, "progress": {}}}
    with pytest.raises(OktopostRateLimitError, match=f"gave up after waiting out {MAX_RATE_LIMIT_DEFERRALS}"):
        op.resume_after_rate_limit(ctx(), event)


@pytest.mark.parametrize("event", [None, "resume", {"status": "error"}, {}])
def test_resume_fails_closed_on_an_unexpected_event(
    event: Any, oktopost_connection_env: OktopostSandbox
) -> None:
    op = OktopostListIntegrationsOperator(task_id="l", deferrable=True)
    with pytest.raises(AirflowException, match="Unexpected event"):
        op.resume_after_rate_limit(ctx(), event)
    assert oktopost_connection_env.count() == 0


def test_resume_after_connecting_does_not_connect_again(oktopost_connection_env: OktopostSandbox) -> None:
    sandbox = oktopost_connection_env
    sandbox.inject(Fault(kind="status", status=429, method="GET", path=ONE, headers={"Retry-After": "900"}))
    op = OktopostConnectIntegrationOperator(
        task_id="c", integration_type="cd", cname_id=CNAME, deferrable=True
    )
    with pytest.raises(TaskDeferred) as caught:
        op.execute(ctx())
    payload = caught.value.trigger.payload
    [created] = sandbox.integrations
    assert payload["progress"]["integration_id"] == created["Id"]
    event = {"status": "resume", "payload": payload}
    fresh = OktopostConnectIntegrationOperator(
        task_id="c", integration_type="cd", cname_id=CNAME, deferrable=True
    )
    context = ctx()
    assert fresh.resume_after_rate_limit(context, event) == created["Id"]
    assert context["ti"].xcoms["integration"]["id"] == created["Id"]
    assert sandbox.count("POST", LIST) == 1
    assert len(sandbox.integrations) == 1


def test_modules_stay_light_to_import() -> None:
    """DAG files import these on every parse: no requests, no trigger machinery, no network."""
    import subprocess
    import sys

    code = (
        "import sys; import airflow_provider_oktopost.operators.oktopost; "
        "import airflow_provider_oktopost.sensors.oktopost; "
        "print(sorted(m for m in ('requests', 'airflow_provider_oktopost.triggers.oktopost', "
        "'airflow_provider_oktopost.core.transports') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_resume_after_a_rate_limited_connect_adopts_what_that_connect_left(
    oktopost_connection_env: OktopostSandbox,
) -> None:
    sandbox = oktopost_connection_env
    sandbox.inject(Fault(kind="status", status=429, method="POST", path=LIST, headers={"Retry-After": "900"}))
    op = OktopostConnectIntegrationOperator(
        task_id="c", integration_type="cd", cname_id=CNAME, deferrable=True
    )
    with pytest.raises(TaskDeferred) as caught:
        op.execute(ctx())
    payload = caught.value.trigger.payload
    assert payload["progress"] == {"checked_absent": True}  # this try saw none, then tried to connect
    # Say that connect went through after all: the resumed try must adopt it, not fail or add a second.
    left = sandbox.add_integration(type="cd", cname_id=CNAME)
    fresh = OktopostConnectIntegrationOperator(
        task_id="c", integration_type="cd", cname_id=CNAME, deferrable=True
    )
    assert fresh.resume_after_rate_limit(ctx(), {"status": "resume", "payload": payload}) == left["Id"]
    assert len(sandbox.integrations) == 1

"""Rate limits in the operators, called directly against the sandbox: a retryable error without deferral,
deferral to the wait trigger with it, the deferral cap, and resuming (fail closed, never connect twice)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException, TaskDeferred
from operator_support import CNAME, LIST, ONE, ctx
from support import SimClock

from airflow_provider_oktopost._core import clock
from airflow_provider_oktopost.exceptions import OktopostRateLimitError
from airflow_provider_oktopost.operators.oktopost import (
    MAX_RATE_LIMIT_DEFERRALS,
    OktopostConnectIntegrationOperator,
    OktopostListIntegrationsOperator,
)
from airflow_provider_oktopost.testing import Fault, OktopostSandbox
from airflow_provider_oktopost.triggers.oktopost import OktopostWaitTrigger


def _sit_out_the_block(sandbox: OktopostSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """Move time past the 15-minute block that the 429 recorded in the budget (as the wait trigger does)."""
    SimClock(sandbox).install(monkeypatch).sleep(901)


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
    monkeypatch: pytest.MonkeyPatch,
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
    _sit_out_the_block(sandbox, monkeypatch)
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


def test_resume_after_connecting_does_not_connect_again(
    oktopost_connection_env: OktopostSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
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
    _sit_out_the_block(sandbox, monkeypatch)
    fresh = OktopostConnectIntegrationOperator(
        task_id="c", integration_type="cd", cname_id=CNAME, deferrable=True
    )
    context = ctx()
    assert fresh.resume_after_rate_limit(context, event) == created["Id"]
    assert context["ti"].xcoms["integration"]["id"] == created["Id"]
    assert sandbox.count("POST", LIST) == 1
    assert len(sandbox.integrations) == 1


def test_resume_after_a_rate_limited_connect_does_not_adopt_what_another_tool_connected(
    oktopost_connection_env: OktopostSandbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sandbox = oktopost_connection_env
    sandbox.inject(Fault(kind="status", status=429, method="POST", path=LIST, headers={"Retry-After": "900"}))
    op = OktopostConnectIntegrationOperator(
        task_id="c", integration_type="cd", cname_id=CNAME, deferrable=True
    )
    with pytest.raises(TaskDeferred) as caught:
        op.execute(ctx())
    payload = caught.value.trigger.payload
    assert payload["progress"] == {"looked": True}  # the resumed try lists the server, not a shared listing
    # A 429 is a definite "not done": an integration found after the wait is somebody else's.
    foreign = sandbox.add_integration(type="cd", cname_id=CNAME)
    _sit_out_the_block(sandbox, monkeypatch)
    fresh = OktopostConnectIntegrationOperator(
        task_id="c", integration_type="cd", cname_id=CNAME, deferrable=True
    )
    with pytest.raises(AirflowFailException, match=f"already exists: {foreign['Id']}"):
        fresh.resume_after_rate_limit(ctx(), {"status": "resume", "payload": payload})
    assert [item["Id"] for item in sandbox.integrations] == [foreign["Id"]]

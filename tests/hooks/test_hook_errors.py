"""Errors, retries, backoff and exactly-once creates, against injected sandbox faults (time patched)."""

from __future__ import annotations

import json

import pytest
from support import SimClock

from airflow_provider_oktopost.exceptions import (
    OktopostApiError,
    OktopostAuthError,
    OktopostConfigError,
    OktopostError,
    OktopostNotFoundError,
    OktopostRateLimitError,
    OktopostServerError,
    OktopostTransportError,
)
from airflow_provider_oktopost.hooks.oktopost import OktopostHook
from airflow_provider_oktopost.testing import Fault, OktopostSandbox

LIST = r"/v2/integration"
ONE = r"/v2/integration/.+"


def status(
    code: int,
    times: int | None = 1,
    path: str | None = None,
    method: str | None = None,
    body: str | None = None,
    **headers: str,
) -> Fault:
    return Fault(
        kind="status",
        status=code,
        times=times,
        path=path,
        method=method,
        body=body,
        headers={k.replace("_", "-").title(): v for k, v in headers.items()},
    )


@pytest.mark.parametrize("code", [500, 502, 503, 504])
def test_5xx_is_retried_with_backoff_then_succeeds(
    sandbox: OktopostSandbox, no_sleep: SimClock, code: int
) -> None:
    sandbox.inject(status(code, times=2))
    assert OktopostHook().get_me().account_id == sandbox.account_id
    assert sandbox.count() == 3
    assert len(no_sleep.slept) == 2
    assert 0.5 <= no_sleep.slept[0] <= 1 and 1 <= no_sleep.slept[1] <= 2


def test_5xx_gives_up_after_the_budget(sandbox: OktopostSandbox, no_sleep: SimClock) -> None:
    sandbox.inject(status(503, times=None))
    with pytest.raises(OktopostServerError, match=r"GET /v2/me failed: HTTP 503") as info:
        OktopostHook(max_retries=2).get_me()
    assert info.value.status == 503
    assert sandbox.count() == 3
    assert len(no_sleep.slept) == 2


def test_html_502_message_is_readable(sandbox: OktopostSandbox, no_sleep: SimClock) -> None:
    sandbox.inject(status(502, times=None, body="<html><body><h1>502 Bad Gateway</h1></body></html>"))
    with pytest.raises(OktopostServerError, match="502 Bad Gateway") as info:
        OktopostHook(max_retries=0).get_me()
    assert "<h1>" not in str(info.value)


def test_429_with_retry_after_is_honoured(sandbox: OktopostSandbox, no_sleep: SimClock) -> None:
    sandbox.inject(status(429, times=1, body="", retry_after="7"))
    OktopostHook().get_me()
    assert sandbox.count() == 2
    assert 7 in no_sleep.slept or pytest.approx(7, abs=0.01) == sum(no_sleep.slept)


def test_429_without_hint_raises_with_the_documented_block(
    sandbox: OktopostSandbox, no_sleep: SimClock
) -> None:
    sandbox.inject(status(429, times=None, body=""))
    with pytest.raises(OktopostRateLimitError) as info:
        OktopostHook(max_retries=2).list_integrations()
    assert info.value.retry_after == 900
    # Not retried within seconds: the documented block is 15 minutes, each retry would hit it again.
    assert sandbox.count() == 1
    assert not no_sleep.slept or max(no_sleep.slept) < 60  # never sleeps out the block inside a worker


def test_429_with_a_long_hint_is_raised_at_once(sandbox: OktopostSandbox, no_sleep: SimClock) -> None:
    sandbox.inject(status(429, times=None, body="", retry_after="600"))
    with pytest.raises(OktopostRateLimitError, match="retry after 600s") as info:
        OktopostHook().get_me()
    assert info.value.retry_after == 600
    assert sandbox.count() == 1


def test_the_sandbox_block_is_a_rate_limit_error(sandbox: OktopostSandbox, no_sleep: SimClock) -> None:
    sandbox.configure(rate_limit_per_minute=2, block_seconds=900)
    hook = OktopostHook(max_retries=1)
    hook.get_me()
    hook.get_me()
    with pytest.raises(OktopostRateLimitError):
        hook.get_me()
    assert sandbox.rate_limited_count == 1
    # The block is recorded: the next call is not sent into it.
    with pytest.raises(OktopostRateLimitError, match="not sent"):
        hook.get_me()
    assert sandbox.rate_limited_count == 1


@pytest.mark.parametrize(
    ("fault", "cls", "text"),
    [
        (
            status(400, body=json.dumps({"Result": False, "Errors": {"Param": {"get": "Missing value"}}})),
            OktopostApiError,
            "Missing value",
        ),
        (
            status(409, body=json.dumps({"Result": False, "Errors": ["Conflict here"]})),
            OktopostApiError,
            "Conflict here",
        ),
        (
            status(200, body=json.dumps({"Result": False, "Errors": {"api": {"message": "nope"}}})),
            OktopostApiError,
            "Result false: nope",
        ),
        (
            status(403, body=json.dumps({"Result": False, "Errors": {"api": {"message": "disabled"}}})),
            OktopostAuthError,
            "disabled",
        ),
        (
            status(404, body=json.dumps({"Result": False, "Errors": []})),
            OktopostNotFoundError,
            "no error message",
        ),
        (Fault(kind="redirect", location="https://evil.example.com/v2/me"), OktopostApiError, "redirect"),
    ],
)
def test_permanent_errors_fail_at_once(
    sandbox: OktopostSandbox, no_sleep: SimClock, fault: Fault, cls: type[OktopostError], text: str
) -> None:
    sandbox.inject(fault)
    with pytest.raises(cls, match=text):
        OktopostHook().get_me()
    assert sandbox.count() == 1
    assert no_sleep.slept == []


def test_wrong_key_is_an_auth_error_without_the_key(
    sandbox: OktopostSandbox, monkeypatch: pytest.MonkeyPatch, no_sleep: SimClock
) -> None:
    conn = sandbox.connection_dict() | {"password": "wrong-key-SECRET-123"}
    monkeypatch.setenv("AIRFLOW_CONN_OKTOPOST_DEFAULT", json.dumps(conn))
    with pytest.raises(OktopostAuthError, match="HTTP 401") as info:
        OktopostHook().get_me()
    assert "wrong-key-SECRET-123" not in str(info.value)
    ok, message = OktopostHook().test_connection()
    assert not ok and "401" in message and "wrong-key-SECRET-123" not in message
    assert sandbox.count() == 2


def test_forbidden_key_is_an_auth_error(sandbox: OktopostSandbox, no_sleep: SimClock) -> None:
    sandbox.configure(forbidden_keys=[sandbox.api_key])
    with pytest.raises(OktopostAuthError, match="HTTP 403"):
        OktopostHook().list_integrations()


@pytest.mark.parametrize("kind", ["malformed", "empty", "drop"])
def test_unreadable_or_dropped_reads_are_retried(
    sandbox: OktopostSandbox, no_sleep: SimClock, kind: str
) -> None:
    sandbox.inject(Fault(kind=kind, times=2))  # type: ignore[arg-type]
    assert OktopostHook().get_me().account_id == sandbox.account_id
    assert sandbox.count() == 3


def test_read_timeout_is_retried(sandbox: OktopostSandbox, no_sleep: SimClock) -> None:
    sandbox.inject(Fault(kind="delay", delay_seconds=1.0, method="GET"))
    assert OktopostHook(timeout=0.2).list_integrations().total == 0
    assert len(no_sleep.slept) == 1  # one retry; the slow first request is logged when the server finishes it


def test_connection_refused_is_a_transport_error(
    sandbox: OktopostSandbox, monkeypatch: pytest.MonkeyPatch, no_sleep: SimClock
) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conn = sandbox.connection_dict() | {"host": f"http://127.0.0.1:{port}/v2"}
    monkeypatch.setenv("AIRFLOW_CONN_OKTOPOST_DEFAULT", json.dumps(conn))
    with pytest.raises(OktopostTransportError, match="could not connect") as info:
        OktopostHook(max_retries=2).get_me()
    assert not info.value.outcome_unknown
    assert len(no_sleep.slept) == 2


# ---- exactly-once creates ----------------------------------------------------------------------------------


def test_lost_response_to_connect_creates_exactly_one(sandbox: OktopostSandbox, no_sleep: SimClock) -> None:
    sandbox.inject(Fault(kind="lost_response", method="POST", path=LIST))
    created = OktopostHook().connect_integration("cd", "0CN000000000042")
    assert [i["Id"] for i in sandbox.integrations] == [created.id]
    assert sandbox.count(method="POST") == 1
    assert sandbox.count(method="GET", path_regex=LIST) >= 1


@pytest.mark.parametrize(
    "fault",
    [
        Fault(kind="drop", method="POST", path=LIST),
        Fault(kind="status", status=503, method="POST", path=LIST),
        Fault(kind="malformed", method="POST", path=LIST),
    ],
)
def test_connect_not_committed_is_sent_again_once(
    sandbox: OktopostSandbox, no_sleep: SimClock, fault: Fault
) -> None:
    sandbox.inject(fault)
    created = OktopostHook().connect_integration("cd", "0CN000000000042")
    assert [i["Id"] for i in sandbox.integrations] == [created.id]
    assert sandbox.count(method="POST") == 2


def test_connect_timeout_waits_before_looking(sandbox: OktopostSandbox) -> None:
    """A slow server commits after the client gave up; the client must find it, not create a second."""
    sandbox.inject(Fault(kind="delay", delay_seconds=0.4, method="POST", path=LIST))
    created = OktopostHook(timeout=0.2).connect_integration("cd", "0CN000000000042")
    assert [i["Id"] for i in sandbox.integrations] == [created.id]


def test_connect_refused_by_429_is_resent(sandbox: OktopostSandbox, no_sleep: SimClock) -> None:
    sandbox.inject(status(429, body="", method="POST", path=LIST, retry_after="1"))
    OktopostHook().connect_integration("cd", "0CN000000000042")
    assert len(sandbox.integrations) == 1 and sandbox.count(method="POST") == 2


def test_connect_gives_up_when_the_server_keeps_failing(sandbox: OktopostSandbox, no_sleep: SimClock) -> None:
    sandbox.inject(Fault(kind="status", status=503, method="POST", path=LIST, times=None))
    with pytest.raises(OktopostServerError):
        OktopostHook(max_retries=2).connect_integration("cd", "0CN000000000042")
    assert sandbox.integrations == []
    assert sandbox.count(method="POST") == 3


def test_delete_whose_response_was_lost_is_done(sandbox: OktopostSandbox, no_sleep: SimClock) -> None:
    made = sandbox.add_integration("cd", "0CN000000000042")
    sandbox.inject(Fault(kind="lost_response", method="DELETE"))
    OktopostHook().delete_integration(made["Id"])
    assert sandbox.integrations == []


def test_delete_of_a_missing_integration_is_not_found(sandbox: OktopostSandbox) -> None:
    with pytest.raises(OktopostNotFoundError):
        OktopostHook().delete_integration("014doesnotexist")


# ---- bad input never reaches the network ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda h: h.get_integration(""), "integration_id"),
        (lambda h: h.get_integration("../me"), "integration_id"),
        (lambda h: h.get_integration("014x", with_assets="yes"), "with_assets"),
        (lambda h: h.list_integrations(count=10), "count"),
        (lambda h: h.list_integrations(page=-1), "page"),
        (lambda h: h.list_integrations(type="a b"), "type"),
        (lambda h: h.connect_integration("cd", "0CN/1"), "cname_id"),
        (lambda h: h.connect_integration("", "0CN1"), "type"),
        (lambda h: h.connect_integration("cd", "0CN1", state="active"), "settings key 'state'"),
        (lambda h: h.update_integration("014x"), "at least one change"),
        (lambda h: h.update_integration("014x", state="paused"), "state"),
        (lambda h: h.delete_integration("014x?y=1"), "integration_id"),
        (lambda h: h.find_integrations("cd", ""), "cname_id"),
    ],
)
def test_bad_arguments_fail_before_any_request(sandbox: OktopostSandbox, call, name: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=name):
        call(OktopostHook())
    assert sandbox.count() == 0


@pytest.mark.parametrize(
    ("conn", "field"),
    [
        ({"login": None}, "Account ID"),
        ({"password": None}, "API key"),
        ({"host": None, "extra": {"region": "apac"}}, "region"),
    ],
)
def test_bad_connection_names_the_field(
    sandbox: OktopostSandbox, monkeypatch: pytest.MonkeyPatch, conn: dict[str, object], field: str
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_OKTOPOST_DEFAULT", json.dumps(sandbox.connection_dict() | conn))
    with pytest.raises(OktopostConfigError, match=field):
        OktopostHook().get_me()
    ok, message = OktopostHook().test_connection()
    assert not ok and field in message
    assert sandbox.count() == 0

"""OktopostHook's CNAME and integration-action methods over real HTTP against the sandbox."""

from __future__ import annotations

import base64
import json
import logging

import pytest
from support import SimClock

from airflow_provider_oktopost._core.exactly_once import LOST_CREATE_LOOKS
from airflow_provider_oktopost.exceptions import (
    OktopostActionOutcomeUnknownError,
    OktopostApiError,
    OktopostError,
    OktopostNotFoundError,
)
from airflow_provider_oktopost.hooks.oktopost import OktopostHook
from airflow_provider_oktopost.testing import Fault, OktopostSandbox

CNAMES = r"/v2/cname"
ONE_CNAME = r"/v2/cname/[^/]+"
ACTION = r"/v2/integration-action"


def test_create_get_find_update_delete(sandbox: OktopostSandbox) -> None:
    hook = OktopostHook()
    created = hook.create_cname("Links.Example.com")
    assert created.id.startswith("0CN") and created.name == "links.example.com"
    assert created.account_id == sandbox.account_id and created.created is not None
    assert hook.get_cname(created.id) == created
    assert hook.find_cnames("LINKS.example.com.") == [created]
    assert hook.find_cnames("other.example.com") == []
    updated = hook.update_cname(created.id, "go.example.com")
    assert (updated.id, updated.name) == (created.id, "go.example.com")
    hook.delete_cname(created.id)
    assert sandbox.cnames == []
    with pytest.raises(OktopostNotFoundError):
        hook.get_cname(created.id)
    with pytest.raises(OktopostNotFoundError):
        hook.delete_cname(created.id)


@pytest.mark.parametrize("n", [0, 1, 100, 101, 230])
def test_iter_cnames_reads_every_page(sandbox: OktopostSandbox, n: int) -> None:
    made = {sandbox.add_cname(f"h{i}.example.com")["Id"] for i in range(n)}
    seen = [cname.id for cname in OktopostHook().iter_cnames()]
    assert sorted(seen) == sorted(made)
    pages = [r for r in sandbox.requests if r.path == CNAMES]
    assert [r.query["_count"] for r in pages] == ["100"] * max(1, -(-n // 100))
    page = OktopostHook().list_cnames(page=0, count=25)
    assert page.total == n and len(page.items) == min(n, 25)


def test_a_duplicate_is_a_typed_refusal(sandbox: OktopostSandbox) -> None:
    OktopostHook().create_cname("links.example.com")
    with pytest.raises(OktopostApiError, match="already exists"):
        OktopostHook().create_cname("links.example.com")


@pytest.mark.parametrize("kind", ["lost_response", "drop_after_commit", "status503_after_commit"])
def test_create_is_exactly_once_when_the_response_is_lost(
    sandbox: OktopostSandbox, no_sleep: SimClock, kind: str
) -> None:
    if kind == "lost_response":
        sandbox.inject(Fault(kind="lost_response", method="POST", path=CNAMES))
    elif kind == "drop_after_commit":
        sandbox.inject(Fault(kind="lost_response", method="POST", path=CNAMES, times=1))
        sandbox.inject(Fault(kind="drop", method="GET", path=CNAMES, times=1))
    else:
        sandbox.inject(Fault(kind="lost_response", method="POST", path=CNAMES))
        sandbox.inject(Fault(kind="status", status=503, method="GET", path=CNAMES, times=2))
    cname = OktopostHook().create_cname("links.example.com")
    assert [c["Id"] for c in sandbox.cnames] == [cname.id]
    assert sandbox.count("POST", CNAMES) == 1  # looked, found it, never sent again
    assert no_sleep.slept  # waited before looking


def test_create_is_sent_again_when_it_certainly_did_not_commit(
    sandbox: OktopostSandbox, no_sleep: SimClock
) -> None:
    # A 503 from a proxy in front of the API: not processed; the looks find nothing, so it is sent again.
    sandbox.inject(Fault(kind="status", status=503, method="POST", path=CNAMES))
    cname = OktopostHook().create_cname("links.example.com")
    assert [c["Id"] for c in sandbox.cnames] == [cname.id]
    assert sandbox.count("POST", CNAMES) == 2
    assert sandbox.count("GET", CNAMES) == LOST_CREATE_LOOKS


def test_delete_whose_answer_was_lost_counts_as_done(sandbox: OktopostSandbox, no_sleep: SimClock) -> None:
    cname = sandbox.add_cname("links.example.com")
    sandbox.inject(Fault(kind="lost_response", method="DELETE", path=ONE_CNAME))
    OktopostHook().delete_cname(cname["Id"])
    assert sandbox.cnames == []
    assert sandbox.count("DELETE", ONE_CNAME) == 2


def test_cname_users(sandbox: OktopostSandbox) -> None:
    cname = sandbox.add_cname("links.example.com")
    first = sandbox.add_integration("cd", cname["Id"])
    second = sandbox.add_integration("ga", cname["Id"])
    sandbox.add_integration("cd", "0CN000000000009")
    users = OktopostHook().cname_users(cname["Id"])
    assert sorted(i.id for i in users) == sorted([first["Id"], second["Id"]])


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda h: h.create_cname("https://links.example.com"), "host_name"),
        (lambda h: h.find_cnames("links.example.com:80"), "host_name"),
        (lambda h: h.update_cname("0CN000000000001", "x"), "host_name"),
        (lambda h: h.get_cname("0CN/../me"), "cname_id"),
        (lambda h: h.delete_cname(""), "cname_id"),
        (lambda h: h.cname_users("a b"), "cname_id"),
        (lambda h: h.run_action("014000000000001", "getByEmail", {}), "action_name"),
        (lambda h: h.run_action("014000000000001", "lead.search", "[]"), "payload"),
    ],
)
def test_bad_arguments_fail_before_any_request(sandbox: OktopostSandbox, call: object, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        call(OktopostHook())  # type: ignore[operator]
    assert sandbox.count() == 0


def test_read_action_returns_a_typed_result(sandbox: OktopostSandbox) -> None:
    integration = sandbox.add_integration("salesforce", "0CN000000000001")
    result = OktopostHook().run_action(integration["Id"], "contact.getByEmail", {"email": "jane@example.com"})
    assert result.data["Email"] == "jane@example.com"
    assert result.summary()["records"] == 1 and "jane" not in repr(result)
    (sent,) = [r for r in sandbox.requests if r.path == ACTION]
    assert json.loads(sent.form["payload"]) == {"email": "jane@example.com"}
    search = OktopostHook().run_action(integration["Id"], "lead.search", '{"query": "acme"}')
    assert search.summary()["records"] == search.data["Total"] >= 1


def test_action_refused_for_an_integration_that_is_not_ready(sandbox: OktopostSandbox) -> None:
    integration = sandbox.add_integration("salesforce", "0CN000000000001", state="disabled")
    with pytest.raises(OktopostApiError, match="valid status and be enabled"):
        OktopostHook().run_action(integration["Id"], "contact.getByEmail", {"email": "a@example.com"})
    assert sandbox.count("POST", ACTION) == 1  # a refusal is permanent: not retried


def test_read_action_is_sent_again_after_an_unknown_outcome(
    sandbox: OktopostSandbox, no_sleep: SimClock
) -> None:
    integration = sandbox.add_integration("marketo", "0CN000000000001")
    sandbox.inject(Fault(kind="lost_response", method="POST", path=ACTION))
    result = OktopostHook().run_action(integration["Id"], "lead.getByEmail", {"email": "a@example.com"})
    assert result.data["Email"] == "a@example.com"
    assert sandbox.count("POST", ACTION) == 2


@pytest.mark.parametrize("kind", ["lost_response", "status500"])
def test_write_action_is_not_sent_again_after_an_unknown_outcome(
    sandbox: OktopostSandbox, no_sleep: SimClock, kind: str
) -> None:
    integration = sandbox.add_integration("marketo", "0CN000000000001")
    fault = (
        Fault(kind="lost_response", method="POST", path=ACTION)
        if kind == "lost_response"
        else Fault(kind="status", status=500, method="POST", path=ACTION)
    )
    sandbox.inject(fault)
    with pytest.raises(OktopostActionOutcomeUnknownError, match=r"lead\.create.*not sent again"):
        OktopostHook().run_action(integration["Id"], "lead.create", {"email": "new@example.com"})
    assert sandbox.count("POST", ACTION) == 1


def test_write_action_declared_safe_is_sent_again(sandbox: OktopostSandbox, no_sleep: SimClock) -> None:
    integration = sandbox.add_integration("marketo", "0CN000000000001")
    sandbox.inject(Fault(kind="lost_response", method="POST", path=ACTION))
    OktopostHook().run_action(
        integration["Id"], "lead.create", {"email": "n@example.com"}, safe_to_resend=True
    )
    assert sandbox.count("POST", ACTION) == 2


def test_read_action_declared_unsafe_is_not_sent_again(sandbox: OktopostSandbox, no_sleep: SimClock) -> None:
    integration = sandbox.add_integration("marketo", "0CN000000000001")
    sandbox.inject(Fault(kind="drop", method="POST", path=ACTION))
    with pytest.raises(OktopostActionOutcomeUnknownError):
        OktopostHook().run_action(integration["Id"], "lead.search", {"query": "x"}, safe_to_resend=False)
    assert sandbox.count("POST", ACTION) == 1


KEY = "kEy-CNAME-DISTINCTIVE-77"


def test_key_never_in_errors_or_logs(
    sandbox: OktopostSandbox,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    no_sleep: SimClock,
) -> None:
    caplog.set_level(logging.DEBUG)
    sandbox.add_account("001keyed0000001", KEY)
    conn = sandbox.connection_dict() | {"login": "001keyed0000001", "password": KEY}
    conn["extra"] = {"rate_limit_per_minute": 100_000}
    monkeypatch.setenv("AIRFLOW_CONN_OKTOPOST_DEFAULT", json.dumps(conn))
    echo = json.dumps({"Result": False, "Errors": [f"bad key {KEY}"]})
    sandbox.inject(
        Fault(kind="status", status=400, method="POST", path=CNAMES, body=echo),
        Fault(kind="lost_response", method="POST", path=CNAMES),
        Fault(kind="status", status=400, method="POST", path=ACTION, body=echo),
    )
    hook = OktopostHook()
    messages = []
    with pytest.raises(OktopostError) as first:
        hook.create_cname("links.example.com")
    messages.append(str(first.value))
    hook.create_cname("links.example.com")
    integration = sandbox.add_integration("hubspot", "0CN000000000001", account_id="001keyed0000001")
    with pytest.raises(OktopostError) as second:
        hook.run_action(integration["Id"], "contact.getByEmail", {"email": "a@example.com"})
    messages.append(str(second.value))
    token = base64.b64encode(f"001keyed0000001:{KEY}".encode()).decode()
    text = "\n".join(messages) + caplog.text
    assert "bad key ***" in messages[0]
    assert KEY not in text and token not in text

"""Issue 19: when the core tells a try's evidence that a write may leave, and how it was answered.

The hook runs against the sandbox over HTTP with a ``Witness`` that writes down what it is told (the same
protocol the operators' :class:`~airflow_provider_oktopost.operators._evidence.TryEvidence` implements).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from operator_support import CNAME, LIST

from airflow_provider_oktopost._core.wire import ApiRequest
from airflow_provider_oktopost.exceptions import OktopostBudgetWaitError, OktopostNotFoundError
from airflow_provider_oktopost.hooks.oktopost import OktopostHook
from airflow_provider_oktopost.testing import Fault, OktopostSandbox


class Notes:
    """A witness that keeps what it was told, in order."""

    def __init__(self, sandbox: OktopostSandbox) -> None:
        self.sandbox = sandbox
        self.told: list[tuple[str, str, Any]] = []

    def sending(self, request: ApiRequest) -> None:
        # "Right before it leaves": the sandbox has not seen it yet.
        self.told.append(("sending", request.method, self.sandbox.count(request.method)))

    def answered(self, request: ApiRequest, *, definite: bool) -> None:
        self.told.append(("answered", request.method, definite))


def test_told_right_before_each_attempt_and_whether_its_answer_was_definite(
    oktopost_connection_env: OktopostSandbox, no_backoff: list[float]
) -> None:
    sandbox = oktopost_connection_env
    target = sandbox.add_integration(type="cd", cname_id=CNAME)
    sandbox.inject(Fault(kind="status", status=503, method="DELETE"))
    notes = Notes(sandbox)
    hook = OktopostHook()
    with hook.witnessed_by(notes):
        hook.delete_integration(target["Id"])
    assert notes.told == [
        ("sending", "DELETE", 0),
        ("answered", "DELETE", False),  # a 5xx may hide a success
        ("sending", "DELETE", 1),
        ("answered", "DELETE", True),
    ]
    with hook.witnessed_by(notes), pytest.raises(OktopostNotFoundError):
        hook.delete_integration(target["Id"])
    assert notes.told[-1] == ("answered", "DELETE", True)  # a 404 is definite
    hook.get_me()  # outside the block: nobody is told
    assert len(notes.told) == 6


def test_not_told_when_the_budget_holds_the_request(
    oktopost_connection_env: OktopostSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = oktopost_connection_env
    conn = dict(
        sandbox.connection_dict(),
        extra=json.dumps({"budget_store": "memory", "rate_limit_per_minute": 1, "budget_max_wait": 1}),
    )
    monkeypatch.setenv("AIRFLOW_CONN_OKTOPOST_DEFAULT", json.dumps(conn))
    notes = Notes(sandbox)
    hook = OktopostHook()
    with hook.witnessed_by(notes):
        hook.find_integrations("cd", CNAME)  # the minute's only call
        with pytest.raises(OktopostBudgetWaitError):
            hook.connect_integration("cd", CNAME)
    assert notes.told == [("sending", "GET", 0), ("answered", "GET", True)]
    assert sandbox.count("POST", LIST) == 0

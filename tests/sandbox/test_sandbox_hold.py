"""The sandbox holds an integration's validation until the test says so (``hold_validation`` /
``release_validation``), in-process and over the control routes with ``SandboxClient``."""

from __future__ import annotations

import requests

from airflow_provider_oktopost.testing import OktopostSandbox, SandboxClient


def _create(api: requests.Session, sandbox: OktopostSandbox, cname_id: str) -> str:
    reply = api.post(f"{sandbox.base_url}/integration", data={"type": "cd", "cnameId": cname_id}, timeout=5)
    reply.raise_for_status()
    return str(reply.json()["Integration"]["Id"])


def _status(api: requests.Session, sandbox: OktopostSandbox, integration_id: str) -> str:
    reply = api.get(f"{sandbox.base_url}/integration/{integration_id}", timeout=5)
    reply.raise_for_status()
    return str(reply.json()["Integration"]["Status"])


def test_held_integrations_stay_invalid_until_released_by_cname(
    sandbox: OktopostSandbox, api: requests.Session
) -> None:
    sandbox.configure(validation_delay=0)
    before = _create(api, sandbox, "0CNhold00000000")  # created before the hold: validates as usual
    with SandboxClient(sandbox.url) as control:
        control.hold_validation()
        first = _create(api, sandbox, "0CNhold00000001")
        second = _create(api, sandbox, "0CNhold00000002")
        sandbox.advance(86_400)  # no timer releases them
        assert [_status(api, sandbox, i) for i in (before, first, second)] == ["valid", "invalid", "invalid"]

        assert control.release_validation("0CNhold00000001") == [first]
        assert [_status(api, sandbox, i) for i in (first, second)] == ["valid", "invalid"]
        assert control.release_validation("0CNhold00000001") == []  # released once

        control.hold_validation(False)
        third = _create(api, sandbox, "0CNhold00000003")  # no longer held
        assert _status(api, sandbox, third) == "valid"
        assert _status(api, sandbox, second) == "invalid"  # still held
        assert control.release_validation() == [second]
        assert _status(api, sandbox, second) == "valid"


def test_reset_forgets_the_hold(sandbox: OktopostSandbox, api: requests.Session) -> None:
    sandbox.configure(validation_delay=0)
    sandbox.hold_validation()
    assert _status(api, sandbox, _create(api, sandbox, "0CNhold00000004")) == "invalid"
    sandbox.reset()
    assert _status(api, sandbox, _create(api, sandbox, "0CNhold00000005")) == "valid"
    assert sandbox.release_validation() == []

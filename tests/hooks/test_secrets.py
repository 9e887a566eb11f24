"""The API key never reaches a log line (DEBUG included, urllib3 and httpx too), an error, or a repr."""

from __future__ import annotations

import base64
import json
import logging

import pytest
from support import SimClock

from airflow_provider_oktopost.exceptions import OktopostError
from airflow_provider_oktopost.hooks.oktopost import OktopostHook
from airflow_provider_oktopost.hooks.oktopost_async import OktopostAsyncClient
from airflow_provider_oktopost.testing import Fault, OktopostSandbox

KEY = "kEy-Zq81-DISTINCTIVE-5x"


@pytest.fixture
def keyed(sandbox: OktopostSandbox, monkeypatch: pytest.MonkeyPatch) -> OktopostSandbox:
    sandbox.add_account("001keyed0000001", KEY)
    conn = sandbox.connection_dict() | {"login": "001keyed0000001", "password": KEY}
    conn["extra"] = {"rate_limit_per_minute": 100_000}
    monkeypatch.setenv("AIRFLOW_CONN_OKTOPOST_DEFAULT", json.dumps(conn))
    return sandbox


def forbidden(text: str) -> list[str]:
    token = base64.b64encode(f"001keyed0000001:{KEY}".encode()).decode()
    return [s for s in (KEY, token) if s in text]


async def test_key_absent_everywhere(
    keyed: OktopostSandbox,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    no_sleep: SimClock,
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("urllib3", "httpx", "httpcore", "airflow_provider_oktopost"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    hook = OktopostHook()
    errors: list[str] = []
    hook.get_me()
    made = hook.connect_integration("cd", "0CN000000000001", secretish="value")
    keyed.inject(Fault(kind="status", status=503, times=2), Fault(kind="lost_response", method="POST"))
    hook.get_integration(made.id)
    hook.connect_integration("cd", "0CN000000000002")
    keyed.inject(
        Fault(kind="status", status=401, body=json.dumps({"Result": False, "Errors": [f"bad key {KEY}"]}))
    )
    with pytest.raises(OktopostError) as info:
        hook.get_me()
    errors += [str(info.value), repr(info.value), repr(hook), repr(hook.config)]
    async with await OktopostAsyncClient.from_conn_id() as client:
        await client.get_me()
        keyed.inject(Fault(kind="status", status=404))
        with pytest.raises(OktopostError) as info2:
            await client.get_integration(made.id)
        errors += [str(info2.value), repr(client.config)]
    out, err = capfd.readouterr()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "GET /v2/me" in logged or "/v2/me" in out + err  # the logs were really captured
    assert forbidden(logged) == []
    assert forbidden(out + err) == []
    assert forbidden("\n".join(errors)) == []
    assert "***" in str(info.value)  # the echoed key was scrubbed from the server's message
    assert all(KEY not in json.dumps(r.to_dict()) for r in keyed.requests)

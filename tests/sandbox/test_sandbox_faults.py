"""Faults, chaos and the rate limiter, as ``requests`` and ``httpx`` clients experience them.

What a client sees for a dropped connection (asserted below, so the provider can rely on it):
``requests`` raises ``requests.exceptions.ConnectionError`` (``RemoteDisconnected``) and ``httpx``
raises ``httpx.RemoteProtocolError`` ("Server disconnected without sending a response"), for ``drop``
and for ``lost_response`` alike; only the sandbox's state tells them apart.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

import httpx
import pytest
import requests

from airflow_provider_oktopost.testing import DEFAULT_ACCOUNT_ID, DEFAULT_API_KEY, Fault, OktopostSandbox
from airflow_provider_oktopost.testing._app import create_app
from airflow_provider_oktopost.testing._gate import SandboxConnectionDropped
from airflow_provider_oktopost.testing.state import SandboxState

AUTH = (DEFAULT_ACCOUNT_ID, DEFAULT_API_KEY)
FORM = {"type": "cd", "cnameId": "0CN000000000001"}


def _wait_for(predicate: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def _api_error(message: str) -> dict[str, object]:
    return {"Result": False, "Errors": {"API": {"Error": message}}}


@pytest.mark.parametrize(
    ("fault", "content_type", "body"),
    [
        (Fault("status", status=500), "application/json", _api_error("Internal Server Error")),
        (Fault("status", status=502, body="<html>Bad Gateway</html>"), "text/html; charset=utf-8", None),
        (
            Fault("status", status=503, headers={"Retry-After": "2"}),
            "application/json",
            _api_error("Service Unavailable"),
        ),
        (Fault("status", status=504), "application/json", _api_error("Gateway Timeout")),
        (Fault("status", status=401), "application/json", _api_error("Invalid credentials")),
        (Fault("status", status=429), None, None),
    ],
    ids=["500", "502-html", "503-retry-after", "504", "401", "429-empty"],
)
def test_status_fault_answers_without_processing(
    sandbox: OktopostSandbox, api: requests.Session, fault: Fault, content_type: str | None, body: object
) -> None:
    sandbox.inject(fault)
    response = api.post(f"{sandbox.base_url}/integration", data=FORM)
    assert response.status_code == fault.status
    assert response.headers.get("content-type") == content_type
    if body is not None:
        assert response.json() == body
    elif content_type is None:
        assert response.content == b""
    else:
        assert response.text == fault.body
    for name, value in fault.headers.items():
        assert response.headers[name] == value
    if fault.status != 503:
        assert "Retry-After" not in response.headers
    assert sandbox.integrations == []
    (entry,) = sandbox.requests
    assert (entry.status, entry.fault, entry.chaos) == (fault.status, "status", False)
    assert sandbox.rate_limited_count == 0


def test_faults_match_method_and_path_in_fifo_order(sandbox: OktopostSandbox, api: requests.Session) -> None:
    sandbox.inject(
        Fault("status", status=500, method="post", path=r"/v2/integration"),
        Fault("status", status=503, path=r"/v2/integration/.*", times=2),
        Fault("status", status=502),
    )
    one = f"{sandbox.base_url}/integration/014000000000001"
    assert api.get(f"{sandbox.base_url}/me").status_code == 502  # only the catch-all matches
    assert api.get(one).status_code == 503
    assert [(f.status, f.times) for f in sandbox.pending_faults] == [(500, 1), (503, 1)]
    assert api.post(f"{sandbox.base_url}/integration", data=FORM).status_code == 500
    assert api.get(one).status_code == 503
    assert sandbox.pending_faults == []
    assert api.get(one).status_code == 404
    assert api.post(f"{sandbox.base_url}/integration", data=FORM).status_code == 200


def test_unlimited_fault_lasts_until_cleared(sandbox: OktopostSandbox, api: requests.Session) -> None:
    sandbox.inject(Fault("status", status=503, times=None))
    assert [api.get(f"{sandbox.base_url}/me").status_code for _ in range(3)] == [503, 503, 503]
    sandbox.clear_faults()
    assert api.get(f"{sandbox.base_url}/me").status_code == 200


def test_faults_come_before_auth_and_rate_limit(sandbox: OktopostSandbox) -> None:
    sandbox.configure(rate_limit_per_minute=1)
    sandbox.inject(Fault("status", status=503, times=3))
    statuses = [
        requests.get(f"{sandbox.base_url}/me", auth=auth).status_code for auth in (("a", "b"), AUTH, AUTH)
    ]
    assert statuses == [503, 503, 503]
    assert requests.get(f"{sandbox.base_url}/me", auth=("a", "b")).status_code == 401
    assert requests.get(f"{sandbox.base_url}/me", auth=AUTH).status_code == 200  # the 503s were not counted
    assert requests.get(f"{sandbox.base_url}/me", auth=AUTH).status_code == 429


def test_malformed_and_empty_bodies(sandbox: OktopostSandbox, api: requests.Session) -> None:
    url = f"{sandbox.base_url}/integration"
    sandbox.inject(Fault("malformed"), Fault("malformed"), Fault("empty"), Fault("empty"))
    response = api.get(url)
    assert (response.status_code, response.text) == (200, '{"Result": tru')
    with pytest.raises(requests.exceptions.JSONDecodeError):
        response.json()
    with pytest.raises(json.JSONDecodeError):
        httpx.get(url, auth=AUTH).json()
    response = api.get(url)
    assert (response.status_code, response.content) == (200, b"")
    with pytest.raises(requests.exceptions.JSONDecodeError):
        response.json()
    assert httpx.get(url, auth=AUTH).content == b""
    assert [e.fault for e in sandbox.requests] == ["malformed", "malformed", "empty", "empty"]


def test_redirect(sandbox: OktopostSandbox, api: requests.Session) -> None:
    target = f"{sandbox.base_url}/me"
    sandbox.inject(Fault("redirect", path=r"/v2/integration", location=target, times=2))
    followed = api.get(f"{sandbox.base_url}/integration")  # requests follows redirects by default
    assert followed.status_code == 200
    assert followed.json()["Account"]["Id"] == DEFAULT_ACCOUNT_ID
    assert [r.status_code for r in followed.history] == [302]
    raw = httpx.get(f"{sandbox.base_url}/integration", auth=AUTH)  # httpx does not, by default
    assert (raw.status_code, raw.headers["location"]) == (302, target)
    assert [(e.path, e.status) for e in sandbox.requests] == [
        ("/v2/integration", 302),
        ("/v2/me", 200),
        ("/v2/integration", 302),
    ]


def test_drop_is_not_processed(
    sandbox: OktopostSandbox, api: requests.Session, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    assert api.get(f"{sandbox.base_url}/me").status_code == 200  # keep-alive connection now open
    sandbox.inject(Fault("drop", method="POST"))
    with pytest.raises(requests.exceptions.ConnectionError):
        api.post(f"{sandbox.base_url}/integration", data=FORM)
    sandbox.inject(Fault("drop", method="POST"))
    with httpx.Client(auth=AUTH) as client, pytest.raises(httpx.RemoteProtocolError):
        client.post(f"{sandbox.base_url}/integration", data=FORM)
    assert sandbox.integrations == []
    assert [(e.status, e.fault) for e in sandbox.requests[1:]] == [(None, "drop"), (None, "drop")]
    assert api.get(f"{sandbox.base_url}/me").status_code == 200  # the session recovers
    assert caplog.records == []  # a deliberate drop is not a server error: nothing is logged


def test_lost_response_is_committed(sandbox: OktopostSandbox, api: requests.Session) -> None:
    assert api.get(f"{sandbox.base_url}/me").status_code == 200
    sandbox.inject(Fault("lost_response", method="POST"))
    with pytest.raises(requests.exceptions.ConnectionError):
        api.post(f"{sandbox.base_url}/integration", data=FORM)
    assert len(sandbox.integrations) == 1  # created exactly once, although the client saw an error
    record = sandbox.integrations[0]
    sandbox.inject(Fault("lost_response", method="DELETE"))
    with httpx.Client(auth=AUTH) as client, pytest.raises(httpx.RemoteProtocolError):
        client.delete(f"{sandbox.base_url}/integration/{record['Id']}")
    assert sandbox.integrations == []
    assert [(e.method, e.status, e.fault) for e in sandbox.requests[1:]] == [
        ("POST", None, "lost_response"),
        ("DELETE", None, "lost_response"),
    ]


async def test_async_httpx_sees_the_same_errors(sandbox: OktopostSandbox) -> None:
    async with httpx.AsyncClient(base_url=sandbox.base_url, auth=AUTH) as client:
        assert (await client.get("/me")).status_code == 200
        sandbox.inject(Fault("drop"), Fault("lost_response"))
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get("/me")
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post("/integration", data=FORM)
        assert len(sandbox.integrations) == 1
        assert (await client.get("/integration")).json()["Total"] == 1


async def test_drop_without_uvicorn_falls_back_to_a_truncated_response() -> None:
    state = SandboxState()
    state.inject(Fault("drop"))
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox", auth=AUTH) as client:
        with pytest.raises(SandboxConnectionDropped):
            await client.get("/v2/me")
        assert (await client.get("/v2/me")).status_code == 200


def test_delay_causes_client_read_timeouts_but_is_processed(
    sandbox: OktopostSandbox, api: requests.Session
) -> None:
    sandbox.inject(Fault("delay", method="POST", delay_seconds=0.5), Fault("delay", delay_seconds=0.5))
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        api.post(f"{sandbox.base_url}/integration", data=FORM, timeout=0.15)
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{sandbox.base_url}/me", auth=AUTH, timeout=0.15)
    _wait_for(lambda: sandbox.count() == 2)
    assert time.monotonic() - started >= 0.5
    assert [(e.method, e.status, e.fault) for e in sandbox.requests] == [
        ("POST", 200, "delay"),
        ("GET", 200, "delay"),
    ]
    assert len(sandbox.integrations) == 1  # the server finished the work the client gave up on


def test_reset_cuts_a_delayed_request_short(sandbox: OktopostSandbox, api: requests.Session) -> None:
    sandbox.inject(Fault("delay", method="POST", delay_seconds=30))
    with pytest.raises(requests.exceptions.ReadTimeout):
        api.post(f"{sandbox.base_url}/integration", data=FORM, timeout=0.15)
    sandbox.reset()
    time.sleep(0.2)
    assert sandbox.integrations == []
    assert sandbox.requests == []


def _chaos_run(sandbox: OktopostSandbox, seed: int) -> list[tuple[str, str | None]]:
    sandbox.reset()
    sandbox.set_chaos(0.5, seed=seed)
    seen: list[str] = []
    with requests.Session() as session:
        session.auth = AUTH
        for _ in range(40):
            try:
                response = session.get(f"{sandbox.base_url}/me", timeout=5)
            except requests.exceptions.ConnectionError:
                seen.append("no response")
            else:
                retry_after = response.headers.get("Retry-After")
                seen.append(
                    f"{response.status_code}" + (f" retry-after {retry_after}" if retry_after else "")
                )
    log = sandbox.requests
    assert [e.chaos for e in log] == [e.fault is not None for e in log]
    return list(zip(seen, [e.fault for e in log], strict=True))


def test_chaos_is_deterministic_for_a_seed(sandbox: OktopostSandbox, api: requests.Session) -> None:
    first = _chaos_run(sandbox, 1234)
    assert _chaos_run(sandbox, 1234) == first
    assert _chaos_run(sandbox, 4321) != first
    outcomes = {seen for seen, _ in first}
    assert "200" in outcomes
    assert len(outcomes) >= 4, outcomes
    assert outcomes <= {"200", "500", "502", "503", "504", "429 retry-after 1", "no response"}
    assert 10 <= sum(seen != "200" for seen, _ in first) <= 30
    assert sandbox.rate_limited_count == 0  # a chaos 429 is not the rate limiter and starts no block
    sandbox.set_chaos(0)
    assert all(api.get(f"{sandbox.base_url}/me").status_code == 200 for _ in range(5))


def test_chaos_kinds_can_be_chosen(sandbox: OktopostSandbox, api: requests.Session) -> None:
    sandbox.set_chaos(1.0, seed=7, kinds=["status429_short"])
    response = api.get(f"{sandbox.base_url}/me")
    assert (response.status_code, response.headers["Retry-After"], response.content) == (429, "1", b"")
    sandbox.set_chaos(1.0, kinds=["lost_response"])
    with pytest.raises(requests.exceptions.ConnectionError):
        api.post(f"{sandbox.base_url}/integration", data=FORM)
    assert len(sandbox.integrations) == 1
    with pytest.raises(ValueError, match="unknown chaos kind"):
        sandbox.set_chaos(0.5, kinds=["status418"])
    with pytest.raises(ValueError, match="between 0 and 1"):
        sandbox.set_chaos(1.5)


def test_rate_limit_blocks_for_block_seconds(sandbox: OktopostSandbox, api: requests.Session) -> None:
    sandbox.add_account("001second000001", "second-key")
    me = f"{sandbox.base_url}/me"
    assert all(api.get(me).status_code == 200 for _ in range(60))
    limited = api.get(me)
    assert limited.status_code == 429
    assert limited.content == b""
    assert "Retry-After" not in limited.headers
    assert httpx.get(me, auth=AUTH).status_code == 429
    assert requests.get(me, auth=("001second000001", "second-key")).status_code == 200  # limits are per key
    sandbox.advance(61)  # the window has passed, the 15-minute block has not
    assert api.get(me).status_code == 429
    sandbox.advance(900 - 61 - 1)
    assert api.get(me).status_code == 429
    sandbox.advance(2)
    assert api.get(me).status_code == 200
    assert sandbox.rate_limited_count == 4
    assert [e.status for e in sandbox.requests].count(429) == 4


def test_rate_limit_window_slides(sandbox: OktopostSandbox, api: requests.Session) -> None:
    sandbox.configure(rate_limit_per_minute=5, block_seconds=10)
    me = f"{sandbox.base_url}/me"
    assert [api.get(me).status_code for _ in range(3)] == [200, 200, 200]
    sandbox.advance(40)
    assert [api.get(me).status_code for _ in range(3)] == [200, 200, 429]
    sandbox.advance(21)  # block over, and the first three calls left the window
    assert [api.get(me).status_code for _ in range(4)] == [200, 200, 200, 429]


def test_rate_limit_counts_only_authenticated_calls_and_can_be_disabled(
    sandbox: OktopostSandbox, api: requests.Session
) -> None:
    sandbox.configure(rate_limit_per_minute=2)
    me = f"{sandbox.base_url}/me"
    assert {requests.get(me, auth=("x", "y")).status_code for _ in range(5)} == {401}
    assert [api.get(me).status_code for _ in range(3)] == [200, 200, 429]
    sandbox.reset()
    sandbox.configure(rate_limit_per_minute=None)
    assert {api.get(me).status_code for _ in range(70)} == {200}
    assert sandbox.rate_limited_count == 0


def test_fault_validation_and_round_trip() -> None:
    fault = Fault(
        "status", method="get", path=r"/v2/.*", times=None, status=503, headers={"Retry-After": "3"}
    )
    assert fault.method == "GET"
    assert Fault.from_dict(fault.to_dict()) == fault
    for kwargs in (
        {"kind": "bogus"},
        {"kind": "status"},
        {"kind": "status", "status": 42},
        {"kind": "delay"},
        {"kind": "redirect"},
        {"kind": "drop", "path": "("},
        {"kind": "drop", "times": 0},
    ):
        with pytest.raises(ValueError):
            Fault(**kwargs)
    with pytest.raises(ValueError, match="unknown Fault field"):
        Fault.from_dict({"kind": "drop", "probability": 0.5})

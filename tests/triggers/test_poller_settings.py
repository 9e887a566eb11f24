"""Issue 19: a poller is shared only by triggers whose request settings are the same.

Before, the first trigger of an account built the poller and its timeout, retries, proxy and TLS setting
were used for every trigger that joined. Now triggers whose settings differ get pollers of their own
(they still share the account's call budget). Real triggers against the sandbox; time is simulated.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from support import SimClock

from airflow_provider_oktopost.testing import OktopostSandbox
from airflow_provider_oktopost.triggers import _poller as poller_mod
from airflow_provider_oktopost.triggers.oktopost import OktopostIntegrationTrigger


@pytest.fixture
def fake(oktopost_connection_env: OktopostSandbox, monkeypatch: pytest.MonkeyPatch) -> SimClock:
    return SimClock(oktopost_connection_env, start=1_800_000_000.0).install(monkeypatch)


async def _pollers_used(*triggers: OktopostIntegrationTrigger) -> tuple[list[dict[str, Any]], list[Any]]:
    """Run the triggers to their event; returns the events and the configs of every poller seen."""
    seen: dict[int, Any] = {}
    finished = asyncio.Event()

    async def observe() -> None:
        while not finished.is_set():
            seen.update({id(p): p.config for p in poller_mod.active_pollers()})
            await asyncio.sleep(0)

    async def one(t: OktopostIntegrationTrigger) -> dict[str, Any]:
        [event] = [e.payload async for e in t.run()]
        return dict(event)

    observer = asyncio.ensure_future(observe())
    events = await asyncio.gather(*(one(t) for t in triggers))
    finished.set()
    await observer
    assert poller_mod.active_pollers() == []
    return list(events), list(seen.values())


def _trigger(sandbox: OktopostSandbox, fake: SimClock, **kwargs: Any) -> OktopostIntegrationTrigger:
    integration = sandbox.add_integration(status="valid")["Id"]
    return OktopostIntegrationTrigger(integration, poll_interval=60, end_time=fake.now + 3600, **kwargs)


async def test_triggers_with_other_request_settings_get_pollers_of_their_own(
    oktopost_connection_env: OktopostSandbox, fake: SimClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = oktopost_connection_env
    unverified = dict(sandbox.connection_dict(), extra=json.dumps({"verify": False}))
    monkeypatch.setenv("AIRFLOW_CONN_OKTOPOST_UNVERIFIED", json.dumps(unverified))
    events, configs = await _pollers_used(
        _trigger(sandbox, fake, hook_params={"timeout": 5, "max_retries": 1}),
        _trigger(sandbox, fake, hook_params={"timeout": 20}),
        _trigger(sandbox, fake, oktopost_conn_id="oktopost_unverified"),
    )
    assert [e["status"] for e in events] == ["success"] * 3
    # Three pollers, each sending with its own trigger's settings (defaults: 30 s, 3 retries, verify).
    assert sorted((c.timeout, c.retry.max_retries, c.verify) for c in configs) == [
        (5.0, 1, True),
        (20.0, 3, True),
        (30.0, 3, False),
    ]


async def test_triggers_with_the_same_settings_share_one_poller(
    oktopost_connection_env: OktopostSandbox, fake: SimClock
) -> None:
    sandbox = oktopost_connection_env
    events, configs = await _pollers_used(
        *(_trigger(sandbox, fake, hook_params={"timeout": 7}) for _ in range(3))
    )
    assert [e["status"] for e in events] == ["success"] * 3
    assert [c.timeout for c in configs] == [7.0]

"""OktopostAsyncClient (httpx) runs the same core operations as the hook, over real HTTP."""

from __future__ import annotations

import pytest
from support import SimClock

from airflow_provider_oktopost.exceptions import (
    OktopostAuthError,
    OktopostNotFoundError,
    OktopostRateLimitError,
    OktopostServerError,
)
from airflow_provider_oktopost.hooks.oktopost_async import OktopostAsyncClient, aget_client_config
from airflow_provider_oktopost.testing import Fault, OktopostSandbox


async def test_connection_lookup_does_not_block(sandbox: OktopostSandbox) -> None:
    config = await aget_client_config("oktopost_default")
    assert config.base_url == sandbox.base_url and config.account_id == sandbox.account_id


async def test_reads(sandbox: OktopostSandbox) -> None:
    made = [sandbox.add_integration("cd", f"0CN{i:012d}")["Id"] for i in range(101)]
    async with await OktopostAsyncClient.from_conn_id() as client:
        assert (await client.get_me()).account_id == sandbox.account_id
        page = await client.list_integrations(page=4, count=25)
        assert page.total == 101 and len(page.items) == 1
        assert [item.id async for item in client.iter_integrations()] == made
        one = await client.get_integration(made[0], with_assets=True)
        assert one.is_ready and one.assets is not None
        assert [i.id for i in await client.find_integrations("cd", "0CN000000000005")] == [made[5]]
        with pytest.raises(OktopostNotFoundError):
            await client.get_integration("014missing00000")


async def test_retries_are_awaited_not_slept(sandbox: OktopostSandbox, no_sleep: SimClock) -> None:
    sandbox.inject(Fault(kind="status", status=503, times=2), Fault(kind="drop"))
    async with await OktopostAsyncClient.from_conn_id() as client:
        assert (await client.get_me()).account_id == sandbox.account_id
    assert sandbox.count() == 4 and len(no_sleep.slept) == 3


async def test_same_errors_as_the_hook(sandbox: OktopostSandbox, no_sleep: SimClock) -> None:
    async with await OktopostAsyncClient.from_conn_id() as client:
        sandbox.inject(Fault(kind="status", status=503, times=None))
        with pytest.raises(OktopostServerError, match="HTTP 503"):
            await client.get_me()
        sandbox.clear_faults()
        sandbox.inject(Fault(kind="status", status=429, body="", times=None))
        with pytest.raises(OktopostRateLimitError) as info:
            await client.get_me()
        assert info.value.retry_after == 900
        sandbox.clear_faults()
        # The 429 blocked the account for every process; the next call is not even sent.
        with pytest.raises(OktopostRateLimitError, match=r"not sent.*blocked after a 429") as info:
            await client.get_me()
        assert info.value.status is None and 890 < info.value.retry_after <= 900
        no_sleep.sleep(901)
        sandbox.inject(Fault(kind="status", status=401))
        with pytest.raises(OktopostAuthError):
            await client.get_me()


async def test_shared_httpx_client_is_not_closed(sandbox: OktopostSandbox) -> None:
    import httpx

    config = await aget_client_config("oktopost_default")
    async with httpx.AsyncClient() as shared:
        async with OktopostAsyncClient(config, client=shared) as client:
            await client.get_me()
        assert not shared.is_closed
        async with OktopostAsyncClient(config, client=shared) as client:
            await client.get_me()

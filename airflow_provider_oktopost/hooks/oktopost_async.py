"""``OktopostAsyncClient``: read-only Oktopost calls for the triggerer's event loop.

Only reads live here. Connecting, updating and deleting happen in workers (:class:`.OktopostHook`), where a
failure is retried by Airflow and never leaves a half-done change inside a triggerer. Everything is awaited:
the connection lookup goes through common-compat's ``get_async_connection`` (which never calls the sync
secrets masker on the loop), waits are ``asyncio.sleep``, and HTTP is ``httpx`` with one connection pool per
client. The requests and the decisions are the same core operations the sync hook runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import TracebackType
from typing import TYPE_CHECKING, TypeVar

from airflow_provider_oktopost._core import operations as ops
from airflow_provider_oktopost._core.config import ClientConfig, config_from_connection
from airflow_provider_oktopost._core.driver import run_async
from airflow_provider_oktopost._core.steps import Op
from airflow_provider_oktopost.models import Integration, IntegrationPage, Me

if TYPE_CHECKING:
    import httpx

    from airflow_provider_oktopost._core.transports import HttpxTransport

T = TypeVar("T")


async def aget_client_config(
    oktopost_conn_id: str, *, timeout: float | None = None, max_retries: int | None = None
) -> ClientConfig:
    """Look an ``oktopost`` connection up without blocking the event loop, and check it.

    ``timeout`` and ``max_retries`` (a task's ``hook_params``) win over the connection's extras; the
    connection is read by the same function as in the sync hook, only the lookup is awaited.
    """
    from airflow.providers.common.compat.connection import get_async_connection, get_async_extra_dejson

    conn = await get_async_connection(oktopost_conn_id)
    extra = await get_async_extra_dejson(conn)
    return config_from_connection(oktopost_conn_id, conn, extra, timeout=timeout, max_retries=max_retries)


class OktopostAsyncClient:
    """Async reads of the Oktopost Integrations API; use as ``async with OktopostAsyncClient(config)``.

    :param config: Checked settings, e.g. from :func:`aget_client_config`.
    :param client: An ``httpx.AsyncClient`` to share (its owner closes it); by default the client makes its
        own pool and closes it on exit.
    :param polling: Reads made for waits (the triggerer's poller): they stop at the budget's polling share
        of the day (the account budget's ``polling_day_limit``).
    """

    def __init__(
        self, config: ClientConfig, client: httpx.AsyncClient | None = None, *, polling: bool = False
    ) -> None:
        from airflow_provider_oktopost._core.transports import HttpxTransport

        self.config = config
        self._owns_client = client is None
        self._transport: HttpxTransport = HttpxTransport(config, client)
        self._context = ops.Context.for_config(config, polling=polling)

    @classmethod
    async def from_conn_id(cls, oktopost_conn_id: str = "oktopost_default") -> OktopostAsyncClient:
        """A client for an Airflow connection, looked up and built without blocking the event loop (an
        ``httpx`` pool loads the TLS certificates, tens of milliseconds, so it is built in a thread)."""
        config = await aget_client_config(oktopost_conn_id)
        return await asyncio.to_thread(cls, config)

    async def __aenter__(self) -> OktopostAsyncClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP pool if this client created it."""
        if self._owns_client:
            await self._transport.aclose()

    async def _run(self, op: Op[T]) -> T:
        return await run_async(op, self._transport, self.config.secrets)

    async def get_me(self) -> Me:
        """The account and user of the key (``GET /me``)."""
        return await self._run(ops.get_me(self._context))

    async def get_integration(self, integration_id: str, with_assets: bool = False) -> Integration:
        """One integration by Id (``GET /integration/{id}``)."""
        return await self._run(ops.get_integration(self._context, integration_id, with_assets))

    async def list_integrations(
        self, type: str | None = None, page: int = 0, count: int = 25
    ) -> IntegrationPage:
        """One page of integrations (``GET /integration``)."""
        return await self._run(ops.list_page(self._context, type, page, count))

    async def iter_integrations(self, type: str | None = None) -> AsyncIterator[Integration]:
        """Every integration, 100 per request, with the same stopping rules as the sync hook."""
        cursor: ops.PageCursor[Integration] = ops.PageCursor()
        while cursor.page is not None:
            for item in cursor.advance(await self.list_integrations(type, cursor.page, ops.FULL_PAGE)):
                yield item

    async def find_integrations(self, type: str, cname_id: str) -> list[Integration]:
        """Every integration of ``type`` on CNAME ``cname_id`` (all pages)."""
        return await self._run(ops.find_integrations(self._context, type, cname_id))


__all__ = ["OktopostAsyncClient", "aget_client_config"]

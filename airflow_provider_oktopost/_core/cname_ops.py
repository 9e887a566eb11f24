"""CNAME operations as sans-IO generators, on the same :func:`~.operations.call` as the integrations.

A CNAME is the host name (``links.example.com``) a custom-domain integration runs on; ``POST /v2/cname``
registers it and the integration's connect call takes its ``0CN...`` Id. Budget, retries, typed errors and
secret scrubbing come from :mod:`.operations`; what is specific here is:

- host names are checked (and lower-cased) before any request, and CNAMEs are matched by name without
  regard to case or a trailing dot, as DNS does;
- a create is sent exactly once, by the same rule as a connect (:func:`~.operations.create_once`):
  after a failure that may have committed it, the CNAMEs are listed (several times, over at least the
  request timeout) and one with that name is the result;
- a delete knows which integrations use the CNAME, so a caller can refuse to break them.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow_provider_oktopost._core import wire
from airflow_provider_oktopost._core.operations import (
    FULL_PAGE,
    Context,
    PageCursor,
    call,
    create_once,
    list_all,
    page_envelope,
)
from airflow_provider_oktopost._core.steps import Op
from airflow_provider_oktopost.exceptions import OktopostApiError
from airflow_provider_oktopost.models import Cname, CnamePage, Integration, cnames_of_page

log = logging.getLogger("airflow_provider_oktopost")


def same_host(a: str, b: str) -> bool:
    """Whether two host names are the same DNS name (case and one trailing dot do not matter)."""
    return a.lower().removesuffix(".") == b.lower().removesuffix(".")


def list_cname_page(ctx: Context, page: int = 0, count: int = 25) -> Op[CnamePage]:
    """One page of ``GET /v2/cname``."""
    data = yield from call(ctx, wire.cname_list_request(page, count))
    items, total = page_envelope(data)
    return CnamePage(
        items=cnames_of_page(items),
        total=total,
        page=page,
        count=count,
    )


def list_all_cnames(ctx: Context) -> Op[list[Cname]]:
    """Every CNAME of the account, de-duplicated by Id across pages."""
    cursor: PageCursor[Cname] = PageCursor()
    found: list[Cname] = []
    while cursor.page is not None:
        found += cursor.advance((yield from list_cname_page(ctx, cursor.page, FULL_PAGE)))
    return found


def get_cname(ctx: Context, cname_id: str) -> Op[Cname]:
    """``GET /v2/cname/{id}``."""
    data = yield from call(ctx, wire.cname_get_request(cname_id))
    return Cname.from_api(_cname_object(data, cname_id))


def find_cnames(ctx: Context, host_name: str) -> Op[list[Cname]]:
    """The CNAMEs registered for ``host_name`` (normally zero or one)."""
    host_name = wire.require_host_name("host_name", host_name)
    return [item for item in (yield from list_all_cnames(ctx)) if same_host(item.name, host_name)]


def create_cname(ctx: Context, host_name: str) -> Op[Cname]:
    """Register ``host_name``, exactly once (:func:`~.operations.create_once`).

    After a failure that may have committed it, the CNAMEs are looked for, several times over at least the
    request timeout, before it is sent again; one with this name is the result.
    """
    request = wire.cname_create_request(host_name)
    host_name = wire.require_host_name("host_name", host_name)

    def look() -> Op[Cname | None]:
        existing = yield from find_cnames(ctx, host_name)
        return existing[0] if existing else None

    def made(data: dict[str, Any]) -> Op[Cname]:
        raw = dict(_cname_object(data, None))
        raw.setdefault("Name", host_name)
        return Cname.from_api(raw)
        yield  # a generator: made() needs no request of its own

    return (yield from create_once(ctx, request, made, look, what=f"CNAME for {host_name}"))


def update_cname(ctx: Context, cname_id: str, host_name: str) -> Op[Cname]:
    """Change the host name of a CNAME; the answer holds only its Id and Name."""
    data = yield from call(ctx, wire.cname_update_request(cname_id, host_name))
    found = data.get("Cname")
    raw = dict(found) if isinstance(found, dict) else {}
    raw.setdefault("Id", cname_id)
    raw.setdefault("Name", wire.require_host_name("host_name", host_name))
    return Cname.from_api(raw)


def cname_users(ctx: Context, cname_id: str) -> Op[list[Integration]]:
    """The integrations that use CNAME ``cname_id``: deleting it would break them."""
    wire.require_id("cname_id", cname_id)
    return [item for item in (yield from list_all(ctx)) if item.cname_id == cname_id]


def delete_cname(ctx: Context, cname_id: str) -> Op[None]:
    """``DELETE /v2/cname/{id}``; a 404 after an attempt whose answer was lost counts as done.

    This only removes the record from Oktopost: the DNS record at the registrar stays.
    """
    yield from call(ctx, wire.cname_delete_request(cname_id), gone_means_done=True)


def _cname_object(data: dict[str, Any], cname_id: str | None) -> dict[str, Any]:
    found = data.get("Cname")
    if isinstance(found, dict):
        return found
    items = data.get("Items")
    if isinstance(items, list) and len(items) == 1 and isinstance(items[0], dict):
        return items[0]
    raise OktopostApiError(f"Oktopost answered without a Cname object for {cname_id or 'the new CNAME'}")


__all__ = [
    "cname_users",
    "create_cname",
    "delete_cname",
    "find_cnames",
    "get_cname",
    "list_all_cnames",
    "list_cname_page",
    "same_host",
    "update_cname",
]

"""Partner (reseller) API operations as sans-IO generators, on the same :func:`~.operations.call`.

Budget, retries, typed errors and secret scrubbing come from :mod:`.operations` and :mod:`.interpret`;
what is specific to partner accounts:

- a full listing pages with ``_page``/``_count`` through the same :class:`~.operations.PageCursor` as the
  integrations (records that shift between pages are returned once);
- an account is found by its external id by listing every account and comparing ``ExternalID`` exactly
  (the ``query`` filter is a text search whose fields are not documented, so it cannot prove absence);
- a create is exactly-once by external id (:func:`ensure_account`): an account with that external id is
  looked for first; after a failure that may have committed the create, it is looked for again before
  anything is re-sent (:func:`~.operations.create_once`); a create refused because the external id is
  taken (a concurrent run made it) ends with the account that holds it. Without an external id a lost
  answer cannot be resolved, so it is an error, never a second send.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow_provider_oktopost._core import partner_wire
from airflow_provider_oktopost._core.exactly_once import UnknownOutcome
from airflow_provider_oktopost._core.operations import (
    FULL_PAGE,
    Context,
    PageCursor,
    call,
    create_once,
    page_envelope,
)
from airflow_provider_oktopost._core.steps import Op
from airflow_provider_oktopost.exceptions import OktopostApiError, OktopostTransportError
from airflow_provider_oktopost.partner_models import NewAccount, PartnerAccount, PartnerAccountPage

log = logging.getLogger("airflow_provider_oktopost")


def list_account_page(
    ctx: Context, query: str | None = None, page: int = 0, count: int = FULL_PAGE
) -> Op[PartnerAccountPage]:
    """One page of ``GET /account``."""
    data = yield from call(ctx, partner_wire.account_list_request(query, page, count))
    items, total = page_envelope(data)
    accounts = [PartnerAccount.from_api(item) for item in items if isinstance(item, dict) and item.get("Id")]
    return PartnerAccountPage(items=accounts, total=total, page=page, count=count)


def list_all_accounts(ctx: Context, query: str | None = None) -> Op[list[PartnerAccount]]:
    """Every account the partner manages (optionally matching ``query``), de-duplicated by Id."""
    cursor: PageCursor[PartnerAccount] = PageCursor()
    found: list[PartnerAccount] = []
    while cursor.page is not None:
        found += cursor.advance((yield from list_account_page(ctx, query, cursor.page, FULL_PAGE)))
    return found


def get_account(ctx: Context, account_id: str) -> Op[PartnerAccount]:
    """``GET /account/{id}`` (the answer is the list envelope with one record)."""
    data = yield from call(ctx, partner_wire.account_get_request(account_id))
    record = account_object(data)
    if record is None:
        raise OktopostApiError(f"Oktopost answered without the account {account_id}")
    return PartnerAccount.from_api(record)


def find_by_external_id(ctx: Context, external_id: str) -> Op[PartnerAccount | None]:
    """The account whose ``ExternalID`` is exactly ``external_id`` (unique in Oktopost), or ``None``."""
    external_id = partner_wire.require_external_id("external_id", external_id)
    for account in (yield from list_all_accounts(ctx)):
        if account.external_id == external_id:
            return account
    return None


def ensure_account(ctx: Context, new: NewAccount) -> Op[tuple[PartnerAccount, bool]]:
    """The account for ``new.external_id``: the existing one, else a new one made exactly once.

    Returns ``(account, created)``. See the module docstring for the rule.
    """
    request = partner_wire.account_create_request(new)  # checks every field before any request
    external_id = partner_wire.require_external_id("external_id", new.external_id)
    existing = yield from find_by_external_id(ctx, external_id)
    if existing is not None:
        log.info("Oktopost account %s has external id %s: nothing to create", existing.id, external_id)
        return existing, False

    def look() -> Op[PartnerAccount | None]:
        return find_by_external_id(ctx, external_id)

    def made(data: dict[str, Any]) -> Op[PartnerAccount]:
        record = account_object(data)
        if record is not None:
            return PartnerAccount.from_api(record)
        # Created, but the answer does not show it (the create answer is undocumented): read it back.
        found = yield from look()
        if found is None:
            raise OktopostApiError(
                f"POST /account answered Result true without the new account, and no account has external "
                f"id {external_id}"
            )
        return found

    try:
        what = f"account with external id {external_id}"
        account = yield from create_once(ctx, request, made, look, what=what)
    except OktopostApiError as refusal:
        # "External ID already in use": another run made it between our look and our create.
        found = yield from look()
        if found is None:
            raise
        log.warning("%s; the account with external id %s exists: %s", refusal.message, external_id, found.id)
        return found, False
    return account, True


def create_account(ctx: Context, new: NewAccount) -> Op[PartnerAccount]:
    """``POST /account``. With an external id, exactly once (:func:`ensure_account`); without one a
    failure that may have committed the create raises, since nothing could find the account to check."""
    if new.external_id is not None:
        account, _ = yield from ensure_account(ctx, new)
        return account
    request = partner_wire.account_create_request(new)
    try:
        data = yield from call(ctx, request)
    except UnknownOutcome as unknown:
        raise OktopostTransportError(
            f"{unknown.error.message}. The account may have been created; without an external id it cannot "
            "be looked for, so it was not sent again: check the partner's accounts before retrying",
            method=request.method,
            path=request.path,
            outcome_unknown=True,
        ) from None
    record = account_object(data)
    if record is None:
        raise OktopostApiError("POST /account answered Result true without the new account")
    return PartnerAccount.from_api(record)


def account_object(data: dict[str, Any]) -> dict[str, Any] | None:
    """The account record of a get or create answer: ``Items`` with one record, or ``Account``."""
    found = data.get("Account")
    if isinstance(found, dict) and found.get("Id"):
        return found
    items = data.get("Items")
    if isinstance(items, list) and len(items) == 1 and isinstance(items[0], dict) and items[0].get("Id"):
        return items[0]
    return None


__all__ = [
    "account_object",
    "create_account",
    "ensure_account",
    "find_by_external_id",
    "get_account",
    "list_account_page",
    "list_all_accounts",
]

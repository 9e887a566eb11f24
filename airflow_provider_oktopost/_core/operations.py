"""The API operations as sans-IO generators.

Each operation yields :class:`~.wire.ApiRequest` (send this, give me the reply), :class:`~.wire.Sleep`
(wait, then resume) or a budget step (:class:`~.steps.StoreStep`, made by ``AccountBudget.step``) and returns
its result; :mod:`.steps` names these types. :mod:`.driver` runs them over ``requests`` in a worker or over
``httpx`` on an event loop; the decisions (retry, backoff, the call budget, pagination, how a lost response
to a create is recovered) are made here once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from airflow_provider_oktopost._core import clock, observe, wire
from airflow_provider_oktopost._core.budget.account import AccountBudget
from airflow_provider_oktopost._core.budget.registry import budget_for
from airflow_provider_oktopost._core.budget.rules import Grant
from airflow_provider_oktopost._core.config import ClientConfig
from airflow_provider_oktopost._core.exactly_once import UnknownOutcome, create_exactly_once
from airflow_provider_oktopost._core.interpret import DEFAULT_RATE_LIMIT_BLOCK, interpret
from airflow_provider_oktopost._core.steps import Op
from airflow_provider_oktopost._core.wire import ApiRequest, ApiResponse, Sleep, TransportFailure
from airflow_provider_oktopost.exceptions import (
    OktopostApiError,
    OktopostBudgetWaitError,
    OktopostNotFoundError,
    OktopostRateLimitError,
)
from airflow_provider_oktopost.models import Integration, IntegrationPage, Me, integrations_of_page

log = logging.getLogger("airflow_provider_oktopost")


class _Record(Protocol):
    @property
    def id(self) -> str: ...


#: The record a full listing collects (an integration or a CNAME).
ItemT = TypeVar("ItemT", bound=_Record)
_ItemT_co = TypeVar("_ItemT_co", bound=_Record, covariant=True)


class Listing(Protocol[_ItemT_co]):
    """One page of a full listing (:class:`.IntegrationPage`, :class:`.CnamePage`)."""

    @property
    def items(self) -> Sequence[_ItemT_co]:
        """The page's records."""

    @property
    def total(self) -> int:
        """The server's count of all matching records."""

    @property
    def page(self) -> int:
        """The zero-based page number."""

    @property
    def count(self) -> int:
        """The page size asked for."""


#: Pages fetched by a full listing; the API's largest page.
FULL_PAGE = 100
#: A listing never fetches more pages than this, whatever ``Total`` claims (1,000,000 integrations).
MAX_PAGES = 10_000


class Witness(Protocol):
    """Told about every attempt :func:`call` makes: how a task keeps evidence of what its try sent.

    The operators' rule for tries (:mod:`airflow_provider_oktopost.operators._evidence`) needs to know the
    moment a write may really leave (after the budget granted it, right before it is handed to the
    transport) and whether the answer to it was definite; nothing else sees that moment.
    """

    def sending(self, request: ApiRequest) -> None:
        """``request`` leaves next; raising here keeps it from being sent."""

    def answered(self, request: ApiRequest, *, definite: bool) -> None:
        """The answer to ``request`` arrived; ``definite`` unless it may have acted without saying so."""


@dataclass(frozen=True)
class Context:
    """What an operation needs besides its arguments: settings and the account's shared budget."""

    config: ClientConfig
    budget: AccountBudget
    #: The triggerer's poller: its calls stop at the budget's polling share of the day.
    polling: bool = False
    #: Told right before each attempt leaves and when its answer arrives (see :class:`Witness`).
    witness: Witness | None = None

    @classmethod
    def for_config(cls, config: ClientConfig, *, polling: bool = False) -> Context:
        """A context with the account's call budget, shared by the deployment's processes (see ``budget``)."""
        budget = budget_for(config.base_url, config.account_id, config.rate_limit_per_minute, config.budget)
        return cls(config, budget, polling)


def _budget_wait(ctx: Context, request: ApiRequest, grant: Grant) -> OktopostBudgetWaitError:
    why = (
        f"the account is blocked after a 429 for {grant.blocked_for:.0f}s more"
        if grant.blocked_for > 0
        else f"its shared budget of {ctx.budget.per_minute} calls per {ctx.config.budget.window:g}s "
        f"(and {ctx.config.budget.daily_limit} a day) has no free call for {grant.wait:.0f}s"
    )
    return OktopostBudgetWaitError(
        f"{request.describe()} was not sent: Oktopost account {ctx.config.account_id}: {why}",
        retry_after=grant.wait,
        blocked=grant.blocked_for > 0,
        method=request.method,
        path=request.path,
    )


def call(ctx: Context, request: ApiRequest, *, gone_means_done: bool = False) -> Op[dict[str, Any]]:
    """Send ``request`` until it succeeds, fails permanently or the retry budget is spent.

    Every attempt first takes a slot in the account's shared budget; when the slot is further away than
    the budget's ``max_wait``, nothing is sent and :class:`.OktopostBudgetWaitError` (a rate-limit error
    carrying the wait) is raised, so a worker can defer instead of holding its slot. A 429 is recorded in
    the budget as a block for every process (``Retry-After``, or the documented 15 minutes); the retry,
    if the block is short enough to wait, waits in the budget like everyone else.

    Non-idempotent requests are re-sent only when they certainly did not take effect (connection refused,
    429); after a failure that may have committed them, :class:`.UnknownOutcome` is raised so the operation
    can look before it sends again. With ``gone_means_done`` (deletes), a 404 after an attempt whose outcome
    was unknown means that attempt worked.
    """
    attempt = 0
    maybe_committed = False
    while True:
        grant = yield ctx.budget.step(ctx.budget.reserve, ctx.config.budget.max_wait, polling=ctx.polling)
        assert isinstance(grant, Grant), "the driver must answer a budget step with its result"
        if not grant.granted:
            raise _budget_wait(ctx, request, grant)
        if grant.wait > 0:
            yield Sleep(grant.wait)
        if ctx.witness is not None:
            ctx.witness.sending(request)
        reply = yield request
        assert isinstance(reply, ApiResponse | TransportFailure), "the driver must answer a request"
        observe.call_sent(ctx.config.account_id, request, reply)
        outcome = interpret(request, reply, clock.wall())
        if ctx.witness is not None:
            ctx.witness.answered(request, definite=not outcome.committed_unknown)
        if outcome.data is not None:
            return outcome.data
        error = outcome.error
        assert error is not None
        if gone_means_done and maybe_committed and isinstance(error, OktopostNotFoundError):
            log.info("%s: already gone after an earlier attempt whose response was lost", request.describe())
            return {"Result": True}
        if outcome.committed_unknown and not request.idempotent:
            raise UnknownOutcome(error)
        maybe_committed = maybe_committed or outcome.committed_unknown
        hint = outcome.retry_after
        rate_limited = isinstance(error, OktopostRateLimitError)
        if rate_limited:
            # A shared fact: no process of the deployment sends to this key until the block is over. A 429
            # without Retry-After means the documented 15-minute block, never a retry within seconds.
            hint = hint if hint is not None else DEFAULT_RATE_LIMIT_BLOCK
            yield ctx.budget.step(ctx.budget.block, hint)
        delay = ctx.config.retry.delay(attempt, hint) if outcome.retryable else None
        if delay is None:
            raise error
        attempt += 1
        log.warning(
            "%s; retry %d of %d in %.1fs", error.message, attempt, ctx.config.retry.max_retries, delay
        )
        if not rate_limited:
            yield Sleep(delay)  # after a 429 the next reservation waits for the block to end


def get_me(ctx: Context) -> Op[Me]:
    """``GET /me``: the account and user the key belongs to (what the Test button calls)."""
    return Me.from_api((yield from call(ctx, wire.me_request())))


def list_page(ctx: Context, type: str | None = None, page: int = 0, count: int = 25) -> Op[IntegrationPage]:
    """``GET /integration``: one page of integrations (zero-based ``page``; ``count`` 25, 50 or 100)."""
    data = yield from call(ctx, wire.list_request(type, page, count))
    items, total = page_envelope(data)
    return IntegrationPage(
        items=integrations_of_page(items),
        total=total,
        page=page,
        count=count,
    )


def page_envelope(data: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """The records of a list answer (``Items``) and the server's count of all of them (``Total``).

    A missing or malformed ``Items`` is no records; a missing or malformed ``Total`` is the page's own size.
    """
    raw = data.get("Items")
    items = [item for item in raw if isinstance(item, dict)] if isinstance(raw, list) else []
    total = data.get("Total")
    valid = isinstance(total, int) and not isinstance(total, bool) and total >= 0
    return items, total if valid and isinstance(total, int) else len(items)


def next_page(page: Listing[_Record], max_total: int) -> int | None:
    """The page to fetch after ``page`` in a full listing, or None when the listing is complete.

    Stops on an empty or short page, once ``Total`` is reached, and at the last page the largest ``Total``
    seen allows, so a server whose pages or totals shift can never keep a listing going forever.
    """
    if not page.items or len(page.items) < page.count:
        return None
    following = page.page + 1
    if following * page.count >= max_total or following >= MAX_PAGES:
        return None
    return following


class PageCursor(Generic[ItemT]):
    """Where a full listing stands: the next page to fetch, and the Ids already handed out.

    Shared by every full listing (integrations and CNAMEs, in :func:`list_all`, the CNAME operations and the
    hook's and async client's lazy iterators), so every listing stops by the same rules (:func:`next_page`)
    and yields a record that shifts between pages only once.
    """

    def __init__(self) -> None:
        self.page: int | None = 0
        self._max_total = 0
        self._seen: set[str] = set()

    def advance(self, page: Listing[ItemT]) -> list[ItemT]:
        """Take in a fetched page; returns its records not seen before and moves to the next page."""
        self._max_total = max(self._max_total, page.total)
        fresh = [item for item in page.items if item.id not in self._seen]
        self._seen.update(item.id for item in fresh)
        self.page = next_page(page, self._max_total)
        return fresh


def list_all(ctx: Context, type: str | None = None) -> Op[list[Integration]]:
    """Every integration (optionally of one type), de-duplicated by Id across pages."""
    cursor: PageCursor[Integration] = PageCursor()
    found: list[Integration] = []
    while cursor.page is not None:
        found += cursor.advance((yield from list_page(ctx, type, cursor.page, FULL_PAGE)))
    return found


def get_integration(ctx: Context, integration_id: str, with_assets: bool = False) -> Op[Integration]:
    """``GET /integration/{id}``: one integration, with its credentials and boards when ``with_assets``."""
    data = yield from call(ctx, wire.get_request(integration_id, with_assets))
    return Integration.from_api(_integration_object(data, integration_id))


def find_integrations(
    ctx: Context, type: str, cname_id: str, *, shared_listing: bool = False
) -> Op[list[Integration]]:
    """Integrations of ``type`` on CNAME ``cname_id``: how a create is checked before it is sent again.

    A full listing of ``type`` costs ``ceil(n / 100)`` calls, so every listing taken here is shared through
    the budget store, and connects made by the provider are added to it. With ``shared_listing``, a
    listing some process took within ``listing_ttl`` seconds answers instead of a new one (its entries
    carry Id, type, CNAME, status and state only). A caller that must see the server's present state (a
    retry checking what an earlier try left, the recovery after a lost create) leaves it False.
    """
    wire.require_type("type", type)
    wire.require_id("cname_id", cname_id)
    if shared_listing:
        cached = yield ctx.budget.step(ctx.budget.get_listing, type)
        if isinstance(cached, dict):
            found = [_from_listing(i, type, entry) for i, entry in cached.items()]
            return [item for item in found if item.cname_id == cname_id]
    began = yield ctx.budget.step(ctx.budget.listing_began)  # the listing is dated by when its read began
    listed = [item for item in (yield from list_all(ctx, type)) if item.type == type]
    yield ctx.budget.step(ctx.budget.put_listing, type, {i.id: _listing_entry(i) for i in listed}, began)
    return [item for item in listed if item.cname_id == cname_id]


def _listing_entry(item: Integration) -> str:
    """How an integration is kept in a shared listing: ``cname<TAB>status<TAB>state``."""
    data = item.to_dict()
    return "\t".join(str(data.get(name) or "") for name in ("cname_id", "status", "state"))


def _from_listing(integration_id: str, type: str, entry: str) -> Integration:
    cname, status, state = ([*entry.split("\t"), "", ""])[:3]
    return Integration.from_api(
        {"Id": integration_id, "Type": type, "CnameId": cname or None, "Status": status, "State": state}
    )


def connect_integration(
    ctx: Context, type: str, cname_id: str, settings: Mapping[str, Any] | None = None
) -> Op[Integration]:
    """Create an integration, exactly once (:func:`~.exactly_once.create_exactly_once`).

    After a failure that may have committed it, the integrations of that type and CNAME are looked for,
    several times over at least the request timeout, before it is sent again; an existing one is the result.
    """
    request = wire.connect_request(type, cname_id, settings)

    def look() -> Op[Integration | None]:
        existing = yield from find_integrations(ctx, type, cname_id)
        return existing[0] if existing else None

    def made(data: dict[str, Any]) -> Op[Integration]:
        raw = dict(_integration_object(data, None))
        raw.setdefault("Type", type)
        raw.setdefault("CnameId", cname_id)
        created = Integration.from_api(raw)
        yield ctx.budget.step(ctx.budget.add_to_listing, type, created.id, _listing_entry(created))
        return created

    return (yield from create_once(ctx, request, made, look, what="integration"))


def create_once(
    ctx: Context,
    request: ApiRequest,
    made: Callable[[dict[str, Any]], Op[ItemT]],
    look: Callable[[], Op[ItemT | None]],
    *,
    what: str,
) -> Op[ItemT]:
    """Send the create ``request`` through :func:`call`, exactly once (see :mod:`.exactly_once`)."""

    def send() -> Op[dict[str, Any]]:
        return call(ctx, request)

    return (
        yield from create_exactly_once(ctx.config, send, made, look, what=what, describe=request.describe())
    )


def update_integration(
    ctx: Context,
    integration_id: str,
    state: str | None = None,
    cname_id: str | None = None,
    settings: Mapping[str, Any] | None = None,
) -> Op[None]:
    """``POST /integration/{id}``: change state, CNAME or settings; safe to resend, so retried like a read."""
    yield from call(ctx, wire.update_request(integration_id, state, cname_id, settings))
    if cname_id is not None:
        yield ctx.budget.step(ctx.budget.forget_listings)  # shared listings would show the old CNAME


def delete_integration(ctx: Context, integration_id: str) -> Op[None]:
    """``DELETE /integration/{id}``; a 404 on a retry means an earlier attempt already deleted it."""
    yield from call(ctx, wire.delete_request(integration_id), gone_means_done=True)
    yield ctx.budget.step(ctx.budget.forget_listings)  # shared listings would still show it


def _integration_object(data: dict[str, Any], integration_id: str | None) -> dict[str, Any]:
    found = data.get("Integration")
    if isinstance(found, dict):
        return found
    # Some endpoints return a single record as a one-item list (see the API facts); accept that too.
    items = data.get("Items")
    if isinstance(items, list) and len(items) == 1 and isinstance(items[0], dict):
        return items[0]
    raise OktopostApiError(
        f"Oktopost answered without an Integration object for {integration_id or 'the new integration'}"
    )

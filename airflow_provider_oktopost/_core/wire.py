"""What travels on the wire: request and reply values, and the builders for every endpoint.

Builders validate their arguments before anything is sent, with a ``ValueError`` that names the parameter,
and percent-encode path segments so that no value can change which URL is called. The value checks
themselves live in :mod:`.validation` (the operators run them at DAG parse time without importing this
module); they are re-exported here under their old names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from airflow_provider_oktopost._core.validation import (
    STATES,
    STATUSES,
    _shown,
    encode_payload,
    encode_settings,
    require_action_name,
    require_choice,
    require_host_name,
    require_id,
    require_type,
)

PAGE_SIZES = (25, 50, 100)


@dataclass(frozen=True)
class ApiRequest:
    """One HTTP request, relative to the connection's base URL (``path`` starts with ``/``)."""

    method: str
    path: str
    params: tuple[tuple[str, str], ...] = ()
    #: Left out of ``repr``: a form may carry a secret (a new partner account's owner password).
    form: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    #: False for calls that create something: they are never re-sent blindly when the outcome is unknown.
    idempotent: bool = True
    #: How messages name the API the path belongs to: ``/v2``, or ``""`` for the partner API (no ``/v2``).
    prefix: str = "/v2"

    def describe(self) -> str:
        """``METHOD /v2/path`` for messages and logs (no query string, no secrets)."""
        return f"{self.method} {self.prefix}{self.path}"


@dataclass(frozen=True)
class ApiResponse:
    """What came back: the status, the headers we care about (lower-cased names) and the raw body."""

    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TransportFailure:
    """The request did not produce a response.

    ``sent`` is False when the request certainly never reached the server (connection refused, DNS, connect
    timeout): it is safe to send again whatever it does. When True (read timeout, dropped connection) the
    server may have acted on it.
    """

    reason: str
    sent: bool


@dataclass(frozen=True)
class Sleep:
    """An instruction to the driver: wait this long, then resume the operation."""

    seconds: float


def require_page(page: object, count: object) -> tuple[int, int]:
    """Checked ``(page, count)``: a page >= 0 and one of the page sizes the API accepts."""
    if isinstance(page, bool) or not isinstance(page, int) or page < 0:
        raise ValueError(f"page must be a whole number >= 0, got {_shown(page)}")
    if isinstance(count, bool) or count not in PAGE_SIZES:
        raise ValueError(f"count must be one of {PAGE_SIZES} (the API's page sizes), got {_shown(count)}")
    assert isinstance(count, int)
    return page, count


def _segment(value: str) -> str:
    return quote(value, safe="")


# ---- builders, one per endpoint -------------------------------------------------------------------------


def me_request() -> ApiRequest:
    """``GET /me``."""
    return ApiRequest("GET", "/me")


def list_request(type: str | None = None, page: int = 0, count: int = 25) -> ApiRequest:
    """``GET /integration`` for one page, optionally filtered by type."""
    page, count = require_page(page, count)
    params: list[tuple[str, str]] = []
    if type is not None:
        params.append(("type", require_type("type", type)))
    params += [("_page", str(page)), ("_count", str(count))]
    return ApiRequest("GET", "/integration", params=tuple(params))


def get_request(integration_id: str, with_assets: bool = False) -> ApiRequest:
    """``GET /integration/{id}``, with ``withAssets=1`` when asked."""
    integration_id = require_id("integration_id", integration_id)
    if not isinstance(with_assets, bool):
        raise ValueError(f"with_assets must be True or False, got {_shown(with_assets)}")
    params = (("withAssets", "1"),) if with_assets else ()
    return ApiRequest("GET", f"/integration/{_segment(integration_id)}", params=params)


def connect_request(type: str, cname_id: str, settings: Mapping[str, Any] | None = None) -> ApiRequest:
    """``POST /integration``: not idempotent, so marked for the lost-response check before any resend."""
    form = (("type", require_type("type", type)), ("cnameId", require_id("cname_id", cname_id)))
    return ApiRequest("POST", "/integration", form=form + encode_settings(settings), idempotent=False)


def update_request(
    integration_id: str,
    state: str | None = None,
    cname_id: str | None = None,
    settings: Mapping[str, Any] | None = None,
) -> ApiRequest:
    """``POST /integration/{id}`` with only the fields to change (at least one)."""
    integration_id = require_id("integration_id", integration_id)
    form: list[tuple[str, str]] = []
    if state is not None:
        form.append(("state", require_choice("state", state, STATES)))
    if cname_id is not None:
        form.append(("cnameId", require_id("cname_id", cname_id)))
    form += encode_settings(settings)
    if not form:
        raise ValueError("update needs at least one change: state, cname_id or a setting")
    return ApiRequest("POST", f"/integration/{_segment(integration_id)}", form=tuple(form))


def delete_request(integration_id: str) -> ApiRequest:
    """``DELETE /integration/{id}``."""
    integration_id = require_id("integration_id", integration_id)
    return ApiRequest("DELETE", f"/integration/{_segment(integration_id)}")


# ---- CNAMEs and integration actions --------------------------------------------------------------------


def cname_list_request(page: int = 0, count: int = 25) -> ApiRequest:
    """``GET /v2/cname``: one page of the account's CNAMEs."""
    page, count = require_page(page, count)
    return ApiRequest("GET", "/cname", params=(("_page", str(page)), ("_count", str(count))))


def cname_get_request(cname_id: str) -> ApiRequest:
    """``GET /v2/cname/{id}``."""
    return ApiRequest("GET", f"/cname/{_segment(require_id('cname_id', cname_id))}")


def cname_create_request(host_name: str) -> ApiRequest:
    """``POST /v2/cname`` with ``cname=<host>``, not idempotent (after a lost response, look first)."""
    form = (("cname", require_host_name("host_name", host_name)),)
    return ApiRequest("POST", "/cname", form=form, idempotent=False)


def cname_update_request(cname_id: str, host_name: str) -> ApiRequest:
    """``POST /v2/cname/{id}`` with the new host name (sending it twice has the same effect as once)."""
    cname_id = require_id("cname_id", cname_id)
    form = (("cname", require_host_name("host_name", host_name)),)
    return ApiRequest("POST", f"/cname/{_segment(cname_id)}", form=form)


def cname_delete_request(cname_id: str) -> ApiRequest:
    """``DELETE /v2/cname/{id}``: removes the record from Oktopost only, never from DNS."""
    return ApiRequest("DELETE", f"/cname/{_segment(require_id('cname_id', cname_id))}")


def action_request(
    integration_id: str, action_name: str, payload: object, *, safe_to_resend: bool = False
) -> ApiRequest:
    """``POST /v2/integration-action``: run one action of an integration.

    An action can create or change records in the customer's CRM, so the request counts as idempotent (may
    be re-sent after an unknown outcome) only when the caller says so with ``safe_to_resend``.
    """
    form = (
        ("id", require_id("integration_id", integration_id)),
        ("actionName", require_action_name("action_name", action_name)),
        ("payload", encode_payload("payload", payload)),
    )
    if not isinstance(safe_to_resend, bool):
        raise ValueError(f"safe_to_resend must be True or False, got {_shown(safe_to_resend)}")
    return ApiRequest("POST", "/integration-action", form=form, idempotent=safe_to_resend)


_READ_VERB_RE = re.compile(r"^(?:get|search|list|find|lookup|read|count)(?:[A-Z0-9_]\w*)?$")
_WRITE_WORD_RE = re.compile(r"(?:create|update|upsert|delete|remove|set|add|sync|merge|send|write)", re.I)


def is_read_action(action_name: str) -> bool:
    """Whether an action's name says it only reads (``contact.getByEmail``, ``lead.search``).

    The verb (the last dot-separated part) must start with get, search, list, find, lookup, read or count
    and name no write (``getOrCreate`` is a write). Used as the default for re-sending after an unknown
    outcome; anything else is treated as a write, which is the safe side.
    """
    verb = require_action_name("action_name", action_name).rsplit(".", 1)[-1]
    return bool(_READ_VERB_RE.fullmatch(verb)) and not _WRITE_WORD_RE.search(verb)


# The value checks live in .validation; they are part of this module's names for the builders' callers.
__all__ = [
    "PAGE_SIZES",
    "STATES",
    "STATUSES",
    "ApiRequest",
    "ApiResponse",
    "Sleep",
    "TransportFailure",
    "action_request",
    "cname_create_request",
    "cname_delete_request",
    "cname_get_request",
    "cname_list_request",
    "cname_update_request",
    "connect_request",
    "delete_request",
    "encode_payload",
    "encode_settings",
    "get_request",
    "is_read_action",
    "list_request",
    "me_request",
    "require_action_name",
    "require_choice",
    "require_host_name",
    "require_id",
    "require_page",
    "require_type",
    "update_request",
]

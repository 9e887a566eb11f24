"""What travels on the wire: request and reply values, and the builders for every endpoint.

Builders validate their arguments before anything is sent, with a ``ValueError`` that names the parameter,
and percent-encode path segments so that no value can change which URL is called.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

PAGE_SIZES = (25, 50, 100)
STATES = ("active", "disabled")
STATUSES = ("valid", "invalid")
_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_TYPE_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_SETTING_KEY_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_RESERVED_FORM_KEYS = frozenset({"type", "cnameId", "state"})


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


def require_id(name: str, value: object) -> str:
    """An Oktopost ID: non-empty letters, digits, ``-`` and ``_`` only (so it cannot alter the URL path)."""
    if not isinstance(value, str) or not _ID_RE.fullmatch(value):
        raise ValueError(
            f"{name} must be a non-empty Oktopost ID of letters, digits, '-' and '_' "
            f"(at most 128 characters), got {_shown(value)}"
        )
    return value


def require_type(name: str, value: object) -> str:
    """An integration type such as ``cd`` or ``facebook``; unknown types are allowed, odd characters not."""
    if not isinstance(value, str) or not _TYPE_RE.fullmatch(value):
        raise ValueError(
            f"{name} must be an integration type such as 'cd', 'ga', 'pardot', 'netresults', 'mautic' or "
            f"'facebook' (letters, digits, '.', '_', '-'), got {_shown(value)}"
        )
    return value


def require_choice(name: str, value: object, choices: tuple[str, ...]) -> str:
    """``value`` if it is one of ``choices``, else a ``ValueError`` naming the parameter."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {_shown(value)}")
    assert isinstance(value, str)
    return value


def require_page(page: object, count: object) -> tuple[int, int]:
    """Checked ``(page, count)``: a page >= 0 and one of the page sizes the API accepts."""
    if isinstance(page, bool) or not isinstance(page, int) or page < 0:
        raise ValueError(f"page must be a whole number >= 0, got {_shown(page)}")
    if isinstance(count, bool) or count not in PAGE_SIZES:
        raise ValueError(f"count must be one of {PAGE_SIZES} (the API's page sizes), got {_shown(count)}")
    assert isinstance(count, int)
    return page, count


def encode_settings(settings: Mapping[str, Any] | None) -> tuple[tuple[str, str], ...]:
    """Form fields for type-specific settings: dicts and lists as JSON strings, booleans as 0/1."""
    if settings is None:
        return ()
    if not isinstance(settings, Mapping):
        raise ValueError(f"settings must be a mapping of setting name to value, got {_shown(settings)}")
    fields: list[tuple[str, str]] = []
    for key, value in settings.items():
        if not isinstance(key, str) or not _SETTING_KEY_RE.fullmatch(key):
            raise ValueError(f"settings key {_shown(key)} must be an identifier such as 'trackingId'")
        if key in _RESERVED_FORM_KEYS:
            raise ValueError(f"settings key {key!r} is reserved: pass it as its own argument")
        fields.append((key, _encode_value(f"settings[{key!r}]", value)))
    return tuple(fields)


def _encode_value(name: str, value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, Mapping | list | tuple):
        try:
            return json.dumps(value, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must be JSON-serialisable: {exc}") from None
    raise ValueError(f"{name} must be a string, number, boolean, list or dict, got {type(value).__name__}")


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


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

_LABEL_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_ACTION_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}(?:\.[A-Za-z][A-Za-z0-9_]{0,63}){1,3}$")


def require_host_name(name: str, value: object) -> str:
    """A host name for a CNAME record, such as ``links.example.com``; returned lower-cased.

    A real DNS name: at least two dot-separated labels of letters, digits and inner hyphens (1 to 63
    characters each, 253 in all), a top-level label that is not all digits (so no IP address), and nothing
    around it: no scheme (``https://``), path, query, port or user. One trailing dot (the DNS root) is
    dropped. International names must be given in their ASCII (``xn--``) form.
    """
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a host name such as 'links.example.com', got {_shown(value)}")
    problem = _host_problem(value)
    if problem:
        raise ValueError(
            f"{name} must be a bare host name such as 'links.example.com' ({problem}), got {_shown(value)}"
        )
    return value.lower().removesuffix(".")


def _host_problem(value: str) -> str | None:
    if "://" in value:
        return "no scheme such as https://"
    if any(ch in value for ch in "/?#"):
        return "no path or query"
    if "@" in value:
        return "no user name"
    if ":" in value:
        return "no port"
    if not value.isascii():
        return "international names in their xn-- form"
    host = value.lower().removesuffix(".")
    labels = host.split(".")
    if len(host) > 253:
        return "at most 253 characters"
    if len(labels) < 2:
        return "at least two labels, such as example.com"
    bad = next((label for label in labels if not _LABEL_RE.fullmatch(label)), None)
    if bad is not None:
        return (
            f"label {bad!r} must be 1 to 63 letters, digits or inner hyphens"
            if bad
            else "no empty label (two dots in a row, or a leading dot)"
        )
    if labels[-1].isdigit():
        return "not an IP address"
    return None


def require_action_name(name: str, value: object) -> str:
    """An integration action such as ``contact.getByEmail``: dot-separated identifiers (2 to 4 parts)."""
    if not isinstance(value, str) or not _ACTION_RE.fullmatch(value):
        raise ValueError(
            f"{name} must be an integration action such as 'contact.getByEmail', 'lead.getByEmail' or "
            f"'lead.search' (dot-separated names), got {_shown(value)}"
        )
    return value


def encode_payload(name: str, value: object) -> str:
    """An action payload as the API wants it: a JSON object in a string (a dict, or a string holding one)."""
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            raise ValueError(f"{name} must be a dict or a string holding a JSON object") from None
    else:
        parsed = value
    if not isinstance(parsed, Mapping):
        raise ValueError(f"{name} must be a JSON object (a dict), got {type(parsed).__name__}")
    return _encode_value(name, dict(parsed))


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

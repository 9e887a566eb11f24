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
    form: tuple[tuple[str, str], ...] = ()
    #: False for calls that create something: they are never re-sent blindly when the outcome is unknown.
    idempotent: bool = True

    def describe(self) -> str:
        return f"{self.method} /v2{self.path}"


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
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {_shown(value)}")
    assert isinstance(value, str)
    return value


def require_page(page: object, count: object) -> tuple[int, int]:
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
    return ApiRequest("GET", "/me")


def list_request(type: str | None = None, page: int = 0, count: int = 25) -> ApiRequest:
    page, count = require_page(page, count)
    params: list[tuple[str, str]] = []
    if type is not None:
        params.append(("type", require_type("type", type)))
    params += [("_page", str(page)), ("_count", str(count))]
    return ApiRequest("GET", "/integration", params=tuple(params))


def get_request(integration_id: str, with_assets: bool = False) -> ApiRequest:
    integration_id = require_id("integration_id", integration_id)
    if not isinstance(with_assets, bool):
        raise ValueError(f"with_assets must be True or False, got {_shown(with_assets)}")
    params = (("withAssets", "1"),) if with_assets else ()
    return ApiRequest("GET", f"/integration/{_segment(integration_id)}", params=params)


def connect_request(type: str, cname_id: str, settings: Mapping[str, Any] | None = None) -> ApiRequest:
    form = (("type", require_type("type", type)), ("cnameId", require_id("cname_id", cname_id)))
    return ApiRequest("POST", "/integration", form=form + encode_settings(settings), idempotent=False)


def update_request(
    integration_id: str,
    state: str | None = None,
    cname_id: str | None = None,
    settings: Mapping[str, Any] | None = None,
) -> ApiRequest:
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
    integration_id = require_id("integration_id", integration_id)
    return ApiRequest("DELETE", f"/integration/{_segment(integration_id)}")

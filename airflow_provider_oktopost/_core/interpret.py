"""Reading responses: turn a status and a body into data, or into the right typed error.

The API signals failure in several ways at once: the HTTP status, a ``"Result": false`` body (sometimes
with HTTP 200), and an ``Errors`` field that may be a list of strings, a dict of dicts with any inner keys,
or ``[]``.
Every path ends either in a dict of data or in an :class:`~airflow_provider_oktopost.exceptions.OktopostError`
subclass; nothing else escapes, whatever bytes arrive.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

from airflow_provider_oktopost._core.wire import ApiRequest, ApiResponse, TransportFailure
from airflow_provider_oktopost.exceptions import (
    OktopostApiError,
    OktopostAuthError,
    OktopostError,
    OktopostNotFoundError,
    OktopostRateLimitError,
    OktopostServerError,
    OktopostTransportError,
)

#: The documented block after a burst; used as ``retry_after`` when a 429 carries no hint.
DEFAULT_RATE_LIMIT_BLOCK = 900.0
_MAX_TEXT = 300
_WS = re.compile(r"\s+")
_TAGS = re.compile(r"<[^>]*>")


@dataclass(frozen=True)
class Outcome:
    """The verdict on one attempt.

    Exactly one of ``data`` and ``error`` is set. ``retryable`` says whether another attempt could succeed;
    ``committed_unknown`` whether the server may have acted on the request although we saw no success.
    """

    data: dict[str, Any] | None = None
    error: OktopostError | None = None
    retryable: bool = False
    committed_unknown: bool = False
    retry_after: float | None = None


def flatten_errors(errors: object) -> tuple[str, ...]:
    """Every message in an ``Errors`` value, whatever its shape, as plain strings."""
    out: list[str] = []

    def walk(value: object, key: str | None) -> None:
        if isinstance(value, dict):
            for inner_key, inner in value.items():
                walk(inner, str(inner_key))
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item, key)
        elif value is not None and value != "":
            out.append(_clean(str(value)))

    walk(errors, None)
    return tuple(out)


def _clean(text: str) -> str:
    text = _WS.sub(" ", _TAGS.sub(" ", text)).strip()
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 3] + "..."


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date); None when absent or garbage."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - now
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return min(max(seconds, 0.0), 86400.0)


def _decode(body: bytes) -> tuple[bool, Any]:
    if not body.strip():
        return False, None
    try:
        return True, json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False, None


def interpret(request: ApiRequest, reply: ApiResponse | TransportFailure, now: float) -> Outcome:
    """Judge one attempt. ``now`` (epoch seconds) is only used to read a date-form ``Retry-After``."""
    where = request.describe()
    error: OktopostError
    if isinstance(reply, TransportFailure):
        error = OktopostTransportError(
            f"{where} failed: {reply.reason}",
            method=request.method,
            path=request.path,
            outcome_unknown=reply.sent,
        )
        return Outcome(error=error, retryable=True, committed_unknown=reply.sent)

    status = reply.status
    parsed, body = _decode(reply.body)
    messages = flatten_errors(body.get("Errors")) if parsed and isinstance(body, dict) else ()
    if not parsed and reply.body.strip() and status >= 400:
        messages = (_clean(reply.body.decode("utf-8", "replace")),)
    detail = "; ".join(messages) if messages else "no error message"
    common: dict[str, Any] = {
        "method": request.method,
        "path": request.path,
        "status": status,
        "errors": messages,
    }
    prefix = f"{where} failed: HTTP {status}"

    if status == 429:
        hint = parse_retry_after(reply.headers.get("retry-after"), now)
        error = OktopostRateLimitError(
            f"{prefix}: rate limited by Oktopost"
            + (
                f"; retry after {hint:.0f}s"
                if hint is not None
                else f"; the API blocks a key for about {DEFAULT_RATE_LIMIT_BLOCK / 60:.0f} minutes "
                "after a burst"
            ),
            retry_after=hint if hint is not None else DEFAULT_RATE_LIMIT_BLOCK,
            **common,
        )
        return Outcome(error=error, retryable=True, retry_after=hint)
    if 500 <= status <= 599:
        error = OktopostServerError(f"{prefix}: {detail}", **common)
        return Outcome(error=error, retryable=True, committed_unknown=True)
    if status in (401, 403):
        advice = (
            "check the Account ID and API key"
            if status == 401
            else "the key's user may not do this, or API access is disabled for the account"
        )
        return Outcome(error=OktopostAuthError(f"{prefix}: {detail} ({advice})", **common))
    if status == 404:
        return Outcome(error=OktopostNotFoundError(f"{prefix}: {detail}", **common))
    if 300 <= status <= 399:
        return Outcome(
            error=OktopostApiError(
                f"{prefix}: unexpected redirect; redirects are not followed so that credentials never "
                "leave the configured host (check the connection's Base URL and region)",
                **common,
            )
        )
    if status >= 400 or status < 200:
        return Outcome(error=OktopostApiError(f"{prefix}: {detail}", **common))

    # 2xx from here on.
    if not parsed or not isinstance(body, dict):
        shape = "an empty body" if not reply.body.strip() else "a body that is not a JSON object"
        error = OktopostTransportError(
            f"{where} failed: HTTP {status} with {shape}", outcome_unknown=True, **common
        )
        return Outcome(error=error, retryable=True, committed_unknown=True)
    if body.get("Result") is False:
        return Outcome(error=OktopostApiError(f"{prefix} with Result false: {detail}", **common))
    return Outcome(data=body)

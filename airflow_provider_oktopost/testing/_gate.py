"""The ASGI layer in front of every ``/v2`` route: faults, auth, rate limit, request log.

It is a raw ASGI middleware rather than FastAPI dependencies because faults need powers that a route
does not have: answering before the request is processed, holding back a response that *was* produced
(``lost_response``), and closing the TCP connection without any HTTP response (``drop``). Order, for
every ``/v2`` request: fault (injected or chaos) -> Basic auth (401/403) -> rate limiter (429) -> route.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, Protocol, cast
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from airflow_provider_oktopost.testing.faults import SYNTHETIC_KINDS, Fault, LoggedRequest
from airflow_provider_oktopost.testing.state import SandboxState

#: Keys the gate adds to the ASGI scope for the routes behind it.
ACCOUNT_SCOPE_KEY = "oktopost.account_id"
FORM_SCOPE_KEY = "oktopost.form"

INVALID_CREDENTIALS: dict[str, Any] = {"Result": False, "Errors": {"API": {"Error": "Invalid credentials"}}}
API_DISABLED: dict[str, Any] = {
    "Result": False,
    "Errors": {"api": {"message": "API access is disabled for this account"}},
}
_MALFORMED_BODY = '{"Result": tru'
_DELAY_TICK = 0.05


class SandboxConnectionDropped(Exception):
    """Raised to abort a response when the server's transport cannot be reached (non-uvicorn servers)."""


class _DropLogFilter(logging.Filter):
    """Hide uvicorn's traceback for a deliberate drop, which would otherwise look like a sandbox bug."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, SandboxConnectionDropped)


class _Closable(Protocol):
    def close(self) -> None: ...

    def is_closing(self) -> bool: ...


def install_log_filter() -> None:
    """Attach ``_DropLogFilter`` to ``uvicorn.error`` once per process."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _DropLogFilter) for f in logger.filters):
        logger.addFilter(_DropLogFilter())


def json_bytes(payload: Any) -> bytes:
    """Compact JSON, like the real API's."""
    return json.dumps(payload, separators=(",", ":")).encode()


def default_error_body(status: int) -> str:
    """Body of an injected ``status`` fault that gave none: what the API would say, as far as we know."""
    if status == 401:
        return json.dumps(INVALID_CREDENTIALS)
    if status == 403:
        return json.dumps(API_DISABLED)
    if status == 429:
        return ""  # the real API's 429 body is unknown; clients must not depend on one
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return json.dumps({"Result": False, "Errors": {"API": {"Error": phrase}}})


def _content_type(body: str) -> bytes:
    text = body.lstrip()
    if text.startswith(("{", "[")):
        return b"application/json"
    return b"text/html; charset=utf-8" if text.startswith("<") else b"text/plain; charset=utf-8"


async def send_response(
    send: Send, status: int, body: bytes, content_type: bytes | None, headers: Mapping[str, str] | None = None
) -> None:
    """Send one complete response (extra ``headers`` win over the defaults)."""
    raw: dict[bytes, bytes] = {b"content-length": str(len(body)).encode()}
    if content_type is not None and body:
        raw[b"content-type"] = content_type
    for name, value in (headers or {}).items():
        raw[name.lower().encode("latin-1")] = value.encode("latin-1")
    await send({"type": "http.response.start", "status": status, "headers": list(raw.items())})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _send_synthetic(send: Send, fault: Fault) -> None:
    """Answer for the API without asking it (``status``, ``malformed``, ``empty``, ``redirect``)."""
    if fault.kind == "redirect":
        headers = {"Location": fault.location or "", **fault.headers}
        await send_response(send, 302, b"", None, headers)
        return
    if fault.kind == "status":
        status = fault.status or 500
        text = default_error_body(status) if fault.body is None else fault.body
    else:
        status = 200
        text = "" if fault.kind == "empty" else (fault.body or _MALFORMED_BODY)
    content_type = b"application/json" if fault.kind != "status" else _content_type(text)
    await send_response(send, status, text.encode(), content_type, fault.headers)


async def drop_connection(send: Send, receive: Receive) -> None:
    """Close the connection without sending any HTTP response.

    Under uvicorn the ``send`` callable is a bound method of its request cycle, whose ``transport`` we
    close: the client then sees the server hang up before a status line, exactly like a reset proxy
    (``requests`` -> ``ConnectionError``; ``httpx`` -> ``RemoteProtocolError``). We then wait for uvicorn
    to notice the disconnect, so that it finishes the cycle silently instead of logging an error. On a
    server without that attribute we fall back to a truncated response plus an exception.
    """
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is not None and callable(getattr(transport, "close", None)):
        cast(_Closable, transport).close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(receive(), timeout=1.0)
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
        }
    )
    await send({"type": "http.response.body", "body": b'{"Result":', "more_body": True})
    raise SandboxConnectionDropped("connection dropped on purpose by an injected fault")


def _basic_credentials(scope: Scope) -> tuple[str | None, str | None]:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() != "basic":
                return None, None
            try:
                user, sep, password = base64.b64decode(token.strip(), validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return None, None
            return (user, password) if sep else (None, None)
    return None, None


def _form(scope: Scope, body: bytes) -> dict[str, str]:
    content_type = dict(scope["headers"]).get(b"content-type", b"").decode("latin-1").lower()
    if not content_type.startswith("application/x-www-form-urlencoded"):
        return {}
    return dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


#: The partner API's root paths (served at the sandbox's root, as on reseller.oktopost.com without /v2).
PARTNER_PATHS = ("/account",)
_MASK = "***"


def is_api_path(path: str) -> bool:
    """``/v2`` and everything under it, and the partner routes (``/account``, ``/account/...``)."""
    return any(path == root or path.startswith(root + "/") for root in ("/v2", *PARTNER_PATHS))


def logged_form(form: dict[str, str]) -> dict[str, str]:
    """The form as the request log keeps it: a new account's password is masked, never stored."""
    from airflow_provider_oktopost.testing._partner_store import SECRET_FIELDS

    return {k: (_MASK if k in SECRET_FIELDS and v else v) for k, v in form.items()}


class ApiGate:
    """ASGI middleware that owns the ``/v2`` request pipeline (see the module docstring)."""

    def __init__(self, app: ASGIApp, state: SandboxState) -> None:
        self.app = app
        self.state = state
        install_log_filter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not is_api_path(path):
            await self.app(scope, receive, send)
            return
        state = self.state
        generation = state.generation
        method: str = scope["method"]
        arrived = state.now()
        body = await _read_body(receive)
        form = _form(scope, body)
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
        fault, from_chaos = state.next_fault(method, path)
        kind = fault.kind if fault else None
        account = _basic_credentials(scope)[0]  # the caller's account id, as the log shows it

        def record(final_status: int | None) -> None:
            entry = LoggedRequest(
                method, path, query, logged_form(form), final_status, kind, arrived, from_chaos, account
            )
            state.log_request(entry, generation)

        async def logged_send(message: Message) -> None:
            # Log before the status line leaves (with an empty body it is the whole response): a client
            # that has its answer must find it in the log.
            if message["type"] == "http.response.start":
                record(int(message["status"]))
            await send(message)

        async def swallow(message: Message) -> None:
            """Where a ``lost_response`` goes: processed, never delivered."""

        if kind == "drop":
            record(None)
            await drop_connection(send, receive)
        elif fault is not None and fault.kind in SYNTHETIC_KINDS:
            await _send_synthetic(logged_send, fault)
        elif fault is not None and kind == "delay" and not await self._wait(fault.delay_seconds, generation):
            await drop_connection(send, receive)  # reset or stop while sleeping: give up, unlogged
        elif kind == "lost_response":
            await self._process(scope, body, form, receive, swallow)
            record(None)
            await drop_connection(send, receive)
        else:
            await self._process(scope, body, form, receive, logged_send)

    async def _wait(self, seconds: float, generation: int) -> bool:
        """Sleep in short ticks so that a reset or a server stop can cut a long delay short."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while (remaining := deadline - loop.time()) > 0:
            await asyncio.sleep(min(_DELAY_TICK, remaining))
            if self.state.generation != generation:
                return False
        return True

    async def _process(
        self, scope: Scope, body: bytes, form: dict[str, str], receive: Receive, send: Send
    ) -> None:
        """Auth, rate limit, then the route (with the body replayed, since the gate consumed it)."""
        username, password = _basic_credentials(scope)
        outcome = self.state.authenticate(username, password)
        if outcome == "unauthorized":
            await send_response(send, 401, json_bytes(INVALID_CREDENTIALS), b"application/json")
            return
        if outcome == "forbidden":
            await send_response(send, 403, json_bytes(API_DISABLED), b"application/json")
            return
        if not self.state.admit_call(password or "", username):
            await send_response(send, 429, b"", None)  # empty body and no Retry-After, like the real API
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        inner = dict(scope)
        inner[ACCOUNT_SCOPE_KEY] = username
        inner[FORM_SCOPE_KEY] = form
        await self.app(inner, replay, send)

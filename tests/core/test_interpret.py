"""Response interpretation: every status and body shape ends in data or the right typed error."""

from __future__ import annotations

import json

import pytest

from airflow_provider_oktopost._core.interpret import (
    DEFAULT_RATE_LIMIT_BLOCK,
    flatten_errors,
    interpret,
    parse_retry_after,
)
from airflow_provider_oktopost._core.wire import ApiRequest, ApiResponse, TransportFailure
from airflow_provider_oktopost.exceptions import (
    OktopostApiError,
    OktopostAuthError,
    OktopostNotFoundError,
    OktopostRateLimitError,
    OktopostServerError,
    OktopostTransportError,
)

GET = ApiRequest("GET", "/integration/014abc")
POST = ApiRequest("POST", "/integration", form=(("type", "cd"),), idempotent=False)


def reply(status: int, body: object = None, raw: bytes | None = None, **headers: str) -> ApiResponse:
    data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
    return ApiResponse(status, data, {k.lower().replace("_", "-"): v for k, v in headers.items()})


@pytest.mark.parametrize(
    ("errors", "expected"),
    [
        ([], ()),
        (["Missing required field: email"], ("Missing required field: email",)),
        ({"API": {"Error": "Campaign not found"}}, ("Campaign not found",)),
        ({"Param": {"get": "Missing value for parameter postId"}}, ("Missing value for parameter postId",)),
        ({"api": {"message": "one"}, "Param": {"get": "two"}}, ("one", "two")),
        ("plain", ("plain",)),
        (None, ()),
        ({"a": [{"b": "deep"}, "x"]}, ("deep", "x")),
    ],
)
def test_flatten_errors_every_shape(errors: object, expected: tuple[str, ...]) -> None:
    assert flatten_errors(errors) == expected


def test_success_returns_data() -> None:
    outcome = interpret(GET, reply(200, {"Result": True, "Integration": {"Id": "014abc"}}), 0)
    assert outcome.data == {"Result": True, "Integration": {"Id": "014abc"}}
    assert outcome.error is None


@pytest.mark.parametrize(
    ("status", "cls", "retryable"),
    [
        (400, OktopostApiError, False),
        (401, OktopostAuthError, False),
        (403, OktopostAuthError, False),
        (404, OktopostNotFoundError, False),
        (409, OktopostApiError, False),
        (429, OktopostRateLimitError, True),
        (500, OktopostServerError, True),
        (502, OktopostServerError, True),
        (503, OktopostServerError, True),
        (504, OktopostServerError, True),
        (302, OktopostApiError, False),
    ],
)
def test_status_maps_to_typed_error(status: int, cls: type, retryable: bool) -> None:
    outcome = interpret(GET, reply(status, {"Result": False, "Errors": {"API": {"Error": "boom"}}}), 0)
    assert isinstance(outcome.error, cls)
    assert outcome.retryable is retryable
    assert outcome.error.status == status
    assert "GET /v2/integration/014abc" in str(outcome.error)
    assert f"HTTP {status}" in str(outcome.error)


def test_result_false_with_http_200_is_an_api_error() -> None:
    body = {"Result": False, "Errors": {"api": {"message": "Invalid value for state: paused"}}}
    outcome = interpret(GET, reply(200, body), 0)
    assert isinstance(outcome.error, OktopostApiError)
    assert "Invalid value for state: paused" in str(outcome.error)
    assert not outcome.retryable


def test_html_502_body_is_flattened_to_text() -> None:
    html = b"<html><head><title>502 Bad Gateway</title></head><body><h1>Bad   Gateway</h1></body></html>"
    outcome = interpret(GET, reply(502, raw=html), 0)
    assert isinstance(outcome.error, OktopostServerError)
    assert "<" not in str(outcome.error)
    assert "Bad Gateway" in str(outcome.error)


def test_rate_limit_without_hint_uses_documented_block() -> None:
    outcome = interpret(GET, reply(429, raw=b""), 0)
    assert isinstance(outcome.error, OktopostRateLimitError)
    assert outcome.error.retry_after == DEFAULT_RATE_LIMIT_BLOCK
    assert outcome.retry_after is None
    assert "15 minutes" in str(outcome.error)


def test_rate_limit_with_retry_after_seconds() -> None:
    outcome = interpret(GET, reply(429, raw=b"", retry_after="7"), 0)
    assert isinstance(outcome.error, OktopostRateLimitError)
    assert outcome.error.retry_after == 7
    assert outcome.retry_after == 7


def test_retry_after_http_date() -> None:
    assert parse_retry_after("Thu, 01 Jan 1970 00:01:40 GMT", now=40.0) == pytest.approx(60.0)
    assert parse_retry_after("garbage", now=0) is None
    assert parse_retry_after("-5", now=0) == 0
    assert parse_retry_after("nan", now=0) is None
    assert parse_retry_after(None, now=0) is None


@pytest.mark.parametrize("raw", [b"", b"   ", b'{"Result": tru', b"[1, 2]", b"\xff\xfe"])
def test_unreadable_2xx_is_transient_with_unknown_outcome(raw: bytes) -> None:
    outcome = interpret(POST, reply(200, raw=raw), 0)
    assert isinstance(outcome.error, OktopostTransportError)
    assert outcome.retryable and outcome.committed_unknown
    assert outcome.error.outcome_unknown


def test_transport_failure_keeps_whether_it_was_sent() -> None:
    sent = interpret(POST, TransportFailure("read timeout", sent=True), 0)
    unsent = interpret(POST, TransportFailure("refused", sent=False), 0)
    assert sent.committed_unknown and not unsent.committed_unknown
    assert isinstance(sent.error, OktopostTransportError) and sent.retryable


def test_5xx_outcome_is_unknown_for_creates() -> None:
    assert interpret(POST, reply(503, raw=b""), 0).committed_unknown


def test_long_server_text_is_truncated() -> None:
    outcome = interpret(GET, reply(400, {"Result": False, "Errors": ["x" * 5000]}), 0)
    assert outcome.error is not None
    assert len(str(outcome.error)) < 500

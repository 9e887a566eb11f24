"""The fault table of the fault matrix (``test_fault_matrix.py``): each fault, aimed at a component's main
request, with its category, and the outcome the issue requires of each kind of component under it."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fault_components import Component

from airflow_provider_oktopost.exceptions import (
    OktopostApiError,
    OktopostAuthError,
    OktopostError,
    OktopostNotFoundError,
)
from airflow_provider_oktopost.testing import Fault
from airflow_provider_oktopost.testing.faults import BAD_GATEWAY_HTML

OK, PERMANENT, RATE = "ok", "permanent", "rate"


@dataclass(frozen=True)
class Case:
    name: str
    description: str
    category: str
    #: Faults aimed at the component's main request (method, path regex); None for the blocked key.
    faults: Callable[[str, str], list[Fault]] | None
    times: int = 0
    error: type[OktopostError] | None = None
    timeout: float | None = None


def _status(
    code: int, times: int, body: str | None = None, **headers: str
) -> Callable[[str, str], list[Fault]]:
    return lambda m, p: [
        Fault(kind="status", status=code, method=m, path=p, times=times, body=body, headers=headers)
    ]


def _kind(kind: str, times: int, **kw: Any) -> Callable[[str, str], list[Fault]]:
    return lambda m, p: [Fault(kind=kind, method=m, path=p, times=times, **kw)]  # type: ignore[arg-type]


def _errors(message: str) -> str:
    return json.dumps({"Result": False, "Errors": {"api": {"message": message}}})


CASES = [
    Case("500", "HTTP 500 twice", OK, _status(500, 2), 2),
    Case("502-html", "HTTP 502 with an HTML body, twice", OK, _status(502, 2, BAD_GATEWAY_HTML), 2),
    Case("503", "HTTP 503 twice", OK, _status(503, 2), 2),
    Case("504", "HTTP 504 twice", OK, _status(504, 2), 2),
    Case(
        "429-retry-after",
        "429 with Retry-After: 2, twice",
        OK,
        _status(429, 2, "", **{"Retry-After": "2"}),
        2,
    ),
    Case(
        "429-no-hint",
        "429 without Retry-After (the documented 15-minute block: recorded, never retried within seconds)",
        RATE,
        _status(429, 1, ""),
        1,
    ),
    Case("blocked-key", "sandbox rate limiter: key blocked for 15 minutes", RATE, None),
    Case("drop-before-commit", "connection dropped before the server acted, twice", OK, _kind("drop", 2), 2),
    Case("drop-after-commit", "server acted, response lost, twice", OK, _kind("lost_response", 2), 2),
    Case(
        "read-timeout",
        "response after 1.5s with a 0.25s client timeout (server acts late)",
        OK,
        _kind("delay", 1, delay_seconds=1.5),
        1,
        timeout=0.25,
    ),
    Case("malformed-json", "HTTP 200 with malformed JSON, twice", OK, _kind("malformed", 2), 2),
    Case("empty-body", "HTTP 200 with an empty body, twice", OK, _kind("empty", 2), 2),
    Case(
        "200-result-false",
        "HTTP 200 with Result false",
        PERMANENT,
        _status(200, 1, _errors("Denied")),
        1,
        OktopostApiError,
    ),
    Case("401", "HTTP 401", PERMANENT, _status(401, 1, _errors("Invalid key")), 1, OktopostAuthError),
    Case("403", "HTTP 403", PERMANENT, _status(403, 1, _errors("No permission")), 1, OktopostAuthError),
    Case("404", "HTTP 404", PERMANENT, _status(404, 1, _errors("Not found")), 1, OktopostNotFoundError),
    Case(
        "redirect",
        "302 to another host",
        PERMANENT,
        _kind("redirect", 1, location="https://evil.example.com/v2/integration"),
        1,
        OktopostApiError,
    ),
]


def expected_outcome(case: Case, component: Component) -> str:
    """What the issue requires, as a regular expression over the observed label."""
    if case.category == OK:
        # A deferrable sensor defers at once (no call from the worker); the triggerer reads it.
        if component.family == "deferrable":
            return r"deferred to the triggerer \(no worker slot held\), then succeeded"
        return "succeeded"
    if case.category == PERMANENT:
        assert case.error is not None
        if component.family == "client":
            return f"raised {case.error.__name__}"
        return "failed at once: AirflowFailException"
    return {
        "client": "raised OktopostRateLimitError",
        "operator": r"deferred to the triggerer x\d+ \(no worker slot held\), then succeeded",
        "poke": r"kept poking \(\d+ pokes\), then succeeded",
        "reschedule": r"rescheduled x\d+ \(worker slot released\), then succeeded",
        "deferrable": r"deferred to the triggerer \(no worker slot held\), then succeeded",
    }[component.family]

"""Issue 6, fault matrix: one table of faults, run against the hook, the async client, every operator and
the sensor in each mode, over real HTTP against the sandbox (time patched, not the network).

For every (case, component) the test asserts the outcome (retried and succeeded / failed at once with the
right typed error / waited without holding a worker slot), the sandbox's final state (nothing created twice,
nothing lost) and the number of requests (bounded, with backoff between retries). Each row is recorded for
``docs/reliability-results.md``.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from airflow.providers.common.compat.sdk import AirflowFailException, TaskDeferred
from reliability_support import Results, set_connection
from support import SimClock

from airflow_provider_oktopost.exceptions import (
    OktopostApiError,
    OktopostAuthError,
    OktopostError,
    OktopostNotFoundError,
)
from airflow_provider_oktopost.hooks.oktopost import OktopostHook
from airflow_provider_oktopost.hooks.oktopost_async import OktopostAsyncClient
from airflow_provider_oktopost.operators.oktopost import (
    OktopostConnectIntegrationOperator,
    OktopostDeleteIntegrationOperator,
    OktopostListIntegrationsOperator,
    OktopostUpdateIntegrationOperator,
)
from airflow_provider_oktopost.sensors.oktopost import OktopostIntegrationSensor
from airflow_provider_oktopost.testing import Fault, OktopostSandbox
from airflow_provider_oktopost.testing.faults import BAD_GATEWAY_HTML

CNAME = "0CNreliability1"
SEED_CNAME = "0CNseed00000001"
MAX_RETRIES = 3  # the connection default
POKE_INTERVAL = 300.0


# ---- the fault table -----------------------------------------------------------------------------------

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
    Case("429-no-hint", "429 without Retry-After, 4 times (> retry budget)", RATE, _status(429, 4, ""), 4),
    Case("blocked-key", "sandbox rate limiter: key blocked for 15 minutes", RATE, None),
    Case("drop-before-commit", "connection dropped before the server acted, twice", OK, _kind("drop", 2), 2),
    Case("drop-after-commit", "server acted, response lost, twice", OK, _kind("lost_response", 2), 2),
    Case(
        "read-timeout",
        "response after 0.5s with a 0.25s client timeout (server acts late)",
        OK,
        _kind("delay", 1, delay_seconds=0.5),
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


# ---- the components ------------------------------------------------------------------------------------


class FakeTI:
    try_number = 1

    def __init__(self) -> None:
        self.xcoms: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[key] = value

    def get_first_reschedule_date(self, context: Any) -> None:
        return None


def _ctx() -> Any:
    return {"ti": FakeTI()}


async def _events(trigger: Any) -> list[dict[str, Any]]:
    return [event.payload async for event in trigger.run()]


def _run_operator(op: Any) -> str:
    context = _ctx()
    deferrals = 0
    try:
        op.execute(context)
    except TaskDeferred as deferred:
        event = deferred
        while True:
            deferrals += 1
            assert type(event.trigger).__name__ == "OktopostWaitTrigger"
            assert event.method_name == "resume_after_rate_limit"
            [payload] = asyncio.run(_events(event.trigger))
            try:
                op.resume_after_rate_limit(context, payload)
                break
            except TaskDeferred as again:
                event = again
    except AirflowFailException:
        return "failed at once: AirflowFailException"
    if deferrals:
        return f"deferred to the triggerer x{deferrals} (no worker slot held), then succeeded"
    return "succeeded"


def _run_hook(call: Callable[[], Any]) -> str:
    try:
        call()
    except OktopostError as error:
        return f"raised {type(error).__name__}"
    return "succeeded"


class _CountingSensor(OktopostIntegrationSensor):
    pokes = 0

    def poke(self, context: Any) -> Any:
        type(self).pokes += 1
        return super().poke(context)


def _sensor(seed: str, **kwargs: Any) -> _CountingSensor:
    _CountingSensor.pokes = 0
    return _CountingSensor(
        task_id="wait", integration_id=seed, poke_interval=POKE_INTERVAL, timeout=7200, **kwargs
    )


def _run_sensor_poke(sb: OktopostSandbox, sim: SimClock, seed: str) -> str:
    sensor = _sensor(seed, mode="poke")
    try:
        result = sensor.execute(_ctx())
    except AirflowFailException:
        return "failed at once: AirflowFailException"
    assert result["id"] == seed
    if _CountingSensor.pokes > 1:
        return f"kept poking ({_CountingSensor.pokes} pokes), then succeeded"
    return "succeeded"


def _run_sensor_reschedule(sb: OktopostSandbox, sim: SimClock, seed: str) -> str:
    rescheduled = 0
    while True:
        sensor = _sensor(seed, mode="reschedule")
        try:
            result = sensor.execute(_ctx())
            break
        except AirflowFailException:
            return "failed at once: AirflowFailException"
        except Exception as exc:
            if type(exc).__name__ != "AirflowRescheduleException" or rescheduled >= 10:
                raise
            rescheduled += 1
            sim.sleep(POKE_INTERVAL)  # the scheduler brings the task back after poke_interval
    assert result["id"] == seed
    if rescheduled:
        return f"rescheduled x{rescheduled} (worker slot released), then succeeded"
    return "succeeded"


def _run_sensor_deferrable(sb: OktopostSandbox, sim: SimClock, seed: str) -> str:
    sensor = _sensor(seed, deferrable=True)
    try:
        result = sensor.execute(_ctx())
    except AirflowFailException:
        return "failed at once: AirflowFailException"
    except TaskDeferred as deferred:
        assert type(deferred.trigger).__name__ == "OktopostIntegrationTrigger"
        [event] = asyncio.run(_events(deferred.trigger))
        result = sensor.execute_complete(_ctx(), event)
        assert result["id"] == seed
        return "deferred to the triggerer (no worker slot held), then succeeded"
    assert result["id"] == seed
    return "succeeded"


@dataclass(frozen=True)
class Component:
    name: str
    method: str
    path: str  # regex; "{seed}" is replaced by the seeded integration's Id
    effect: str  # read | connect | update | delete
    run: Callable[[OktopostSandbox, SimClock, str], str]
    family: str  # client | operator | poke | reschedule | deferrable
    baseline: int = 1
    extra: dict[str, Any] = field(default_factory=dict)


def _async_read(sb: OktopostSandbox, sim: SimClock, seed: str) -> str:
    async def go() -> str:
        try:
            async with await OktopostAsyncClient.from_conn_id() as client:
                await client.get_integration(seed)
        except OktopostError as error:
            return f"raised {type(error).__name__}"
        return "succeeded"

    return asyncio.run(go())


COMPONENTS = [
    Component(
        "OktopostHook.get_integration",
        "GET",
        "/v2/integration/{seed}",
        "read",
        lambda sb, sim, seed: _run_hook(lambda: OktopostHook().get_integration(seed)),
        "client",
    ),
    Component(
        "OktopostHook.connect_integration",
        "POST",
        "/v2/integration",
        "connect",
        lambda sb, sim, seed: _run_hook(lambda: OktopostHook().connect_integration("cd", CNAME)),
        "client",
    ),
    Component(
        "OktopostAsyncClient.get_integration", "GET", "/v2/integration/{seed}", "read", _async_read, "client"
    ),
    Component(
        "ConnectIntegrationOperator",
        "POST",
        "/v2/integration",
        "connect",
        lambda sb, sim, seed: _run_operator(
            OktopostConnectIntegrationOperator(
                task_id="t", integration_type="cd", cname_id=CNAME, deferrable=True
            )
        ),
        "operator",
        baseline=3,
    ),
    Component(
        "UpdateIntegrationOperator",
        "POST",
        "/v2/integration/{seed}",
        "update",
        lambda sb, sim, seed: _run_operator(
            OktopostUpdateIntegrationOperator(
                task_id="t", integration_id=seed, state="disabled", deferrable=True
            )
        ),
        "operator",
    ),
    Component(
        "DeleteIntegrationOperator",
        "DELETE",
        "/v2/integration/{seed}",
        "delete",
        lambda sb, sim, seed: _run_operator(
            OktopostDeleteIntegrationOperator(task_id="t", integration_id=seed, deferrable=True)
        ),
        "operator",
    ),
    Component(
        "ListIntegrationsOperator",
        "GET",
        "/v2/integration",
        "read",
        lambda sb, sim, seed: _run_operator(OktopostListIntegrationsOperator(task_id="t", deferrable=True)),
        "operator",
    ),
    Component("IntegrationSensor (poke)", "GET", "/v2/integration/{seed}", "read", _run_sensor_poke, "poke"),
    Component(
        "IntegrationSensor (reschedule)",
        "GET",
        "/v2/integration/{seed}",
        "read",
        _run_sensor_reschedule,
        "reschedule",
    ),
    Component(
        "IntegrationSensor (deferrable)",
        "GET",
        "/v2/integration/{seed}",
        "read",
        _run_sensor_deferrable,
        "deferrable",
    ),
]


def expected_outcome(case: Case, component: Component) -> str:
    """What the issue requires, as a regular expression over the observed label."""
    if case.category == OK:
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


def _readable(pattern: str) -> str:
    return pattern.replace(r"x\d+", "xN").replace(r"\d+", "N").replace("\\(", "(").replace("\\)", ")")


def _block_key(sb: OktopostSandbox) -> None:
    """Go over the sandbox's burst limit once so that the key is blocked for 15 minutes."""
    sb.configure(rate_limit_per_minute=5, block_seconds=900)
    for _ in range(6):
        requests.get(f"{sb.base_url}/me", auth=(sb.account_id, sb.api_key), timeout=5)
    assert requests.get(f"{sb.base_url}/me", auth=(sb.account_id, sb.api_key), timeout=5).status_code == 429
    sb.clear_requests()


def _state(sb: OktopostSandbox, seed: str) -> tuple[str, dict[str, Any] | None, int]:
    items = sb.integrations
    seeded = next((i for i in items if i["Id"] == seed), None)
    created = sum(1 for i in items if i["CnameId"] == CNAME)
    text = f"seed {'absent' if seeded is None else seeded['State']}; created {created}"
    return text, seeded, created


def _results_keys() -> set[tuple[str, ...]]:
    return {(c.name, k.name) for c in CASES for k in COMPONENTS}


@pytest.fixture(scope="module", autouse=True)
def _expect_rows(results: Results) -> None:
    results.expect("faults", _results_keys())


@pytest.mark.parametrize("component", COMPONENTS, ids=[c.name for c in COMPONENTS])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_fault_matrix(
    case: Case,
    component: Component,
    rsandbox: OktopostSandbox,
    sim_clock: SimClock,
    monkeypatch: pytest.MonkeyPatch,
    results: Results,
) -> None:
    sb, sim = rsandbox, sim_clock
    seed = sb.add_integration("cd", SEED_CNAME)["Id"]
    method, path = component.method, component.path.replace("{seed}", re.escape(seed))
    if case.timeout is not None:
        set_connection(sb, monkeypatch, timeout=case.timeout)
        sim.real_sleep_cap = 1.0  # the slow request must really finish on the server before we look
    if case.faults is None:
        _block_key(sb)
    else:
        sb.inject(*case.faults(method, path))

    observed = component.run(sb, sim, seed)

    # 1. The outcome.
    expected = expected_outcome(case, component)
    assert re.fullmatch(expected, observed), (observed, expected)

    # 2. The final state: nothing created twice, nothing lost, nothing changed by a refused request.
    state_text, seeded, created = _state(sb, seed)
    succeeded = observed.endswith("succeeded")
    if component.effect == "connect":
        assert created == (1 if succeeded else 0)
        assert seeded is not None and seeded["State"] == "active"
    elif component.effect == "update":
        assert seeded is not None and seeded["State"] == ("disabled" if succeeded else "active")
    elif component.effect == "delete":
        assert (seeded is None) == succeeded
    else:
        assert seeded is not None and seeded["State"] == "active" and created == 0
    assert len(sb.integrations) == 1 + created - (1 if seeded is None else 0)

    # 3. The requests: bounded, and spaced out by backoff.
    total = sb.count()
    target = sb.count(method, path)
    waits = [round(s, 3) for s in sim.slept if s > 0]
    if case.category == PERMANENT:
        assert target == 1 and waits == []  # failed on the first answer, no retry
        last = sb.requests[-1]
        assert last.method == method and re.fullmatch(path, last.path)
    elif case.category == OK:
        assert target <= case.times + 1
        assert total <= component.baseline + 2 * case.times
        assert len(waits) >= target - 1  # every re-send came after a wait
    else:
        # Per wait (deferral, reschedule or poke): at most one request plus MAX_RETRIES retries.
        assert total <= component.baseline + 4 * (MAX_RETRIES + 1)
    backoff = [s for s in waits if s <= 60]
    assert all(s <= 60 for s in backoff)
    if case.name == "drop-after-commit" and component.effect == "connect":
        # The first POST was committed and found by the listing: it is never sent again, so the second
        # armed fault is never reached.
        assert target == 1
    else:
        assert sb.pending_faults == []

    results.record(
        "faults",
        (case.name, component.name),
        {
            "_order": (CASES.index(case), COMPONENTS.index(component)),
            "case": f"{case.name}: {case.description}",
            "component": component.name,
            "expected": _readable(expected),
            "observed": observed,
            "requests": f"{total} ({target} to {method} {component.path.replace('{seed}', '{id}')})",
            "backoff waits": _waits(waits),
            "final sandbox state": state_text,
        },
    )


def _waits(waits: list[float]) -> str:
    """Deterministic summary (jittered backoff values vary run to run; their count and bounds do not)."""
    if not waits:
        return "none"
    short = [w for w in waits if w <= 60]
    long = [w for w in waits if w > 60]
    parts = []
    if short:
        parts.append(f"{len(short)} backoff wait(s) <= 60s")
    if long:
        parts.append(f"{len(long)} long wait(s) {min(long):.0f}-{max(long):.0f}s outside the worker")
    return "; ".join(parts)

"""Issue 6, fault matrix: one table of faults, run against the hook, the async client, every operator and
the sensor in each mode, over real HTTP against the sandbox (time patched, not the network).

For every (case, component) the test asserts the outcome (retried and succeeded / failed at once with the
right typed error / waited without holding a worker slot), the sandbox's final state (nothing created twice,
nothing lost) and the number of requests (bounded, with backoff between retries). Each row is recorded for
``docs/reliability-results.md``. The fault table is in ``fault_cases.py``, the components in
``fault_components.py``.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests
from fault_cases import CASES, OK, PERMANENT, Case, expected_outcome
from fault_components import CNAME, COMPONENTS, Component
from reliability_support import Results, set_connection
from support import SimClock

from airflow_provider_oktopost.testing import OktopostSandbox

SEED_CNAME = "0CNseed00000001"
MAX_RETRIES = 3  # the connection default


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

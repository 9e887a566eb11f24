"""Issue 6, fault matrix: one table of faults, run against the hook, the async client, every operator and
the sensor in each mode, over real HTTP against the sandbox (time patched, not the network).

For every (case, component) the test asserts the outcome (retried and succeeded / failed at once with the
right typed error / waited without holding a worker slot), the sandbox's final state (nothing created twice,
nothing lost) and the number of requests (bounded, with backoff between retries). Each row is recorded for
``docs/reliability-results.md``. The fault table is in ``fault_cases.py``, the components in
``fault_components.py``.
"""

from __future__ import annotations

import itertools
import random
import re
import zlib
from typing import Any

import pytest
import requests
from fault_cases import CASES, OK, PERMANENT, Case, expected_outcome
from fault_components import CNAME, COMPONENTS, Component
from fault_waits import BACKOFF, DEFERRAL, Wait, WaitLog, summary, wait_until
from reliability_support import Results, set_connection
from support import SimClock

from airflow_provider_oktopost._core import config as core_config
from airflow_provider_oktopost._core.exactly_once import LOST_CREATE_LOOKS
from airflow_provider_oktopost._core.retry import RetryPolicy
from airflow_provider_oktopost.testing import OktopostSandbox
from airflow_provider_oktopost.triggers.oktopost import SETTLE_SECONDS

SEED_CNAME = "0CNseed00000001"
MAX_RETRIES = 3  # the connection default
MAX_WAIT = 60.0  # the longest wait the client sleeps itself (RetryPolicy.max_wait)


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
    jitter_seed = zlib.crc32(f"{case.name}/{component.name}".encode())
    monkeypatch.setattr(
        core_config, "RetryPolicy", lambda **kw: RetryPolicy(rng=random.Random(jitter_seed), **kw)
    )
    log = WaitLog(sim, sb).install(monkeypatch)
    if case.timeout is not None:
        set_connection(sb, monkeypatch, timeout=case.timeout)
        # Before any wait ends, the slow request must really have finished on the server (the test
        # decides, no timing margin): the delayed request is the first one sent to the target.
        log.settle = lambda: wait_until(lambda: sb.count(method, path) >= 1)
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

    # 3. The requests and the waits, in order.
    total = sb.count()
    target = sb.count(method, path)
    waits = log.waits
    requests_sent = [(r.method, r.path) for r in sb.requests]
    _check_waits(case, method, path, requests_sent, waits)
    if component.family == "deferrable":
        # The deferrable sensor defers at once, before any request (no call from the worker); what the
        # rules below say of a worker's attempt applies to the trigger's attempt that follows.
        assert waits and waits[0].kind == DEFERRAL and waits[0].after_requests == 0, waits
        waits = waits[1:]
        # A success within SETTLE_SECONDS of the trigger's start is held until then, after the last request
        # (Airflow can fail a task whose trigger fires within seconds of its deferral): not a retry wait.
        settle = [w for w in waits if w.after_requests == len(requests_sent) and w.seconds <= SETTLE_SECONDS]
        waits = [w for w in waits if w not in settle[-1:]]
    if case.category == PERMANENT:
        assert target == 1 and waits == []  # failed on the first answer, no retry
        last = sb.requests[-1]
        assert last.method == method and re.fullmatch(path, last.path)
    elif case.category == OK:
        assert target <= case.times + 1
        # Each failure that may have committed a create costs LOST_CREATE_LOOKS listings (issue 10).
        assert total <= component.baseline + (1 + LOST_CREATE_LOOKS) * case.times
        assert all(w.kind == BACKOFF for w in waits), waits  # retried in place, nothing deferred
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
            "waits": summary(waits),
            "final sandbox state": state_text,
        },
    )


def _check_waits(
    case: Case, method: str, path: str, requests_sent: list[tuple[str, str]], waits: list[Wait]
) -> None:
    """What docs/reliability.md promises, per wait and in order.

    - No backoff wait is above ``MAX_WAIT`` (a longer wait belongs to a deferral, a reschedule or a poke
      interval, which the scheduler or the user's ``poke_interval`` decides).
    - The waits that are not backoff (poke interval, reschedule, deferral, poll interval) split the run
      into attempts; in each attempt at most one request plus ``MAX_RETRIES`` retries go to the target,
      with at most ``MAX_RETRIES`` backoff waits (``LOST_CREATE_LOOKS`` per retry for a create).
    - Within an attempt, every re-send of the target request comes after a backoff wait: between two
      requests to the target there is one that ended after the first was answered and before the second
      was. (A deferred task's trigger starts a new attempt in the triggerer: the hand-off is recorded as
      a 0 s deferral.)
    """
    for w in waits:
        if w.kind == BACKOFF:
            assert w.seconds <= MAX_WAIT, w
    targets = [i for i, (m, p) in enumerate(requests_sent) if m == method and re.fullmatch(path, p)]
    for first, second in itertools.pairwise(targets):
        between = [w for w in waits if first < w.after_requests <= second]
        if any(w.kind != BACKOFF for w in between):
            continue  # a new attempt (poke, reschedule, deferral)
        assert between, (f"request {second} re-sent without a backoff wait after request {first}", waits)
    cuts = [0, *(w.after_requests for w in waits if w.kind != BACKOFF), len(requests_sent) + 1]
    for start, end in itertools.pairwise(cuts):
        in_attempt = [i for i in targets if start <= i < end]
        backoffs = [w for w in waits if w.kind == BACKOFF and start < w.after_requests <= end]
        assert len(in_attempt) <= 1 + MAX_RETRIES, (case.name, start, end, in_attempt, waits)
        # A create whose answer was lost is looked for LOST_CREATE_LOOKS times, each after a wait (issue 10).
        per_retry = (
            LOST_CREATE_LOOKS if method == "POST" and path in (r"/v2/integration", r"/v2/cname") else 1
        )
        assert len(backoffs) <= MAX_RETRIES * per_retry, (case.name, start, end, backoffs)

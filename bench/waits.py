"""Waits at scale: 1,000 concurrent integration waits in one event loop (as in one triggerer).

Modes (each in a fresh process, ``python bench/waits.py MODE``):

- ``poller``: ``OktopostIntegrationTrigger.run()`` as shipped (one coalesced poller per account), against
  the sandbox enforcing Oktopost's 60 calls/min and the default client budget;
- ``baseline``: the trigger's previous loop, one ``GET /v2/integration/{id}`` per trigger per interval
  with its own ``httpx`` pool, with the sandbox's limit and the client budget off, so that what it sends is
  what the old behaviour asks for (a limit would cap it and hide the demand).

Time is scaled: the provider clock (``_core.clock``) and the sandbox clock run ``BENCH_TIME_FACTOR``
(poller, default 20) or ``BENCH_BASELINE_TIME_FACTOR`` (baseline, default 5: it sends far more requests
per simulated second) times faster than real time. Scaling distorts whatever takes real time: a loop
stall of ``x`` real seconds is ``x * factor`` simulated seconds. So the baseline's 1,000 clients and
their ``httpx`` pools (each loading a TLS context) are created *before* the scaled clock starts; the
poller builds its one client and pool itself, inside the timed run (``clients_before_clock`` records
which, for the report). The run records, per side, how long each request took in simulated seconds
(from sending to the answer) and the loop lag: the report prints both, so the distortion is a measured figure.
The connection lookup is resolved once and cached for both modes (it is not what is measured).
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import random
import sys
import time
from typing import Any

from common import LoopLag, ScaledClock, emit, median, percentile, rss_mb

from airflow_provider_oktopost._core import clock
from airflow_provider_oktopost.testing import OktopostSandbox

N = int(os.environ.get("BENCH_WAITS_N", "1000"))
FACTOR = float(os.environ.get("BENCH_TIME_FACTOR", "20"))
BASELINE_FACTOR = float(os.environ.get("BENCH_BASELINE_TIME_FACTOR", "5"))
POLL = 30.0  # the example DAGs' poke_interval
READY_FROM, READY_TO = 10.0, 240.0  # integrations become valid at random moments in this window
CAP = 420.0  # every wait's end_time (simulated seconds after the start)


async def old_trigger_loop(client: Any, integration_id: str, end_time: float) -> tuple[str, float]:
    """The trigger's run() before the poller: its own pool, one read per interval (events reduced)."""
    from airflow_provider_oktopost.exceptions import (
        PERMANENT_ERRORS,
        TRANSIENT_ERRORS,
        OktopostRateLimitError,
    )

    async with client:
        while True:
            if clock.wall() >= end_time:
                return "timeout", clock.wall()
            wait = POLL
            sent = clock.wall()
            try:
                integration = await client.get_integration(integration_id)
            except PERMANENT_ERRORS:
                return "error", clock.wall()
            except TRANSIENT_ERRORS as error:
                if isinstance(error, OktopostRateLimitError):
                    wait = max(wait, error.retry_after)
            else:
                if integration.matches("valid", "active"):
                    return "success", clock.wall()
            finally:
                LATENCIES.append(clock.wall() - sent)
            await clock.async_sleep(max(0.0, min(wait, end_time - clock.wall())))


LATENCIES: list[float] = []  # simulated seconds from sending a request to its answer


class GcPauses:
    """The garbage collector's pauses (real seconds) while installed: a collection of the oldest generation
    walks every object of the process (Airflow's, the in-process sandbox's), so it can stall the loop
    whatever the triggers do. Recorded so the report can say how much of the loop lag they were."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float]] = []  # (generation, seconds)
        self._started = 0.0

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses.append((int(info["generation"]), time.perf_counter() - self._started))

    def __enter__(self) -> GcPauses:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)


async def new_trigger(integration_id: str, end_time: float) -> tuple[str, float]:
    from airflow_provider_oktopost.triggers.oktopost import OktopostIntegrationTrigger

    trigger = OktopostIntegrationTrigger(integration_id, poll_interval=POLL, end_time=end_time)
    async for event in trigger.run():
        return str(event.payload["status"]), clock.wall()
    return "none", clock.wall()


async def scenario(mode: str) -> dict[str, Any]:
    import logging

    logging.disable(logging.WARNING)  # 1,000 waits log every reading at INFO; keep the output readable
    from airflow_provider_oktopost.hooks import oktopost_async

    poller = mode == "poller"
    factor = FACTOR if poller else BASELINE_FACTOR
    sandbox_limit = 60 if poller else None
    sandbox = OktopostSandbox(rate_limit_per_minute=sandbox_limit).start()
    conn = sandbox.connection_dict()
    if not poller:
        conn["extra"] = {"rate_limit_per_minute": 1_000_000}
    os.environ["AIRFLOW_CONN_OKTOPOST_DEFAULT"] = json.dumps(conn)
    config = await oktopost_async.aget_client_config("oktopost_default")

    async def cached(conn_id: str, **kwargs: Any) -> Any:
        return config

    oktopost_async.aget_client_config = cached  # type: ignore[assignment]
    ids = [sandbox.add_integration(status="invalid")["Id"] for _ in range(N)]
    setup0 = time.perf_counter()
    clients = [] if poller else [oktopost_async.OktopostAsyncClient(config) for _ in ids]
    setup_real = time.perf_counter() - setup0
    rng = random.Random(42)
    scaled = ScaledClock(factor)
    scaled.install(sandbox)
    start = scaled.wall()
    ready_at = {i: start + rng.uniform(READY_FROM, READY_TO) for i in ids}
    sandbox.clear_requests()

    async def make_ready() -> None:
        # The server's side of the story: the sandbox's state is changed from a thread, as Oktopost's
        # would change on its own machines, not by the triggerer's event loop that is being measured.
        for integration_id, moment in sorted(ready_at.items(), key=lambda item: item[1]):
            await clock.async_sleep(moment - clock.wall())
            await asyncio.to_thread(sandbox.set_status, integration_id, "valid")

    if poller:
        # Airflow's triggerer imports a trigger's class when it loads the trigger, before run(): so here.
        import airflow_provider_oktopost.triggers.oktopost  # noqa: F401

    rss0 = rss_mb()
    lag = LoopLag()
    lag.start()
    objects_at_start = len(gc.get_objects())
    real0 = time.perf_counter()
    with GcPauses() as collector:
        readiness = asyncio.ensure_future(make_ready())
        if poller:
            results = await asyncio.gather(*(new_trigger(i, start + CAP) for i in ids))
        else:
            results = await asyncio.gather(
                *(old_trigger_loop(c, i, start + CAP) for c, i in zip(clients, ids, strict=True))
            )
    real = time.perf_counter() - real0
    lag.stop()
    readiness.cancel()
    delays = [t - ready_at[i] for i, (status, t) in zip(ids, results, strict=True) if status == "success"]
    statuses = [status for status, _ in results]
    figures = {
        "mode": mode,
        "waits": N,
        "time_factor": factor,
        "poll_interval_s": POLL,
        "ready_from_s": READY_FROM,
        "ready_to_s": READY_TO,
        "deadline_s": CAP,
        "sandbox_limit_per_min": sandbox_limit or "off",
        "client_budget_per_min": config.rate_limit_per_minute if poller else "off",
        "clients_before_clock": len(clients),
        "setup_real_s": round(setup_real, 2),
        "simulated_s": round(clock.wall() - start, 1),
        "real_s": round(real, 1),
        "api_calls": sandbox.count(),
        "list_calls": sandbox.count("GET", r"/v2/integration"),
        "get_calls": sandbox.count("GET", r"/v2/integration/[^/]+"),
        "http_429": sum(1 for r in sandbox.requests if r.status == 429),
        "succeeded": statuses.count("success"),
        "timed_out": statuses.count("timeout"),
        "errors": statuses.count("error"),
        "detect_delay_median_s": round(median(delays), 1),
        "detect_delay_max_s": round(max(delays), 1) if delays else None,
        "added_rss_mb": round(lag.peak_rss - rss0, 1),
        "loop_lag_max_ms": round(1000 * max(lag.lags), 1) if lag.lags else None,
        "loop_lag_p99_ms": round(1000 * percentile(lag.lags, 0.99), 1),
        "gc_objects_at_start": objects_at_start,
        "gc_full_collections": sum(1 for generation, _ in collector.pauses if generation == 2),
        "gc_pauses_over_20ms": sum(1 for _, seconds in collector.pauses if seconds > 0.02),
        "gc_pause_max_ms": round(1000 * max((s for _, s in collector.pauses), default=0.0), 1),
        "lags_over_20ms": sum(1 for lag_s in lag.lags if lag_s > 0.02),
        "loop_lag_max_simulated_s": round(max(lag.lags) * factor, 2) if lag.lags else None,
        "request_latency_median_s": round(median(LATENCIES), 2) if LATENCIES else None,
        "request_latency_max_s": round(max(LATENCIES), 2) if LATENCIES else None,
    }
    sandbox.stop()
    return figures


def main() -> None:
    mode = sys.argv[1]
    figures = asyncio.run(scenario(mode))
    print(json.dumps(figures, indent=1))
    emit("waits", **figures)


if __name__ == "__main__":
    main()
